package subscription

import (
	"context"
	"fmt"
	"github.com/probed/probed/status"
	"html"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
)

const subTestConfig = `page: {name: Example CA, url: %s, time_zone: UTC}
storage: {path: probed.db}
components:
  - id: certcentral
    name: CertCentral
    components:
      - {id: certcentral-api, name: CertCentral API}
      - {id: acme, name: ACME}
  - {id: timestamp, name: Code Signing Timestamp Service}
  - {id: ocsp, name: Online Certificate Status Protocol (OCSP)}
  - {id: crl, name: Certificate Revocation List (CRL)}
notify:
  from: "Example CA Status <noreply@example.test>"
  smtp: {host: 127.0.0.1, port: %d, tls: none, timeout: 5s}
  subscribe: {challenge_bits: 10, nojs_wait: 20s, per_ip: {burst: 5, per_hour: 10}, per_address: {burst: 3, per_hour: 3}}
`

// subEnv is the whole flow on loopback: a real SQLite store, the notify
// worker, the web server on a real listener and an in-process SMTP server.
type subEnv struct {
	t      *testing.T
	ctx    context.Context
	clk    *clock.Fake
	st     *store.Store
	cfg    *config.Config
	smtp   *mailsink.Server
	worker *notify.Worker
	subs   *notify.Subscriptions
	base   string
}

