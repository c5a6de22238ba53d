package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/demo"
)

// demoProc is `probed demo` running as a subprocess.
type demoProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	token  string
	dir    string
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func (p *demoProc) call(method, path string, body any, out any) int {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		p.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (p *demoProc) mails() []demo.Mail {
	var mails []demo.Mail
	p.call(http.MethodGet, "/demo/mail", nil, &mails)
	return mails
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDemo runs `probed demo` and reads the URLs and token it prints.
func startDemo(t *testing.T) *demoProc {
	bin := buildProbed(t)
	addr := freeAddr(t)
	p := &demoProc{t: t, base: "http://" + addr}
	p.cmd = exec.Command(bin, "demo", "-listen", addr, "-interval", "1s")
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("demo stdout:\n%s\ndemo stderr:\n%s", p.stdout.String(), p.stderr.String())
			p.mu.Unlock()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			lines <- sc.Text()
		}
		close(lines)
	}()
	tokenRE := regexp.MustCompile(`PROBED_TOKEN=(\S+)`)
	dirRE := regexp.MustCompile(`^\s+Folder\s+(\S+)`)
	deadline := time.After(60 * time.Second)
	for p.token == "" || p.dir == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("probed demo exited before printing its token")
			}
			if m := tokenRE.FindStringSubmatch(l); m != nil {
				p.token = m[1]
			}
			if m := dirRE.FindStringSubmatch(l); m != nil {
				p.dir = m[1]
			}
		case <-deadline:
			t.Fatalf("probed demo printed no token within 60s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestDemoEndToEnd drives the whole loop on `probed demo`: probe fails →
// draft with evidence → approve → page and mail to the OCSP subscribers
// only → recover → resolve proposal → resolve → resolved mail.
func TestDemoEndToEnd(t *testing.T) {
	p := startDemo(t)

	// It comes up with every component operational and every probe passing.
	eventually(t, "all components operational and probes up", func() (bool, string) {
		var comps struct {
			Components []struct{ ID, Status string } `json:"components"`
		}
		if p.call(http.MethodGet, "/api/v2/components.json", nil, &comps) != 200 || len(comps.Components) == 0 {
			return false, "no components"
		}
		for _, c := range comps.Components {
			if c.Status != "operational" {
				return false, fmt.Sprintf("%s is %s", c.ID, c.Status)
			}
		}
		resp, err := http.Get(p.base + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		up := regexp.MustCompile(`(?m)^probe_success\{.*\} 1$`).FindAll(b, -1)
		return len(up) == 7, fmt.Sprintf("%d of 7 probes up", len(up))
	})

	// The demo operator has incident templates to start from.
	var tpls []status.Template
	if code := p.call(http.MethodGet, "/api/v1/templates", nil, &tpls); code != 200 || len(tpls) != 2 || tpls[0].Name != "Issuance delayed" || !tpls[1].Title.Has("ja") {
		t.Fatalf("demo templates: HTTP %d %+v", code, tpls)
	}

	// Break OCSP: a draft appears with the evidence of the failing check.
	if code := p.call(http.MethodPost, "/demo/faults", map[string]any{"fault": "ocsp_stale", "on": true}, nil); code != 200 {
		t.Fatalf("switching the fault: HTTP %d", code)
	}
	var draft status.Incident
	eventually(t, "a draft for OCSP with evidence", func() (bool, string) {
		var list []status.Incident
		p.call(http.MethodGet, "/api/v1/incidents?state=draft", nil, &list)
		if len(list) != 1 {
			return false, fmt.Sprintf("%d drafts", len(list))
		}
		draft = list[0]
		return len(draft.Evidence) > 0 && slices.ContainsFunc(draft.Evidence, func(e status.Evidence) bool { return e.Check == "ocsp_next_update" }), fmt.Sprintf("%+v", draft.Evidence)
	})
	if ids := draft.ComponentIDs(); !slices.Equal(ids, []string{"ocsp"}) {
		t.Fatalf("draft covers %v, want [ocsp]", ids)
	}
	// The on-call chat hears of it (the operator webhook, Slack-compatible).
	chatEvents := func() string {
		var msgs []demo.ChatMessage
		p.call(http.MethodGet, "/demo/chat", nil, &msgs)
		var out []string
		for i := len(msgs) - 1; i >= 0; i-- {
			out = append(out, msgs[i].Event)
		}
		return strings.Join(out, ",")
	}
	eventually(t, "the draft in the on-call chat", func() (bool, string) {
		return chatEvents() == "draft_created", chatEvents()
	})
	// Nothing is public yet.
	var unresolved struct {
		Incidents []map[string]any `json:"incidents"`
	}
	p.call(http.MethodGet, "/api/v2/incidents/unresolved.json", nil, &unresolved)
	if len(unresolved.Incidents) != 0 {
		t.Fatalf("a draft is public: %v", unresolved.Incidents)
	}

	// Approve: the page changes and the OCSP subscribers (only) get mail.
	var approved status.Incident
	if code := p.call(http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/approve", draft.ID), nil, &approved); code != 200 || approved.State != status.StatePublished {
		t.Fatalf("approve: HTTP %d, state %q", code, approved.State)
	}
	eventually(t, "OCSP not operational on the public API", func() (bool, string) {
		var comps struct {
			Components []struct{ ID, Status string } `json:"components"`
		}
		p.call(http.MethodGet, "/api/v2/components.json", nil, &comps)
		for _, c := range comps.Components {
			if c.ID == "ocsp" {
				return c.Status != "operational", c.Status
			}
		}
		return false, "no ocsp component"
	})
	ocspSubscribers := []string{"everything@subscribers.example", "ocsp@subscribers.example"}
	subjectRE := regexp.MustCompile(`^Demo CA Incident - .+ - \d{1,2} [A-Z][a-z]+ \d{4}$`)
	eventually(t, "the incident mail to the OCSP subscribers", func() (bool, string) {
		return slices.Equal(recipients(p.mails()), ocspSubscribers), fmt.Sprint(recipients(p.mails()))
	})
	for _, m := range p.mails() {
		if !subjectRE.MatchString(m.Subject) || m.Text == "" || m.HTML == "" {
			t.Errorf("mail to %v: subject %q, text %d bytes, html %d bytes", m.To, m.Subject, len(m.Text), len(m.HTML))
		}
	}

	// Clear the fault: probed proposes to resolve.
	p.call(http.MethodPost, "/demo/faults", map[string]any{"fault": "ocsp_stale", "on": false}, nil)
	eventually(t, "a resolve proposal", func() (bool, string) {
		var inc status.Incident
		p.call(http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", draft.ID), nil, &inc)
		return inc.Proposal != nil && inc.Proposal.Action == "resolve", fmt.Sprintf("state %s proposal %+v", inc.State, inc.Proposal)
	})
	eventually(t, "approval and resolve proposal in the on-call chat", func() (bool, string) {
		return chatEvents() == "draft_created,draft_approved,resolve_proposed", chatEvents()
	})
	if code := p.call(http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/resolve", draft.ID), map[string]any{}, nil); code != 200 {
		t.Fatalf("resolve: HTTP %d", code)
	}
	eventually(t, "the resolved mail", func() (bool, string) {
		mails := p.mails()
		return len(mails) == 4 && slices.Equal(recipients(mails), ocspSubscribers), fmt.Sprintf("%d mails to %v", len(mails), recipients(mails))
	})

	// The README's tour is what the demo prints.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	tour := regexp.MustCompile(`(?s)Try this:.*?Ctrl-C stops everything\.`).Find(readme)
	p.mu.Lock()
	printed := p.stdout.String()
	p.mu.Unlock()
	if tour == nil || !strings.Contains(squash(printed), squash(string(tour))) {
		t.Errorf("README's tour %q is not what the demo printed:\n%s", tour, printed)
	}
	for _, line := range []string{"Status page", "Console", "Fault panel", "Mailbox", "Metrics", "API v2", "PROBED_TOKEN=", "Config", "Folder"} {
		if !strings.Contains(string(readme), line) || !strings.Contains(printed, line) {
			t.Errorf("%q missing from the README's demo section or the demo's output", line)
		}
	}

	// Ctrl-C stops everything and removes the folder.
	p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo exit: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of SIGINT")
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Errorf("demo folder %s still there after Ctrl-C (err %v)", p.dir, err)
	}
}

// squash folds runs of white space to one space.
func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// recipients lists the distinct recipients of the mails, sorted.
func recipients(mails []demo.Mail) []string {
	var out []string
	for _, m := range mails {
		for _, to := range m.To {
			if !slices.Contains(out, strings.ToLower(to)) {
				out = append(out, strings.ToLower(to))
			}
		}
	}
	slices.Sort(out)
	return out
}
