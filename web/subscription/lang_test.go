package subscription

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/probed/probed/notify"
)

var hrefRE = regexp.MustCompile(`<a [^>]*href="([^"]*)"[^>]*>([^<]*)</a>`)

// links maps each link text of a page to its href, unescaped as a browser reads it.
func links(p subPage) map[string]string {
	out := map[string]string{}
	for _, m := range hrefRE.FindAllStringSubmatch(p.body, -1) {
		out[html.UnescapeString(m[2])] = html.UnescapeString(m[1])
	}
	return out
}

// TestLanguageLinks: the language switcher is a real query (not the
// escaped "?lang%3dja"), and every header link carries the language a
// visitor reads in, whether chosen with ?lang= or by the browser.
func TestLanguageLinks(t *testing.T) {
	e := newSubEnv(t)
	c := browser(t, "")
	for _, tc := range []struct {
		name, path string
		hdr        []string
	}{
		{"chosen", "/subscribe?lang=ja", nil},
		{"browser", "/subscribe", []string{"Accept-Language", "ja,en;q=0.5"}},
	} {
		p := e.do(c, "GET", tc.path, nil, tc.hdr...)
		l := links(p)
		if p.code != 200 || !strings.Contains(p.body, `<html lang="ja">`) {
			t.Fatalf("%s: %d, want a Japanese page", tc.name, p.code)
		}
		if strings.Contains(strings.ToLower(p.body), "%3d") {
			t.Errorf("%s: an escaped '=' in a link:\n%s", tc.name, p.body)
		}
		if got := l["English"]; got != "/subscribe?lang=en" {
			t.Errorf("%s: the English link is %q, want /subscribe?lang=en", tc.name, got)
		}
		if got := l["インシデント履歴"]; got != "/history?lang=ja" {
			t.Errorf("%s: the header's history link is %q, want /history?lang=ja", tc.name, got)
		}
		if got := l["Example CA"]; got != "/?lang=ja" {
			t.Errorf("%s: the header's home link is %q, want /?lang=ja", tc.name, got)
		}
	}
	// English, the page's first language, needs no parameter.
	if l := links(e.do(c, "GET", "/subscribe", nil)); l["Incident History"] != "/history" || l["日本語"] != "/subscribe?lang=ja" {
		t.Errorf("English page links: %v", l)
	}
}

// TestJapaneseSubscriberLinks: a subscription made on the Japanese page
// keeps the language; every link mailed to the subscriber (confirm,
// manage, unsubscribe) opens the Japanese page; from a mailed manage or
// unsubscribe link the language switcher keeps the token, also after a
// save, so the page keeps working in either language.
func TestJapaneseSubscriberLinks(t *testing.T) {
	e := newSubEnv(t)
	c := browser(t, "")
	const addr = "hanako@example.jp"
	form := e.do(c, "GET", "/subscribe?lang=ja", nil)
	f := hidden(form)
	f.Set("email", addr)
	f["c"] = []string{"ocsp"}
	f.Set("solution", notify.Solve(f.Get("challenge")))
	if p := e.do(c, "POST", "/subscribe?lang=ja", f); p.code != 200 {
		t.Fatalf("subscribe: %d\n%s", p.code, p.body)
	}
	if sub := e.subscriber(addr); sub.Language != "ja" {
		t.Fatalf("the subscriber's language is %q, want ja", sub.Language)
	}
	e.drain()
	text, _ := e.mailTo(addr)
	confirmLink := ""
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, "/subscribe/confirm?t=") {
			confirmLink = l
		}
	}
	if !strings.HasSuffix(confirmLink, "&lang=ja") {
		t.Fatalf("the mailed confirmation link %q does not carry lang=ja", confirmLink)
	}
	// Opened in a browser that prefers English, the link still says Japanese.
	cp := e.do(c, "GET", confirmLink, nil, "Accept-Language", "en")
	if cp.code != 200 || !strings.Contains(cp.body, `<html lang="ja">`) || !strings.Contains(cp.body, "登録を確認する") {
		t.Fatalf("confirmation page from the mail: %d, want Japanese\n%s", cp.code, cp.body)
	}
	done := e.do(c, "POST", "/subscribe/confirm?lang=ja", hidden(cp))
	if done.code != 200 || !strings.Contains(links(done)["受信するコンポーネントを変更する"], "lang=ja") {
		t.Fatalf("confirmed page: %d, its manage link must open in Japanese\n%s", done.code, done.body)
	}

	// An incident mail: its manage and one-click links carry the language.
	manageLink, unsubLink := e.incidentLinks(addr)
	for what, link := range map[string]string{"manage": manageLink, "unsubscribe": unsubLink} {
		if !strings.HasSuffix(link, "&lang=ja") {
			t.Errorf("the mailed %s link %q does not carry lang=ja", what, link)
		}
	}

	// From the mailed manage link: Japanese; switch to English and back.
	mp := e.do(c, "GET", manageLink, nil, "Accept-Language", "en")
	if mp.code != 200 || !strings.Contains(mp.body, "登録内容") || !strings.Contains(mp.body, addr) {
		t.Fatalf("manage page from the mail: %d\n%s", mp.code, mp.body)
	}
	en := e.do(c, "GET", e.base+links(mp)["English"], nil)
	if en.code != 200 || !strings.Contains(en.body, "Your subscription") || !strings.Contains(en.body, addr) {
		t.Fatalf("manage page switched to English (%s): %d\n%s", links(mp)["English"], en.code, en.body)
	}
	ja := e.do(c, "GET", e.base+links(en)["日本語"], nil)
	if ja.code != 200 || !strings.Contains(ja.body, "登録内容") || !strings.Contains(ja.body, addr) {
		t.Fatalf("manage page switched back to Japanese (%s): %d\n%s", links(en)["日本語"], ja.code, ja.body)
	}
	// After a save (the token came in the form, not the URL) the switch still works.
	saveForm := hidden(ja)
	saveForm["c"] = []string{"ocsp", "crl"}
	saved := e.do(c, "POST", "/subscriptions/manage?lang=ja", saveForm)
	if saved.code != 200 || !strings.Contains(saved.body, "保存しました") {
		t.Fatalf("save: %d\n%s", saved.code, saved.body)
	}
	if after := e.do(c, "GET", e.base+links(saved)["English"], nil); after.code != 200 || !strings.Contains(after.body, addr) {
		t.Fatalf("switching language after a save (%s): %d\n%s", links(saved)["English"], after.code, after.body)
	}

	// From the mailed unsubscribe link: Japanese, and the switch keeps the token.
	up := e.do(c, "GET", unsubLink, nil, "Accept-Language", "en")
	if up.code != 200 || !strings.Contains(up.body, "配信停止") || !strings.Contains(up.body, addr) {
		t.Fatalf("unsubscribe page from the mail: %d\n%s", up.code, up.body)
	}
	if ue := e.do(c, "GET", e.base+links(up)["English"], nil); ue.code != 200 || !strings.Contains(ue.body, "Stop all status mail to") {
		t.Fatalf("unsubscribe page switched to English: %d\n%s", ue.code, ue.body)
	}
}