func newSubEnv(t *testing.T) *subEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	mailSrv, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mailSrv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	os.WriteFile(file, fmt.Appendf(nil, subTestConfig, base, mailSrv.Port()), 0o600)
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &subEnv{t: t, ctx: ctx, clk: clk, st: st, cfg: cfg, smtp: mailSrv, base: base}
	links, err := notify.NewLinksFromStore(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfgf := func() *config.Config { return e.cfg }
	if e.worker, err = notify.NewWorker(notify.WorkerOptions{Store: st, Config: cfgf, Links: links, Clock: clk, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if e.subs, err = notify.NewSubscriptions(ctx, notify.SubscriptionsOptions{Store: st, Config: cfgf, Clock: clk, Links: links, Registerer: reg, Wake: e.worker.Wake}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Options{Subscriptions: e.subs}).Routes(mux)
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return e
}

// browser is a client with cookies that never follows redirects, so a
// redirect shows up as what it is.
func browser(t *testing.T, from string) *http.Client {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c.Transport = &http.Transport{DialContext: d.DialContext}
	}
	return c
}

type subPage struct {
	code int
	body string
	hdr  http.Header
}

func (e *subEnv) do(c *http.Client, method, target string, form url.Values, hdr ...string) subPage {
	e.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = e.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequestWithContext(e.ctx, method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return subPage{code: resp.StatusCode, body: string(b), hdr: resp.Header}
}

var inputRE = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)

func hidden(p subPage) url.Values {
	v := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(p.body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

var boxRE = regexp.MustCompile(`<input type="checkbox" name="c" value="([^"]+)"[^>]*?( checked)?>`)

func boxes(p subPage) (all, checked []string) {
	for _, m := range boxRE.FindAllStringSubmatch(p.body, -1) {
		all = append(all, m[1])
		if m[2] != "" {
			checked = append(checked, m[1])
		}
	}
	return
}

// state is everything a GET must leave alone: the subscriber rows and the outbox.
func (e *subEnv) state() string {
	e.t.Helper()
	subs, err := e.st.Subscribers(e.ctx, "")
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range subs {
		fmt.Fprintf(&b, "%d %s %s %v %v %d %v|", s.ID, s.Address, s.State, s.Components, s.PendingComponents, s.Failures, s.ConfirmSentAt)
	}
	ds, _ := e.st.Deliveries(e.ctx, 0, 1000)
	for _, d := range ds {
		fmt.Fprintf(&b, "%d %s %d|", d.ID, d.State, d.Attempts)
	}
	return b.String()
}

func (e *subEnv) drain() {
	e.t.Helper()
	if err := e.worker.Drain(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// mailTo returns the text part and the headers of the newest mail to addr.
func (e *subEnv) mailTo(addr string) (string, mail.Header) {
	e.t.Helper()
	msgs := e.smtp.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if !slices.Contains(msgs[i].To, addr) {
			continue
		}
		m, err := msgs[i].Parse()
		if err != nil {
			e.t.Fatal(err)
		}
		_, params, _ := mime.ParseMediaType(m.Header.Get("Content-Type"))
		mr := multipart.NewReader(m.Body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
				b, _ := io.ReadAll(p)
				return string(b), m.Header
			}
		}
	}
	e.t.Fatalf("no mail to %s", addr)
	return "", nil
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

func (e *subEnv) subscriber(addr string) store.Subscriber {
	e.t.Helper()
	sub, err := e.st.SubscriberByAddress(e.ctx, store.SubscriberEmail, addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return sub
}

func TestSubscribeConfirmManageUnsubscribeOverHTTP(t *testing.T) {
	e := newSubEnv(t)
	c := browser(t, "")
	const addr = "alice@example.com"

	// The form: every leaf ticked by default, "Select none" unticks them.
	form := e.do(c, "GET", "/subscribe", nil)
	all, checked := boxes(form)
	if form.code != 200 || len(all) != 5 || !slices.Equal(all, checked) {
		t.Fatalf("subscribe form: %d, boxes %v ticked %v; want all 5 leaves ticked", form.code, all, checked)
	}
	if !strings.Contains(form.body, `href="/subscribe?select=none"`) || !strings.Contains(form.body, "Select none") {
		t.Error("no Select none link that works without JavaScript")
	}
	if form.hdr.Get("X-Frame-Options") != "DENY" || !strings.Contains(form.hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("subscribe form may be framed: %v", form.hdr)
	}
	if _, ticked := boxes(e.do(c, "GET", "/subscribe?select=none", nil)); len(ticked) != 0 {
		t.Errorf("select=none still ticks %v", ticked)
	}
	if ja := e.do(c, "GET", "/subscribe?lang=ja", nil); !strings.Contains(ja.body, "すべて解除") || !strings.Contains(ja.body, `lang="ja"`) {
		t.Error("Japanese form lacks すべて解除")
	}

	f := hidden(form)
	f.Set("email", addr)
	f["c"] = []string{"ocsp", "crl"}
	f.Set("solution", notify.Solve(f.Get("challenge")))
	sent := e.do(c, "POST", "/subscribe", f)
	if sent.code != 200 || !strings.Contains(sent.body, "Check your mail") {
		t.Fatalf("subscribe POST: %d\n%s", sent.code, sent.body)
	}
	if sub := e.subscriber(addr); sub.State != store.SubscriberPending {
		t.Fatalf("before confirming the subscriber is %s, want pending", sub.State)
	}
	e.drain()
	text, hdr := e.mailTo(addr)
	if subj, _ := new(mime.WordDecoder).DecodeHeader(hdr.Get("Subject")); !strings.Contains(subj, "Confirm your subscription") {
		t.Errorf("confirmation subject %q", subj)
	}
	confirmLink := ""
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, "/subscribe/confirm?t=") {
			confirmLink = l
		}
	}
	if !strings.HasPrefix(confirmLink, e.base) {
		t.Fatalf("no confirmation link to this server in:\n%s", text)
	}

	// A mail scanner opens the link (no cookies, twice, and HEAD): nothing changes.
	before := e.state()
	scanner := browser(t, "")
	for range 2 {
		if p := e.do(scanner, "GET", confirmLink, nil); p.code != 200 || !strings.Contains(p.body, "Confirm subscription") {
			t.Fatalf("confirm page: %d\n%s", p.code, p.body)
		}
	}
	e.do(scanner, "HEAD", confirmLink, nil)
	if after := e.state(); after != before {
		t.Fatalf("GET on the confirmation link changed state:\n%s\n%s", before, after)
	}

	// The person presses the button: active with the chosen components.
	cp := e.do(c, "GET", confirmLink, nil)
	if !strings.Contains(cp.body, addr) || !strings.Contains(cp.body, "Online Certificate Status Protocol (OCSP)") {
		t.Errorf("confirm page does not say what it confirms:\n%s", cp.body)
	}
	done := e.do(c, "POST", "/subscribe/confirm", hidden(cp))
	if done.code != 200 || !strings.Contains(done.body, "You are subscribed") {
		t.Fatalf("confirm POST: %d\n%s", done.code, done.body)
	}
	if sub := e.subscriber(addr); sub.State != store.SubscriberActive || !slices.Equal(sub.Components, []string{"crl", "ocsp"}) {
		t.Fatalf("after confirming: %+v", sub)
	}

	// An OCSP incident reaches them, with manage and one-click links.
	if _, err := e.st.CreateDraft(e.ctx, "op", status.NewIncident{Title: status.Text{"en": "OCSP delays"}, Body: status.Text{"en": "Investigating."},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}, Origin: status.OriginManual, Publish: true}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	text, hdr = e.mailTo(addr)
	manageLink, unsubLink := "", strings.Trim(hdr.Get("List-Unsubscribe"), "<>")
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, "/subscriptions/manage?t=") {
			manageLink = l
		}
	}
	if manageLink == "" || !strings.Contains(unsubLink, "/unsubscribe?t=") || hdr.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("incident mail links: manage %q, List-Unsubscribe %q", manageLink, unsubLink)
	}

	// Every mailed link, opened by GET or HEAD, changes nothing.
	var mailed []string
	for _, m := range e.smtp.Messages() {
		pm, _ := m.Parse()
		b, _ := io.ReadAll(pm.Body)
		for _, l := range linkRE.FindAllString(strings.ReplaceAll(string(b), "=\r\n", ""), -1) {
			l = strings.ReplaceAll(l, "=3D", "=")
			if strings.HasPrefix(l, e.base) && !slices.Contains(mailed, l) {
				mailed = append(mailed, l)
			}
		}
		mailed = append(mailed, strings.Trim(pm.Header.Get("List-Unsubscribe"), "<>"))
	}
	before = e.state()
	for _, l := range mailed {
		if l == "" {
			continue
		}
		for _, method := range []string{"GET", "HEAD"} {
			if p := e.do(browser(t, ""), method, l, nil); p.code >= 500 {
				t.Errorf("%s %s: %d", method, l, p.code)
			}
		}
		e.do(browser(t, ""), "GET", l+"&select=none", nil)
	}
	if after := e.state(); after != before {
		t.Fatalf("GET on mailed links changed state:\n%s\n%s", before, after)
	}
	t.Logf("mailed links: %q", mailed)
	if len(mailed) < 4 {
		t.Errorf("only %d mailed links checked: %v", len(mailed), mailed)
	}

	// Manage: the choice is shown again; unticking CRL keeps OCSP.
	mp := e.do(c, "GET", manageLink, nil)
	if _, ticked := boxes(mp); !slices.Equal(ticked, []string{"ocsp", "crl"}) || !strings.Contains(mp.body, addr) {
		t.Fatalf("manage page ticks %v", ticked)
	}
	if !strings.Contains(mp.body, "Unsubscribe from updates") {
		t.Error("manage page lacks the Unsubscribe from updates link")
	}
	mf := hidden(mp)
	mf["c"] = []string{"ocsp"}
	if saved := e.do(c, "POST", "/subscriptions/manage", mf); saved.code != 200 || !strings.Contains(saved.body, "Saved.") {
		t.Fatalf("manage POST: %d\n%s", saved.code, saved.body)
	}
	if sub := e.subscriber(addr); !slices.Equal(sub.Components, []string{"ocsp"}) {
		t.Fatalf("after managing: %v", sub.Components)
	}
	// A forged manage token is refused.
	mf.Set("t", mf.Get("t")+"x")
	if p := e.do(c, "POST", "/subscriptions/manage", mf); p.code != 400 {
		t.Errorf("forged manage token: %d", p.code)
	}

	// RFC 8058 one-click: a mail provider POSTs with no cookies; 200, no redirect.
	oneClick := e.do(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		"POST", unsubLink, url.Values{"List-Unsubscribe": {"One-Click"}})
	if oneClick.code != 200 || oneClick.hdr.Get("Location") != "" || oneClick.hdr.Get("Set-Cookie") != "" {
		t.Fatalf("one-click unsubscribe: %d %v", oneClick.code, oneClick.hdr)
	}
	if sub := e.subscriber(addr); sub.State != store.SubscriberUnsubscribed || len(sub.Components) != 0 {
		t.Fatalf("after one-click: %+v", sub)
	}
	if p := e.do(browser(t, ""), "POST", unsubLink, url.Values{"List-Unsubscribe": {"One-Click"}}); p.code != 200 {
		t.Errorf("second one-click: %d, want 200 (idempotent)", p.code)
	}
	if p := e.do(browser(t, ""), "POST", strings.Replace(unsubLink, "t=", "t=9", 1), url.Values{"List-Unsubscribe": {"One-Click"}}); p.code != 400 {
		t.Errorf("one-click with a forged token: %d, want 400", p.code)
	}
	mailsBefore := e.smtp.Total()
	if _, err := e.st.CreateDraft(e.ctx, "op", status.NewIncident{Title: status.Text{"en": "OCSP again"}, Body: status.Text{"en": "Investigating."},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}, Origin: status.OriginManual, Publish: true}); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if e.smtp.Total() != mailsBefore {
		t.Error("mail sent after unsubscribing")
	}

	// The manage link still opens, says so, and re-subscribes on save.
	mp = e.do(c, "GET", manageLink, nil)
	if !strings.Contains(mp.body, "You are unsubscribed") {
		t.Errorf("manage page after unsubscribing:\n%s", mp.body)
	}
	mf = hidden(mp)
	mf["c"] = []string{"crl"}
	e.do(c, "POST", "/subscriptions/manage", mf)
	if sub := e.subscriber(addr); sub.State != store.SubscriberActive || !slices.Equal(sub.Components, []string{"crl"}) {
		t.Errorf("re-subscribed from the manage page: %+v", sub)
	}
	// Unticking everything on the manage page unsubscribes.
	mf["c"] = nil
	if p := e.do(c, "POST", "/subscriptions/manage", mf); p.code != 200 || !strings.Contains(p.body, "You are unsubscribed") {
		t.Errorf("empty choice: %d", p.code)
	}
	if sub := e.subscriber(addr); sub.State != store.SubscriberUnsubscribed {
		t.Errorf("empty choice left %+v", sub)
	}
	// The unsubscribe page's own button (with its CSRF token) works too.
	mf["c"] = []string{"crl"}
	e.do(c, "POST", "/subscriptions/manage", mf)
	up := e.do(c, "GET", unsubLink, nil)
	if p := e.do(c, "POST", "/unsubscribe", hidden(up)); p.code != 200 || !strings.Contains(p.body, "You are unsubscribed") {
		t.Errorf("unsubscribe button: %d\n%s", p.code, p.body)
	}
}

