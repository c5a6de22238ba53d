package subscription

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// confirmLinkIn asks to subscribe addr to ocsp in language lang and
// returns the link of the confirmation mail.
func (e *subEnv) confirmLinkIn(addr, lang string) (link string, id int64) {
	e.t.Helper()
	req, err := e.st.RequestSubscription(e.ctx, addr, lang, []string{"ocsp"}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	text, _ := e.mailTo(addr)
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, "/subscribe/confirm?t=") {
			link = l
		}
	}
	if link == "" {
		e.t.Fatalf("no confirmation link in:\n%s", text)
	}
	return link, req.Subscriber.ID
}

// incidentLinks has an OCSP incident mailed to the (confirmed) addr and
// returns the manage and one-click unsubscribe links of the mail.
func (e *subEnv) incidentLinks(addr string) (manage, unsub string) {
	e.t.Helper()
	if _, err := e.st.CreateDraft(e.ctx, "op", status.NewIncident{Title: status.Text{"en": "OCSP delays"}, Body: status.Text{"en": "Investigating."},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}, Origin: status.OriginManual, Publish: true}); err != nil {
		e.t.Fatal(err)
	}
	e.drain()
	text, hdr := e.mailTo(addr)
	for _, l := range linkRE.FindAllString(text, -1) {
		if strings.Contains(l, "/subscriptions/manage?t=") {
			manage = l
		}
	}
	unsub = strings.Trim(hdr.Get("List-Unsubscribe"), "<>")
	if manage == "" || unsub == "" {
		e.t.Fatalf("links missing from the incident mail: manage %q unsubscribe %q\n%s", manage, unsub, text)
	}
	return manage, unsub
}

// browserPage is what a subscriber page shows in Chromium.
type browserPage struct {
	Lang    string `json:"lang"`
	Heading string `json:"heading"`
	Address string `json:"address"`
	Error   string `json:"error"`
	Saved   string `json:"saved"`
	URL     string `json:"url"`
}

const readSubPage = `(() => {
	const t = s => { const e = document.querySelector(s); return e ? e.innerText.trim() : ''; };
	return {lang: document.documentElement.lang, heading: t('h1'), address: t('#address'),
		error: t('.err'), saved: t('#saved'), url: location.pathname + location.search};
})()`

// TestMailedManageLinkSwitchLanguageInBrowser: in Chromium, a subscriber
// opens the manage link of a mail, switches to 日本語 with the page's own
// link, saves (Japanese is now its language), switches back to English:
// the page keeps working (the token stays) at every step.
func TestMailedManageLinkSwitchLanguageInBrowser(t *testing.T) {
	e := newSubEnv(t)
	if _, id := e.confirmLinkIn("taro@example.com", "en"); true {
		if _, err := e.st.ConfirmSubscription(e.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	manage, _ := e.incidentLinks("taro@example.com")
	ctx := browsertest.New(t)
	shots := t.TempDir()
	read := func(step string) browserPage {
		t.Helper()
		p, err := chromedp.Run(ctx, chromedp.Evaluate[browserPage](readSubPage))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return p
	}
	do := func(step string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v (page: %+v)", step, err, read(step))
		}
	}
	do("open the mailed link", chromedp.Navigate(manage), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #address`)))
	if p := read("mailed link"); p.Heading != "Your subscription" || p.Address != "taro@example.com" || p.Error != "" {
		t.Fatalf("the mailed manage link: %+v", p)
	}
	do("switch to 日本語", chromedp.Click(chromedp.CSS(`a.lang[hreflang="ja"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="ja"] h1`)))
	ja := read("switched to 日本語")
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	browsertest.SaveShot(t, shots, "manage-ja.png", png)
	if ja.Heading != "登録内容" || ja.Address != "taro@example.com" || ja.Error != "" || !strings.Contains(ja.URL, "t=") {
		t.Fatalf("after switching to 日本語 the page is %+v; want the manage page in Japanese with its token", ja)
	}
	do("tick CRL and save", chromedp.Click(chromedp.CSS(`input[name=c][value="crl"]`)), chromedp.Click(chromedp.CSS("#save")),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="ja"] #saved`)))
	if p := read("saved"); p.Saved != "保存しました。" {
		t.Fatalf("after saving in Japanese: %+v", p)
	}
	if sub := e.subscriber("taro@example.com"); strings.Join(sub.Components, ",") != "crl,ocsp" || sub.Language != "ja" {
		t.Errorf("saved components %v, language %q; want crl,ocsp, and ja (the page's) for the links mailed from now on", sub.Components, sub.Language)
	}
	do("switch back to English", chromedp.Click(chromedp.CSS(`a.lang[hreflang="en"]`)), chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] #address`)))
	if p := read("back in English"); p.Heading != "Your subscription" || p.Address != "taro@example.com" || p.Error != "" {
		t.Fatalf("after switching back to English: %+v", p)
	}
}

// TestJapaneseSubscriberMailedLinksInBrowser: in Chromium (which asks for
// English), every link mailed to a subscriber who signed up in Japanese
// opens a Japanese page, and the confirm button works there.
func TestJapaneseSubscriberMailedLinksInBrowser(t *testing.T) {
	e := newSubEnv(t)
	ctx := browsertest.New(t)
	page := func(what, link string, wait string) browserPage {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(wait))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		p, err := chromedp.Run(ctx, chromedp.Evaluate[browserPage](readSubPage))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	confirm, _ := e.confirmLinkIn("hanako@example.jp", "ja")
	if p := page("confirm", confirm, "h1"); p.Lang != "ja" || p.Heading != "登録の確認" {
		t.Fatalf("the mailed confirmation link %s opens %+v; want the Japanese confirmation page", confirm, p)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS(`html[lang="ja"] .ok`))); err != nil {
		t.Fatalf("press 登録を確認する: %v", err)
	}
	if sub := e.subscriber("hanako@example.jp"); sub.State != store.SubscriberActive {
		t.Fatalf("after pressing the button in Japanese the subscriber is %s", sub.State)
	}
	manage, unsub := e.incidentLinks("hanako@example.jp")
	for _, tc := range []struct{ what, link, heading string }{
		{"manage", manage, "登録内容"},
		{"unsubscribe", unsub, "配信停止"},
	} {
		if p := page(tc.what, tc.link, "h1"); p.Lang != "ja" || p.Heading != tc.heading || !strings.Contains(p.URL, "t=") {
			t.Errorf("the mailed %s link %s opens %+v; want the Japanese page %q", tc.what, tc.link, p, tc.heading)
		}
	}
}
