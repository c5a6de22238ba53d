package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
)

// newSubAdminHarness is the operator harness with the subscription flow wired in.
func newSubAdminHarness(t *testing.T) *opHarness {
	t.Helper()
	h := newOpHarness(t)
	cfgf := func() *config.Config { return h.cfg }
	subs, err := notify.NewSubscriptions(h.ctx, notify.SubscriptionsOptions{Store: h.st, Config: cfgf, Clock: h.clk, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Close()
	h.srv = httptest.NewTLSServer(New(Options{Config: cfgf, Clock: h.clk, Store: h.st, Engine: h.eng, Subscriptions: subs}).Handler())
	t.Cleanup(h.srv.Close)
	return h
}

type apiSubscriber struct {
	store.Subscriber
	Secret string `json:"secret"`
}

func TestSubscribersAPI(t *testing.T) {
	h := newSubAdminHarness(t)
	for _, who := range []string{"", "probed_forged"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			if code, _ := h.do(who, m, "/api/v1/subscribers", `{"email":"x@example.com"}`, nil); code != http.StatusUnauthorized {
				t.Errorf("%s without a valid token (%q) = %d, want 401", m, who, code)
			}
		}
	}
	var added apiSubscriber
	if code, raw := h.do("alice", "POST", "/api/v1/subscribers", map[string]any{"email": "ops@example.com", "components": []string{"ocsp", "crl"}}, &added); code != 201 {
		t.Fatalf("add = %d %s", code, raw)
	}
	if added.State != store.SubscriberActive || added.Source != store.SourceOperator || !slices.Equal(added.Components, []string{"crl", "ocsp"}) || added.Secret != "" {
		t.Errorf("added = %+v: want active at once, operator-sourced", added)
	}
	var hook apiSubscriber
	if code, raw := h.do("alice", "POST", "/api/v1/subscribers", map[string]any{"webhook_url": "https://chat.example.com/hook"}, &hook); code != 201 || len(hook.Secret) != 64 {
		t.Fatalf("add webhook = %d %s", code, raw)
	}
	if !slices.Equal(hook.Components, []string{"crl", "ocsp", "timestamp"}) {
		t.Errorf("webhook without components got %v, want every component", hook.Components)
	}
	for _, bad := range []string{`{"email":"not an address"}`, `{"email":"a@example.com","components":["nope"]}`, `{"webhook_url":"ftp://x"}`,
		`{"email":"a@example.com","webhook_url":"https://x.example"}`, `{"email":"a@example.com","colour":"red"}`, `{}`} {
		if code, raw := h.do("alice", "POST", "/api/v1/subscribers", bad, nil); code != 400 {
			t.Errorf("add %s = %d %s, want 400", bad, code, raw)
		}
	}
	var list []map[string]any
	if code, _ := h.do("bob", "GET", "/api/v1/subscribers", nil, &list); code != 200 || len(list) != 2 {
		t.Fatalf("list = %d %v", code, list)
	}
	for _, s := range list {
		if _, ok := s["secret"]; ok {
			t.Error("a listing shows a webhook secret")
		}
		if _, ok := s["Salt"]; ok {
			t.Error("a listing shows a link salt")
		}
	}
	if code, _ := h.do("bob", "GET", "/api/v1/subscribers?state=active", nil, &list); code != 200 || len(list) != 2 {
		t.Errorf("active list = %d %d", code, len(list))
	}
	if code, _ := h.do("bob", "GET", "/api/v1/subscribers?state=bogus", nil, nil); code != 400 {
		t.Errorf("bad state = %d", code)
	}
	if code, _ := h.do("bob", "GET", "/api/v1/subscribers/"+itoa(added.ID), nil, nil); code != 200 {
		t.Errorf("get one = %d", code)
	}
	if code, _ := h.do("alice", "DELETE", "/api/v1/subscribers?address=OPS@example.com", nil, nil); code != 200 {
		t.Errorf("remove by address = %d", code)
	}
	if code, _ := h.do("alice", "DELETE", "/api/v1/subscribers/"+itoa(added.ID), nil, nil); code != 404 {
		t.Errorf("remove twice = %d, want 404", code)
	}
	if code, _ := h.do("alice", "DELETE", "/api/v1/subscribers/"+itoa(hook.ID), nil, nil); code != 200 {
		t.Errorf("remove webhook by id = %d", code)
	}
	entries, err := h.st.ListAudit(h.ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "subscriber_") {
			acts = append(acts, e.Actor+":"+e.Action)
		}
	}
	if want := []string{"alice:subscriber_remove", "alice:subscriber_remove", "alice:subscriber_add", "alice:subscriber_add"}; !slices.Equal(acts, want) {
		t.Errorf("audit = %v, want %v", acts, want)
	}
}

