package demo

import (
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// ChatMessage is one post probed's operator webhook (notify.operator_webhooks,
// format slack) made to the demo's on-call chat.
type ChatMessage struct {
	ID       int       `json:"id"`
	Received time.Time `json:"received"`
	Event    string    `json:"event"` // X-Probed-Event
	Text     string    `json:"text"`  // Slack mrkdwn
}

// chat is the demo's stand-in for a chat service's incoming webhook: it
// takes Slack-compatible posts at /chat/hooks/<token> on the simulated CA's
// listener and keeps the latest 200.
type chat struct {
	token string
	mu    sync.Mutex
	msgs  []ChatMessage
	next  int
}

const chatKeep = 200

func (c *chat) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST /chat/hooks/{token}", c.post)
}

// post answers as Slack does: 200 "ok", 404 for an unknown hook, 400 for a
// body without text.
func (c *chat) post(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("token") != c.token {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	var m struct {
		Text string `json:"text"`
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(b, &m) != nil || strings.TrimSpace(m.Text) == "" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.next++
	c.msgs = append(c.msgs, ChatMessage{ID: c.next, Received: time.Now(), Event: r.Header.Get("X-Probed-Event"), Text: m.Text})
	if len(c.msgs) > chatKeep {
		c.msgs = c.msgs[len(c.msgs)-chatKeep:]
	}
	c.mu.Unlock()
	io.WriteString(w, "ok")
}

// Messages returns the chat's messages, newest first.
func (c *chat) Messages() []ChatMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]ChatMessage, 0, len(c.msgs))
	for i := len(c.msgs) - 1; i >= 0; i-- {
		out = append(out, c.msgs[i])
	}
	return out
}

var (
	mrkdwnLink = regexp.MustCompile(`&lt;(https?://[^|\s]+?)\|(.+?)&gt;`)
	mrkdwnBold = regexp.MustCompile(`\*([^*\n]+)\*`)
)

// mrkdwn renders the Slack mrkdwn probed writes (links <url|text>, *bold*,
// > quotes, &amp; &lt; &gt;) as HTML, escaping everything else.
func mrkdwn(s string) template.HTML {
	h := template.HTMLEscapeString(s)
	h = mrkdwnLink.ReplaceAllString(h, `<a href="$1" target="_blank" rel="noopener">$2</a>`)
	h = mrkdwnBold.ReplaceAllString(h, `<strong>$1</strong>`)
	h = strings.NewReplacer("&amp;lt;", "&lt;", "&amp;gt;", "&gt;", "&amp;amp;", "&amp;").Replace(h)
	lines := strings.Split(h, "\n")
	for i, l := range lines {
		if q, ok := strings.CutPrefix(l, "&gt; "); ok {
			lines[i] = `<span class="quote">` + q + `</span>`
		}
	}
	return template.HTML(strings.Join(lines, "<br>"))
}

var chatTmpl = template.Must(template.New("chat").Funcs(template.FuncMap{"mrkdwn": mrkdwn}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo on-call chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + demoCSS + `.chat{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;margin:8px 0;overflow-wrap:anywhere}.quote{display:block;border-left:3px solid #d0d7de;padding-left:8px;color:#57606a}</style></head>
<body><header><a href="/">Status page</a> · <a href="/admin/">Console</a> · <a href="/demo/faults">Fault panel</a> · <a href="/demo/mail">Mailbox</a> · <strong>On-call chat</strong></header>
<main><h1>On-call chat</h1>
<p class="muted">What probed's operator webhook (<code>notify.operator_webhooks</code>, Slack-compatible) posted, newest first ({{len .}}): a draft waiting, approved, rejected or withdrawn, a resolve proposed.</p>
{{range .}}<div class="chat" data-event="{{.Event}}"><span class="muted">{{.Received.Format "15:04:05"}} · {{.Event}}</span><br>{{mrkdwn .Text}}</div>
{{else}}<p>Nothing yet. Break something in the <a href="/demo/faults">fault panel</a>: the draft is announced here.</p>{{end}}
</main></body></html>`))

// serveChat renders the chat page, or JSON with ?format=json.
func (d *Demo) serveChat(w http.ResponseWriter, r *http.Request) {
	msgs := d.chat.Messages()
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(msgs)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := chatTmpl.Execute(w, msgs); err != nil {
		d.logger.Error("render chat", "err", err)
	}
}
