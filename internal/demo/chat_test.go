package demo

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
)

// TestChatTakesSlackPosts: the demo's probes.yaml names its chat as a
// Slack-compatible operator webhook (the URL, a secret, in chat-url); the
// chat takes a post at that URL, refuses another token (404) and a body
// without text (400), and shows mrkdwn as HTML without letting markup in.
func TestChatTakesSlackPosts(t *testing.T) {
	d, err := Start(context.Background(), Options{Listen: "127.0.0.1:0", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(false)
	cfg, err := config.Load(d.ConfigPath, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	ws := cfg.Notify.OperatorWebhooks
	raw, _ := os.ReadFile(filepath.Join(d.Dir, "chat-url"))
	if len(ws) != 1 || ws[0].Format != config.FormatSlack || ws[0].Target != strings.TrimSpace(string(raw)) || !strings.Contains(ws[0].Target, "/chat/hooks/") {
		t.Fatalf("operator webhooks %+v", ws)
	}
	post := func(url, body string) int {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("X-Probed-Event", "draft_created")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	text := `*Draft incident waiting for approval: OCSP &lt;stale&gt; &amp; co*\n> <script>x</script>\n<http://127.0.0.1:8080/admin/incidents/1|Open in the console>`
	if code := post(ws[0].Target, `{"text": "`+text+`"}`); code != 200 {
		t.Fatalf("post: %d", code)
	}
	if code := post(d.http.URL+"/chat/hooks/wrong", `{"text": "x"}`); code != 404 {
		t.Errorf("wrong token: %d", code)
	}
	if code := post(ws[0].Target, `{"blocks": []}`); code != 400 {
		t.Errorf("no text: %d", code)
	}
	rec := httptest.NewRecorder()
	d.serveChat(rec, httptest.NewRequest(http.MethodGet, "/demo/chat", nil))
	page := rec.Body.String()
	for _, want := range []string{`data-event="draft_created"`, `<strong>Draft incident waiting for approval: OCSP &lt;stale&gt; &amp; co</strong>`,
		`<span class="quote">&lt;script&gt;x&lt;/script&gt;</span>`, `<a href="http://127.0.0.1:8080/admin/incidents/1" target="_blank" rel="noopener">Open in the console</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("chat page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script>") {
		t.Error("markup from a post reached the page")
	}
	if msgs := d.chat.Messages(); len(msgs) != 1 || msgs[0].Event != "draft_created" {
		t.Errorf("messages %+v", msgs)
	}
}