func TestSubscribersConsole(t *testing.T) {
	h := newSubAdminHarness(t)
	noRedirect := &http.Client{Transport: h.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(h.srv.URL + "/admin/subscribers")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/admin/login") {
		t.Fatalf("console without a session = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	c, csrf := consoleLogin(t, h, "alice")
	get := func(path string) string {
		resp, err := c.Get(h.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s = %d\n%s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	if page := get("/admin/subscribers"); !strings.Contains(page, "Add a subscriber") || !strings.Contains(page, "No subscribers.") {
		t.Fatalf("empty page:\n%s", page)
	}
	// Without the CSRF token nothing is added.
	resp, _ = c.PostForm(h.srv.URL+"/admin/subscribers", url.Values{"address": {"x@example.com"}})
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("add without CSRF = %d, want 403", resp.StatusCode)
	}
	resp, _ = c.PostForm(h.srv.URL+"/admin/subscribers", url.Values{"csrf": {csrf}, "address": {"desk@example.com"}, "c": {"ocsp"}, "language": {"ja"}})
	resp.Body.Close()
	page := get("/admin/subscribers")
	if !strings.Contains(page, "desk@example.com") || !strings.Contains(page, "OCSP") || !strings.Contains(page, "<td>ja</td>") {
		t.Fatalf("added subscriber missing, or without its language ja:\n%s", page)
	}
	if sub, err := h.st.SubscriberByAddress(h.ctx, store.SubscriberEmail, "desk@example.com"); err != nil || sub.Language != "ja" {
		t.Errorf("the console's add kept language %q (%v), want ja", sub.Language, err)
	}
	resp, _ = c.PostForm(h.srv.URL+"/admin/subscribers", url.Values{"csrf": {csrf}, "address": {"https://chat.example.com/x"}})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := regexp.MustCompile(`<code id="secret">([0-9a-f]{64})</code>`).FindStringSubmatch(string(b)); m == nil {
		t.Errorf("webhook secret not shown once after adding:\n%s", b)
	}
	resp, _ = c.PostForm(h.srv.URL+"/admin/subscribers", url.Values{"csrf": {csrf}, "address": {"not an address"}})
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "Not added") {
		t.Errorf("bad address = %d", resp.StatusCode)
	}
	sub, err := h.st.SubscriberByAddress(h.ctx, store.SubscriberEmail, "desk@example.com")
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = c.PostForm(h.srv.URL+"/admin/subscribers/"+itoa(sub.ID)+"/remove", url.Values{"csrf": {csrf}})
	resp.Body.Close()
	if page := get("/admin/subscribers"); strings.Contains(page, "desk@example.com") {
		t.Error("removed subscriber still listed")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestSubscriberLanguageOverAPI: an operator may give an e-mail
// subscriber the language of its mailed links, one of page.languages.
func TestSubscriberLanguageOverAPI(t *testing.T) {
	h := newSubAdminHarness(t)
	var ja apiSubscriber
	if code, raw := h.do("alice", "POST", "/api/v1/subscribers", map[string]any{"email": "hanako@example.jp", "language": "ja"}, &ja); code != 201 || ja.Language != "ja" {
		t.Fatalf("add in Japanese = %d %s: want the language kept for its mailed links", code, raw)
	}
	if code, raw := h.do("alice", "POST", "/api/v1/subscribers", map[string]any{"email": "x@example.fr", "language": "fr"}, nil); code != 400 || !strings.Contains(raw, "page.languages") {
		t.Errorf("add in a language the page lacks = %d %s, want 400 naming page.languages", code, raw)
	}
}
