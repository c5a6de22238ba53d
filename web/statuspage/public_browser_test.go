package statuspage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/probed/probed/internal/browsertest"
)

// TestBrowser loads the front page and an incident page in English and
// Japanese in real Chromium and checks what a visitor sees.
func TestBrowser(t *testing.T) {
	_, ts := newFixture(t)
	ctx := browsertest.New(t)
	shots := t.TempDir()

	type frontPage struct {
		Lang       string   `json:"lang"`
		Banner     string   `json:"banner"`
		Components []string `json:"components"`
		AcmeStatus string   `json:"acmeStatus"`
		Bars       int      `json:"bars"`
		BarHeight  float64  `json:"barHeight"`
		BarColor   string   `json:"barColor"`
		Tip        string   `json:"tip"`
		OutageTip  string   `json:"outageTip"`
		OutageCls  string   `json:"outageClass"`
		ChildShown bool     `json:"childShown"`
		ChildAfter bool     `json:"childAfter"`
	}
	const readFront = `(() => {
		const q = s => document.querySelector(s);
		const acme = q('[data-component="acme"]');
		const bar = q('[data-component="ocsp"] .bars i:last-child');
		const r = {
			lang: document.documentElement.lang,
			banner: q('#banner').innerText.trim(),
			components: [...document.querySelectorAll('#components [data-component]')].map(e => e.dataset.component),
			acmeStatus: acme.querySelector('.st').innerText.trim(),
			bars: document.querySelectorAll('#components .bars i').length,
			barHeight: bar.getBoundingClientRect().height,
			barColor: getComputedStyle(bar).backgroundColor,
			childShown: acme.checkVisibility(),
		};
		bar.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
		const tip = q('#tip');
		r.tip = tip ? tip.textContent : '';
		const outage = document.querySelectorAll('[data-component="ocsp"] .bars i')[86];
		outage.dispatchEvent(new MouseEvent('mouseover', {bubbles: true}));
		r.outageTip = q('#tip').textContent;
		r.outageClass = outage.className;
		q('details.group > summary').click();
		r.childAfter = acme.checkVisibility() || q('details.group').open;
		return r;
	})()`

	for _, tc := range []struct {
		name, url, banner, status, tip, outageTip string
		lang                                      string
	}{
		{"index-en.png", ts.URL + "/", "Minor Service Outage", "Partial Outage", "Sep 16, 2021\n100.00% uptime\nNo incidents",
			"Sep 13, 2021\n97.91% uptime\nMajor outage 30 min\n• OCSP responder unavailable", "en"},
		{"index-ja.png", ts.URL + "/?lang=ja", "軽微なサービス障害が発生しています", "一部障害", "2021年9月16日\n稼働率 100.00%\nインシデントなし",
			"2021年9月13日\n稼働率 97.91%\n重大な障害 30分\n• OCSP responder unavailable", "ja"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(tc.url), chromedp.WaitVisible(chromedp.CSS("#components"))); err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		fp, err := chromedp.Run(ctx, chromedp.Evaluate[frontPage](readFront))
		if err != nil {
			t.Fatal(err)
		}
		browsertest.SaveShot(t, shots, tc.name, png)
		if fp.Lang != tc.lang || fp.Banner != tc.banner || fp.AcmeStatus != tc.status {
			t.Errorf("%s: lang %q banner %q acme %q", tc.url, fp.Lang, fp.Banner, fp.AcmeStatus)
		}
		if strings.Join(fp.Components, ",") != "certcentral,certcentral-api,acme,timestamp,ocsp,crl" {
			t.Errorf("%s: component tree %v", tc.url, fp.Components)
		}
		if fp.Bars != 5*90 || fp.BarHeight < 20 || fp.BarColor != "rgb(47, 204, 102)" {
			t.Errorf("%s: %d bars, height %.0f, colour %s", tc.url, fp.Bars, fp.BarHeight, fp.BarColor)
		}
		if fp.Tip != tc.tip {
			t.Errorf("%s: plain day tooltip %q, want %q", tc.url, fp.Tip, tc.tip)
		}
		if fp.OutageTip != tc.outageTip || fp.OutageCls != "partial" {
			t.Errorf("%s: outage day (%s) tooltip %q, want %q", tc.url, fp.OutageCls, fp.OutageTip, tc.outageTip)
		}
		if !fp.ChildShown || fp.ChildAfter {
			t.Errorf("%s: group child shown %v, after collapsing %v", tc.url, fp.ChildShown, fp.ChildAfter)
		}
	}

	type incidentPage struct {
		Lang     string   `json:"lang"`
		Title    string   `json:"title"`
		Labels   []string `json:"labels"`
		Meta     string   `json:"meta"`
		Affected string   `json:"affected"`
	}
	const readIncident = `(() => ({
		lang: document.documentElement.lang,
		title: document.querySelector('h1').innerText.trim(),
		labels: [...document.querySelectorAll('.update .label')].map(e => e.innerText.trim()),
		meta: document.querySelector('.update .meta').innerText.trim(),
		affected: document.querySelector('.affected').innerText.trim(),
	}))()`
	for _, tc := range []struct {
		name, acceptLanguage, lang, title, labels, meta, affected string
	}{
		{"incident-en.png", "en-US,en;q=0.9", "en", "ACME order processing delayed", "Identified,Update,Investigating",
			"Posted 20 minutes ago. Sep 16, 2021 - 11:40 UTC", "This incident affected: ACME"},
		{"incident-ja.png", "ja-JP,ja;q=0.9", "ja", "ACME の注文処理の遅延", "原因特定,更新,調査中",
			"20分前に投稿。 2021年09月16日 11:40 UTC", "影響を受けたコンポーネント: ACME"},
	} {
		setLang := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders,
				network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": tc.acceptLanguage}})
			return err
		})
		if err := chromedp.Do(ctx, setLang, chromedp.Navigate(ts.URL+"/incidents/101"), chromedp.WaitVisible(chromedp.CSS(".timeline"))); err != nil {
			t.Fatalf("incident %s: %v", tc.lang, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		ip, err := chromedp.Run(ctx, chromedp.Evaluate[incidentPage](readIncident))
		if err != nil {
			t.Fatal(err)
		}
		browsertest.SaveShot(t, shots, tc.name, png)
		if ip.Lang != tc.lang || ip.Title != tc.title || strings.Join(ip.Labels, ",") != tc.labels || ip.Meta != tc.meta || ip.Affected != tc.affected {
			t.Errorf("incident page %s: %+v", tc.lang, ip)
		}
	}
	// The uptime report and the history render too (in Japanese here: the
	// Accept-Language header set above is still in force).
	for _, tc := range []struct{ name, path, sel, want string }{
		{"uptime-ja.png", "/uptime", ".dips li", "稼働率 97.91%"},
		{"history-ja.png", "/history", ".month h2", "2021年9月"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+tc.path), chromedp.WaitVisible(chromedp.CSS(tc.sel))); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		browsertest.SaveShot(t, shots, tc.name, png)
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, tc.want) && !strings.Contains(text, strings.TrimPrefix(tc.want, "稼働率 ")) {
			t.Errorf("%s lacks %q", tc.path, tc.want)
		}
	}
	for _, name := range []string{"index-en.png", "index-ja.png", "incident-en.png", "incident-ja.png", "uptime-ja.png", "history-ja.png"} {
		if st, err := os.Stat(filepath.Join(shots, name)); err != nil || st.Size() < 10000 {
			t.Errorf("screenshot %s missing or empty: %v", name, err)
		}
	}
}