func TestFormsRefuseCrossSiteAndMissingTokens(t *testing.T) {
	e := newSubEnv(t)
	c := browser(t, "")
	f := hidden(e.do(c, "GET", "/subscribe", nil))
	f.Set("email", "bob@example.com")
	f.Set("c", "ocsp")
	f.Set("solution", notify.Solve(f.Get("challenge")))
	noToken := url.Values{"email": {"bob@example.com"}, "c": {"ocsp"}, "challenge": f["challenge"], "solution": f["solution"]}
	if p := e.do(c, "POST", "/subscribe", noToken); p.code != http.StatusForbidden {
		t.Errorf("POST without the CSRF token: %d, want 403", p.code)
	}
	if p := e.do(browser(t, ""), "POST", "/subscribe", f); p.code != http.StatusForbidden {
		t.Errorf("POST with a token but another browser's (no) cookie: %d, want 403", p.code)
	}
	if p := e.do(c, "POST", "/subscribe", f, "Sec-Fetch-Site", "cross-site"); p.code != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", p.code)
	}
	if p := e.do(c, "POST", "/subscribe", f, "Origin", "https://evil.example"); p.code != http.StatusForbidden {
		t.Errorf("POST from another origin: %d, want 403", p.code)
	}
	sub, _, err := e.subs.Add(e.ctx, notify.AddRequest{Email: "carol@example.com", Components: []string{"ocsp"}})
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.SplitN(notify.UnsubscribeURL(e.cfg, e.subs.Links(), sub), "?t=", 2)[1]
	if p := e.do(browser(t, ""), "POST", "/unsubscribe?t="+tok, url.Values{}); p.code != http.StatusForbidden {
		t.Errorf("unsubscribe POST that is neither one-click nor the page's form: %d, want 403", p.code)
	}
	if e.subscriber("carol@example.com").State != store.SubscriberActive {
		t.Error("refused POST unsubscribed anyway")
	}
	if p := e.do(c, "POST", "/subscribe", f); p.code != 200 {
		t.Errorf("the proper POST: %d", p.code)
	}
}

