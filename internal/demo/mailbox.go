package demo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/probed/probed/internal/mailsink"
)

// Mail is one received message as the mailbox shows it.
type Mail struct {
	ID       int               `json:"id"`
	Received time.Time         `json:"received"`
	From     string            `json:"from"`
	To       []string          `json:"to"`
	Subject  string            `json:"subject"`
	Headers  map[string]string `json:"headers"`
	Text     string            `json:"text"`
	HTML     string            `json:"html"`
	Error    string            `json:"error,omitempty"`
}

// headersShown are the headers the mailbox lists, in order.
var headersShown = []string{"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "List-Unsubscribe", "List-Unsubscribe-Post", "Content-Type"}

// ParseMail decodes a raw message: headers (RFC 2047 words decoded) and the
// text and HTML parts of a multipart/alternative body.
func ParseMail(m mailsink.Message) Mail {
	out := Mail{ID: m.ID, Received: m.Received, From: m.From, To: m.To, Headers: map[string]string{}}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		out.Error = err.Error()
		return out
	}
	dec := new(mime.WordDecoder)
	for _, h := range headersShown {
		v := msg.Header.Get(h)
		if v == "" {
			continue
		}
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		out.Headers[h] = v
	}
	out.Subject = out.Headers["Subject"]
	out.Text, out.HTML, err = bodyParts(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

func bodyParts(ctype, cte string, body io.Reader) (text, html string, err error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		b, _ := io.ReadAll(decodeCTE(body, cte))
		return string(b), "", nil
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return text, html, nil
			}
			if err != nil {
				return text, html, err
			}
			t, h, err := bodyParts(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p)
			if err != nil {
				return text, html, err
			}
			if text == "" {
				text = t
			}
			if html == "" {
				html = h
			}
		}
	}
	b, err := io.ReadAll(decodeCTE(body, cte))
	if err != nil {
		return "", "", err
	}
	if mt == "text/html" {
		return "", string(b), nil
	}
	return string(b), "", nil
}

func decodeCTE(r io.Reader, cte string) io.Reader {
	switch strings.ToLower(cte) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		// The decoder skips the line breaks of a wrapped body.
		return base64.NewDecoder(base64.StdEncoding, r)
	}
	return r
}

// linkURL finds the links in a text mail.
var linkURL = regexp.MustCompile(`https?://[^\s<>"]+[^\s<>".,;:!?)\]]`)

// linkify escapes a text part and makes its links clickable (opening in a
// new tab, outside the mailbox).
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range linkURL.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := template.HTMLEscapeString(text[m[0]:m[1]])
		b.WriteString(`<a href="` + u + `" target="_blank" rel="noopener noreferrer">` + u + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

// framed makes an HTML part's links open outside the mailbox's frame.
func framed(html string) string { return `<base target="_blank">` + html }

var mailboxTmpl = template.Must(template.New("mailbox").Funcs(template.FuncMap{"linkify": linkify, "framed": framed}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo mailbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + demoCSS + `</style></head>
<body><header><a href="/">Status page</a> · <a href="/admin/">Console</a> · <a href="/demo/faults">Fault panel</a> · <strong>Mailbox</strong> · <a href="/demo/chat">On-call chat</a></header>
<main><h1>Demo mailbox</h1>
<p class="muted">Every message probed sent to the built-in SMTP sink, newest first ({{len .}}). Mails are sent to the seeded subscribers of the affected components only.</p>
{{range .}}<details class="mail"><summary><span class="to">{{range $i, $t := .To}}{{if $i}}, {{end}}{{$t}}{{end}}</span> <span class="subject">{{.Subject}}</span> <span class="muted">{{.Received.Format "15:04:05"}}</span></summary>
<table class="headers">{{range $k, $v := .Headers}}<tr><th>{{$k}}</th><td>{{$v}}</td></tr>{{end}}</table>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
<h3>Text part</h3><pre>{{linkify .Text}}</pre>
<h3>HTML part</h3><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{{framed .HTML}}" title="HTML part of message {{.ID}}"></iframe>
</details>{{else}}<p>No mail yet. Break something in the <a href="/demo/faults">fault panel</a>, approve the draft in the <a href="/admin/">console</a>, and the subscribers' mail lands here.</p>{{end}}
</main></body></html>`))

// serveMailbox renders the mailbox page, or JSON with ?format=json.
func (d *Demo) serveMailbox(w http.ResponseWriter, r *http.Request) {
	msgs := d.Sink.Messages()
	mails := make([]Mail, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		mails = append(mails, ParseMail(msgs[i]))
	}
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(mails)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := mailboxTmpl.Execute(w, mails); err != nil {
		d.logger.Error("render mailbox", "err", err)
	}
}
