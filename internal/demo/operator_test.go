package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestOneTimeLoginKeepsNext: the one-time link's ?next= survives the
// button and the login lands there — on the console only.
func TestOneTimeLoginKeepsNext(t *testing.T) {
	newDemo := func() (*Demo, *http.ServeMux) {
		d := &Demo{LoginKey: "key-1", Hooks: Hooks{Session: func(context.Context) (string, error) { return "session-secret", nil }}}
		mux := http.NewServeMux()
		d.Routes(mux, func(h http.HandlerFunc) http.Handler { return h })
		return d, mux
	}
	_, mux := newDemo()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/demo/login/key-1?next=/admin/incidents/3", nil))
	if !strings.Contains(rec.Body.String(), `name="next" value="/admin/incidents/3"`) {
		t.Fatalf("the login page drops next:\n%s", rec.Body)
	}
	for next, want := range map[string]string{"/admin/incidents/3": "/admin/incidents/3", "//evil.example/": "/admin/", "https://evil.example/": "/admin/", "": "/admin/"} {
		_, mux := newDemo()
		req := httptest.NewRequest("POST", "/demo/login/key-1", strings.NewReader(url.Values{"next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != want {
			t.Errorf("next %q: %d to %q, want 303 to %q", next, rec.Code, rec.Header().Get("Location"), want)
		}
	}
}

// TestMailboxLinks: the text part's links are anchors opening a new tab
// (the text around them escaped, trailing punctuation left out), and the
// HTML part's links open outside its sandboxed frame.
func TestMailboxLinks(t *testing.T) {
	got := string(linkify("See https://status.example.com/incidents/3?lang=ja&x=1. <b>not bold</b>\nhttp://127.0.0.1:8080/unsubscribe?t=abc"))
	for _, want := range []string{
		`See <a href="https://status.example.com/incidents/3?lang=ja&amp;x=1" target="_blank" rel="noopener noreferrer">https://status.example.com/incidents/3?lang=ja&amp;x=1</a>. &lt;b&gt;not bold&lt;/b&gt;`,
		`<a href="http://127.0.0.1:8080/unsubscribe?t=abc" target="_blank"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("linkify = %s\nwant it to contain %s", got, want)
		}
	}
	var b strings.Builder
	if err := mailboxTmpl.Execute(&b, []Mail{{ID: 1, Text: "Details: https://status.example.com/incidents/1", HTML: `<p><a href="https://status.example.com/incidents/1">details</a></p>`}}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{`sandbox="allow-popups allow-popups-to-escape-sandbox"`, `srcdoc="&lt;base target=&#34;_blank&#34;&gt;&lt;p&gt;`, `<pre>Details: <a href="https://status.example.com/incidents/1" target="_blank"`} {
		if !strings.Contains(page, want) {
			t.Errorf("mailbox page lacks %s:\n%s", want, page)
		}
	}
}

// TestFaultPanelSaysWhatEachSwitchBreaks: every switch on the panel carries
// its one line.
func TestFaultPanelSaysWhatEachSwitchBreaks(t *testing.T) {
	d, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(false)
	n := 0
	for _, g := range d.FaultGroups() {
		for _, s := range g.Switches {
			n++
			if s.Breaks == "" || !strings.Contains(s.Breaks, "(") {
				t.Errorf("%s: %q, want one line naming the check it fails", s.Name, s.Breaks)
			}
		}
	}
	if n != len(d.Faults()) {
		t.Errorf("%d switches for %d faults", n, len(d.Faults()))
	}
}