func TestNoScriptFallbackWaits(t *testing.T) {
	e := newSubEnv(t)
	c := browser(t, "")
	form := e.do(c, "GET", "/subscribe", nil)
	if !strings.Contains(form.body, "<noscript>") || !strings.Contains(form.body, "20 seconds") {
		t.Error("the form does not tell script-less browsers about the wait")
	}
	f := hidden(form)
	f.Set("email", "nojs@example.com")
	f.Set("c", "crl")
	if p := e.do(c, "POST", "/subscribe", f); p.code != 400 || !strings.Contains(p.body, "wait a few seconds") {
		t.Fatalf("unsolved at once: %d", p.code)
	}
	e.clk.Advance(20 * time.Second)
	if p := e.do(c, "POST", "/subscribe", f); p.code != 200 {
		t.Fatalf("unsolved after the wait: %d\n%s", p.code, p.body)
	}
	if p := e.do(c, "POST", "/subscribe", f); p.code != 400 {
		t.Errorf("the same challenge twice: %d, want 400", p.code)
	}
}

func TestHTTPFloodIsStopped(t *testing.T) {
	e := newSubEnv(t)
	solved := func(c *http.Client, email string) url.Values {
		f := hidden(e.do(c, "GET", "/subscribe", nil))
		f.Set("email", email)
		f.Set("c", "ocsp")
		f.Set("solution", notify.Solve(f.Get("challenge")))
		return f
	}
	// One source address: the burst of 5 passes, then 429s.
	c := browser(t, "127.0.0.2")
	codes := map[int]int{}
	for i := range 30 {
		codes[e.do(c, "POST", "/subscribe", solved(c, fmt.Sprintf("v%d@example.com", i))).code]++
	}
	if codes[200] != 5 || codes[429] != 25 {
		t.Errorf("one client's flood: %v, want 5×200 and 25×429", codes)
	}
	// Thirty source addresses against one victim: the per-address limit,
	// and one confirmation mail.
	codes = map[int]int{}
	for i := range 30 {
		ci := browser(t, fmt.Sprintf("127.0.1.%d", i+1))
		codes[e.do(ci, "POST", "/subscribe", solved(ci, "victim@example.com")).code]++
	}
	if codes[200] != 3 || codes[429] != 27 {
		t.Errorf("distributed flood on one address: %v, want 3×200 and 27×429", codes)
	}
	// Without the proof of work nothing passes, from anywhere.
	for i := range 10 {
		ci := browser(t, fmt.Sprintf("127.0.2.%d", i+1))
		f := solved(ci, "x@example.com")
		f.Set("solution", "")
		if p := e.do(ci, "POST", "/subscribe", f); p.code != 400 {
			t.Fatalf("unsolved POST: %d", p.code)
		}
	}
	e.drain()
	got := e.smtp.Received()
	if got["victim@example.com"] != 1 || got["x@example.com"] != 0 || len(got) != 6 {
		t.Errorf("confirmation mails: %v, want one each to 5 addresses and the victim", got)
	}
}

