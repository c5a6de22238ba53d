package subscription

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/probed/probed/config"
	"github.com/probed/probed/words/wordstest"
)

// In a pseudo-locale whose every text is wrapped in ⟦ ⟧, the subscriber
// pages show no fixed text outside the catalogue: only the page's name and
// the components' names are left unwrapped.
func TestSubscriberPagesPseudoLocale(t *testing.T) {
	e := newSubEnv(t)
	pseudo, err := wordstest.Pseudo()
	if err != nil {
		t.Fatal(err)
	}
	cfg := *e.cfg
	cfg.Page.Languages = []string{wordstest.Code}
	e.cfg = &cfg
	mux := http.NewServeMux()
	New(Options{Subscriptions: e.subs, Words: pseudo}).Routes(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	data := []string{cfg.Page.Name}
	var walk func([]config.Component)
	walk = func(cs []config.Component) {
		for _, c := range cs {
			data = append(data, c.Name)
			walk(c.Components)
		}
	}
	walk(cfg.Components)
	for _, path := range []string{"/subscribe", "/subscribe/confirm?t=bad", "/subscriptions/manage?t=bad", "/unsubscribe?t=bad"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text := wordstest.PageText(string(b))
		if !strings.Contains(text, "⟦") {
			t.Errorf("%s (%d): no catalogue text at all:\n%s", path, resp.StatusCode, b)
		}
		if esc := wordstest.Escapes(text, data...); len(esc) > 0 {
			t.Errorf("%s (%d): fixed text outside the catalogue: %q", path, resp.StatusCode, esc)
		}
	}
}
