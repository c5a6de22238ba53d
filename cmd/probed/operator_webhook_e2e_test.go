package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/notify"
)

// TestOperatorWebhooksFromTheDaemon runs the built binary with two
// operator webhooks on loopback (a Slack-compatible one whose URL is read
// from a file, and a signed json one) and a probe whose target fails on
// demand: the fault drafts an incident and both webhooks hear of it; the
// fault clears and they hear the draft was withdrawn; a second fault's
// draft approved through the API and its recovery's resolve proposal
// reach them too. The Slack URL never appears in the daemon's log.
func TestOperatorWebhooksFromTheDaemon(t *testing.T) {
	bin := buildProbed(t)
	var failing atomic.Bool
	failing.Store(true)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer target.Close()

	type post struct {
		event, signature string
		body             []byte
	}
	var mu sync.Mutex
	got := map[string][]post{}
	sink := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got[name] = append(got[name], post{r.Header.Get(notify.HeaderEvent), r.Header.Get(notify.HeaderSignature), b})
			mu.Unlock()
		}))
		t.Cleanup(s.Close)
		return s
	}
	slack, pager := sink("slack"), sink("pager")
	events := func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, p := range got[name] {
			out = append(out, p.event)
		}
		return strings.Join(out, ",")
	}

	dir := t.TempDir()
	secret := "e2e-operator-webhook-secret"
	writeFile(t, filepath.Join(dir, "slack-url"), slack.URL+"/services/T0/B0/E2ESECRETPATH\n")
	writeFile(t, filepath.Join(dir, "pager-secret"), secret+"\n")
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
location: hook-e2e
components:
  - {id: crl, name: CRL}
probes:
  - {name: crl, component: crl, kind: http, interval: 1s, timeout: 800ms, http: {url: %q}}
incidents: {failures_to_open: 2, successes_to_close: 2}
notify:
  operator_webhooks:
    - {name: oncall, format: slack, url_file: slack-url}
    - {name: pager, format: json, url: %q, secret_file: pager-secret, console_url: "https://console.example.test"}
`, target.URL+"/crl", pager.URL+"/hook"))
	token := operatorToken(t, bin, cfgPath)
	d := startProbed(t, bin, cfgPath)

	eventually(t, "draft_created on both webhooks", func() (bool, string) {
		return events("pager") == "draft_created" && events("slack") == "draft_created", events("pager") + " / " + events("slack")
	})
	failing.Store(false)
	eventually(t, "draft_withdrawn on both webhooks", func() (bool, string) {
		return events("pager") == "draft_created,draft_withdrawn" && events("slack") == "draft_created,draft_withdrawn", events("pager") + " / " + events("slack")
	})
	failing.Store(true)
	eventually(t, "the second draft", func() (bool, string) {
		return events("pager") == "draft_created,draft_withdrawn,draft_created", events("pager")
	})
	mu.Lock()
	var second notify.OperatorPayload
	json.Unmarshal(got["pager"][2].body, &second)
	mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s/api/v1/incidents/%d/approve", d.addr, second.Incident.ID), strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %s", resp.Status)
	}
	failing.Store(false)
	all := "draft_created,draft_withdrawn,draft_created,draft_approved,resolve_proposed"
	eventually(t, "draft_approved and resolve_proposed on both webhooks", func() (bool, string) {
		return events("pager") == all && events("slack") == all, events("pager") + " / " + events("slack")
	})

	mu.Lock()
	for i, p := range got["pager"] {
		if err := notify.VerifyWebhook(secret, p.signature, p.body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("pager post %d (%s): %v", i, p.event, err)
		}
		var pl notify.OperatorPayload
		if err := json.Unmarshal(p.body, &pl); err != nil || pl.Event != p.event || pl.Incident.Components[0].Name != "CRL" ||
			pl.Incident.ConsoleURL != fmt.Sprintf("https://console.example.test/admin/incidents/%d", pl.Incident.ID) {
			t.Errorf("pager post %d = %+v, %v", i, pl, err)
		}
		if i == 3 && pl.Actor != "reload-e2e" {
			t.Errorf("approved by %q, want the token's name", pl.Actor)
		}
	}
	for i, p := range got["slack"] {
		var m struct{ Text string }
		if err := json.Unmarshal(p.body, &m); err != nil || !strings.Contains(m.Text, "/admin/incidents/") || p.signature != "" {
			t.Errorf("slack post %d = %s (signature %q)", i, p.body, p.signature)
		}
	}
	if !strings.Contains(string(got["slack"][0].body), "Draft incident waiting for approval: ") {
		t.Errorf("slack draft_created = %s", got["slack"][0].body)
	}
	mu.Unlock()
	metrics := scrapeText(t, "http://"+d.addr+"/metrics")
	for _, want := range []string{`probed_operator_webhooks_sent_total{webhook="pager"} 5`, `probed_operator_webhooks_sent_total{webhook="oncall"} 5`,
		`probed_operator_webhooks_failed_total{reason="temporary",webhook="oncall"} 0`, `probed_operator_webhooks_pending 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	d.signal(syscall.SIGTERM)
	if err := d.wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	if log := d.stderr(); strings.Contains(log, "E2ESECRETPATH") || !strings.Contains(log, "operator webhook sent") {
		t.Errorf("daemon log (must name webhooks, never their URLs):\n%s", log)
	}
}