// TestOneClickBodies: RFC 8058 lets the one-click body come urlencoded or as
// multipart/form-data, from a mail client on any origin.
func TestOneClickBodies(t *testing.T) {
	e := newSubEnv(t)
	for i, tc := range []struct {
		name string
		ct   string
		body string
		hdr  []string
	}{
		{"multipart", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XX--\r\n", nil},
		{"cross-site urlencoded", "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://mail.example"}},
	} {
		addr := fmt.Sprintf("oneclick%d@example.com", i)
		sub, _, err := e.subs.Add(e.ctx, notify.AddRequest{Email: addr, Components: []string{"ocsp"}})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(e.ctx, "POST", notify.UnsubscribeURL(e.cfg, e.subs.Links(), sub), strings.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		for j := 0; j+1 < len(tc.hdr); j += 2 {
			req.Header.Set(tc.hdr[j], tc.hdr[j+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || e.subscriber(addr).State != store.SubscriberUnsubscribed {
			t.Errorf("%s one-click: %d, subscriber %s", tc.name, resp.StatusCode, e.subscriber(addr).State)
		}
	}
}

// TestDistinctAddressFloodWithoutProof: 100,000 posts without a proof of
// work, each from its own address (as many as the per-IP limiter holds),
// then a visitor with a valid proof: accepted. A post without a proof is
// refused before any bucket is charged, so the flood leaves the limiter
// empty. Driven in-process, with distinct RemoteAddr values.
func TestDistinctAddressFloodWithoutProof(t *testing.T) {
	e := newSubEnv(t)
	mux := http.NewServeMux()
	New(Options{Subscriptions: e.subs}).Routes(mux)
	serve := func(method, target, from string, cookie *http.Cookie, form url.Values) *httptest.ResponseRecorder {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req := httptest.NewRequest(method, target, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		req.RemoteAddr = from
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	// One form, fetched once, its token and challenge replayed by every post.
	get := func(from string) (*http.Cookie, url.Values) {
		rec := serve("GET", "/subscribe", from, nil, nil)
		var cookie *http.Cookie
		for _, c := range rec.Result().Cookies() {
			if c.Name == formCookie {
				cookie = c
			}
		}
		if rec.Code != 200 || cookie == nil {
			t.Fatalf("GET /subscribe = %d, cookie %v", rec.Code, cookie)
		}
		return cookie, hidden(subPage{body: rec.Body.String()})
	}
	cookie, f := get("192.0.2.1:1000")
	f.Set("email", "flood@example.com")
	f.Set("c", "ocsp")
	const flood = 100_000
	// No solution (a script-less post before its wait) or a wrong one.
	unsolved, wrong := maps.Clone(f), maps.Clone(f)
	unsolved.Set("solution", "")
	wrong.Set("solution", "1")
	workers := runtime.GOMAXPROCS(0)
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := w; i < flood; i += workers {
				from := fmt.Sprintf("10.%d.%d.%d:40000", i>>16&255, i>>8&255, i&255)
				if rec := serve("POST", "/subscribe", from, cookie, []url.Values{unsolved, wrong}[i%2]); rec.Code != http.StatusBadRequest {
					return fmt.Errorf("post %d without a proof from %s = %d, want 400", i, from, rec.Code)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	cookie, f = get("198.51.100.20:2000")
	f.Set("email", "visitor@example.com")
	f.Set("c", "ocsp")
	f.Set("solution", notify.Solve(f.Get("challenge")))
	if rec := serve("POST", "/subscribe", "198.51.100.20:2000", cookie, f); rec.Code != http.StatusOK {
		t.Fatalf("visitor with a valid proof after the flood = %d, want 200\n%s", rec.Code, rec.Body)
	}
	if st := e.subscriber("visitor@example.com"); st.State != store.SubscriberPending {
		t.Errorf("visitor's subscription = %q, want pending confirmation", st.State)
	}
}
