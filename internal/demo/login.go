package demo

import (
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/probed/probed/web/console"
)

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo console login</title>
<style>` + demoCSS + `</style></head>
<body><header><a href="/">Status page</a></header>
<main><h1>Log in to the demo console</h1>
{{if .Valid}}<p>This one-time link logs you in as the demo operator.</p>
<form method="post"><input type="hidden" name="next" value="{{.Next}}"><button type="submit">Log in to the console</button></form>
{{else}}<p>This login link was used already. Log in at <a href="/admin/login?next={{.Next}}">/admin/login</a> with the operator token the demo printed.</p>{{end}}
</main></body></html>`))

// serveLogin shows a button; following the link changes nothing (mail and
// chat scanners open links), the POST logs in.
func (d *Demo) serveLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = loginTmpl.Execute(w, struct {
		Valid bool
		Next  string
	}{d.loginKeyValid(r.PathValue("key")), console.SafeNext(r.URL.Query().Get("next"))})
}

func (d *Demo) loginKeyValid(key string) bool {
	d.loginMu.Lock()
	defer d.loginMu.Unlock()
	return d.LoginKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(d.LoginKey)) == 1
}

// postLogin spends the one-time key and opens a console session.
func (d *Demo) postLogin(w http.ResponseWriter, r *http.Request) {
	d.loginMu.Lock()
	ok := d.LoginKey != "" && subtle.ConstantTimeCompare([]byte(r.PathValue("key")), []byte(d.LoginKey)) == 1
	if ok {
		d.LoginKey = ""
	}
	d.loginMu.Unlock()
	if !ok {
		http.Error(w, "this one-time login link was used already; log in at /admin/login with the demo's operator token", http.StatusForbidden)
		return
	}
	if d.Hooks.Session == nil {
		http.Error(w, "console login is not available", http.StatusServiceUnavailable)
		return
	}
	secret, err := d.Hooks.Session(r.Context())
	if err != nil {
		http.Error(w, "open a session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: console.SessionCookie, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Expires: time.Now().Add(12 * time.Hour)})
	// Where the link pointed (?next=, kept by the form), on the console only.
	http.Redirect(w, r, console.SafeNext(r.FormValue("next")), http.StatusSeeOther)
}

// postMaintenance schedules a short maintenance of the CRL distribution
// point starting in a minute, so its whole life (scheduled, in progress,
// completed, and the three mails) fits in a coffee break.
func (d *Demo) postMaintenance(w http.ResponseWriter, r *http.Request) {
	if d.Hooks.ScheduleMaintenance == nil {
		http.Error(w, "maintenance is not available", http.StatusServiceUnavailable)
		return
	}
	actor := "demo"
	if op, ok := console.OperatorFrom(r.Context()); ok {
		actor = op.Name
	}
	start := time.Now().Add(time.Minute).Truncate(time.Second)
	id, err := d.Hooks.ScheduleMaintenance(r.Context(), actor, []string{"crl"}, start, 3*time.Minute)
	if err != nil {
		http.Error(w, "schedule maintenance: "+err.Error(), http.StatusBadRequest)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/maintenance/%d", id), http.StatusSeeOther)
}