// TestPhoneWidthSaysThirtyDays: at 390 px the page shows each row's last
// 30 bars, and the words under them say so: the label reads "30 days ago"
// (not the 90 days, or the "since" of a young page) and the percentage is the uptime of those 30 days, the mean of
// the visible bars' days, not the whole row's figure.
func TestPhoneWidthSaysThirtyDays(t *testing.T) {
	_, ts := newFixture(t)
	ctx := browsertest.New(t)
	type row struct {
		Bars      int       `json:"bars"`
		Labels    []string  `json:"labels"`
		Pcts      []string  `json:"pcts"`
		DayPcts   []float64 `json:"dayPcts"`
		Scroll    bool      `json:"scroll"`
		WidePct   string    `json:"widePct"`
		WideLabel string    `json:"wideLabel"`
	}
	const read = `(() => {
		const row = document.querySelector('[data-component="ocsp"]');
		const shown = e => e.checkVisibility();
		const bars = [...row.querySelectorAll('.bars i')].filter(shown);
		const scale = row.querySelector('.scale');
		return {
			bars: bars.length,
			labels: [...scale.querySelectorAll('.from')].filter(shown).map(e => e.innerText.trim()),
			pcts: [...scale.querySelectorAll('.pct')].filter(shown).map(e => e.innerText.trim()),
			dayPcts: bars.map(b => { const m = (b.title || '').match(/([0-9.]+)%/); return m ? parseFloat(m[1]) : (b.className === 'nodata' ? -1 : 100); }),
			scroll: document.documentElement.scrollWidth > window.innerWidth,
			widePct: scale.querySelector('.pct.wide').textContent.trim(),
			wideLabel: scale.querySelector('.from.wide').textContent.trim(),
		};
	})()`
	for _, tc := range []struct{ lang, label string }{{"en", "30 days ago"}, {"ja", "30日前"}} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(ts.URL+"/?lang="+tc.lang), chromedp.WaitVisible(chromedp.CSS("#components"))); err != nil {
			t.Fatal(err)
		}
		r, err := chromedp.Run(ctx, chromedp.Evaluate[row](read))
		if err != nil {
			t.Fatal(err)
		}
		if r.Bars != 30 || r.Scroll {
			t.Errorf("%s: %d bars shown (want 30), horizontal scroll %v", tc.lang, r.Bars, r.Scroll)
		}
		if len(r.Labels) != 1 || r.Labels[0] != tc.label || r.WideLabel == tc.label {
			t.Errorf("%s: labels shown %q (want only %q; the hidden wide one %q)", tc.lang, r.Labels, tc.label, r.WideLabel)
		}
		if len(r.Pcts) != 1 || r.Pcts[0] == r.WidePct {
			t.Fatalf("%s: percentages shown %q, the 90-day one %q: want only the 30-day one, which differs (an outage 4 days ago)", tc.lang, r.Pcts, r.WidePct)
		}
		var sum float64
		for _, p := range r.DayPcts {
			if p < 0 {
				t.Fatalf("%s: a day without data among the last 30: %v", tc.lang, r.DayPcts)
			}
			sum += p
		}
		mean := sum / float64(len(r.DayPcts))
		var shown float64
		if _, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(r.Pcts[0], "稼働率")), "%f", &shown); err != nil {
			t.Fatalf("%s: percentage %q: %v", tc.lang, r.Pcts[0], err)
		}
		if d := shown - mean; d > 0.02 || d < -0.02 {
			t.Errorf("%s: shown %q, the visible 30 days average %.3f%%", tc.lang, r.Pcts[0], mean)
		}
	}
}
