package demo

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/probed/probed/web/console"
)

const demoCSS = `body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Hiragino Sans","Noto Sans JP",sans-serif;margin:0;color:#1d2530;background:#f6f8fa}
header{background:#1d2530;color:#fff;padding:.7em 1.5em}header a{color:#cfe3ff}
main{max-width:960px;margin:1.5em auto;padding:0 1em}h1{font-size:1.5em}.muted{color:#5b6675}
.group{background:#fff;border:1px solid #dde3ea;border-radius:6px;margin:1em 0;padding:.8em 1.2em}
.group h2{font-size:1.1em;margin:.2em 0 .6em}.switches{display:flex;flex-wrap:wrap;gap:.5em}
.switches form{margin:0}.switches button{border:1px solid #c3ccd6;background:#fff;border-radius:4px;padding:.35em .7em;cursor:pointer;font:inherit;font-size:.9em}
.switches button.on{background:#d9363e;border-color:#b72b32;color:#fff}
.mail{background:#fff;border:1px solid #dde3ea;border-radius:6px;margin:.6em 0;padding:.6em 1em}
.mail summary{cursor:pointer}.mail .to{font-weight:600}.mail .subject{margin-left:.6em}
.headers{font-size:.85em;border-collapse:collapse;margin:.6em 0}.headers th{text-align:left;padding-right:1em;color:#5b6675;vertical-align:top}
.headers td{word-break:break-all}pre{white-space:pre-wrap;background:#f6f8fa;padding:.8em;border-radius:4px}
iframe{width:100%;height:420px;border:1px solid #dde3ea;border-radius:4px}.error{color:#b72b32}`

var faultsTmpl = template.Must(template.New("faults").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fault panel</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>` + demoCSS + `</style></head>
<body><header><a href="/">Status page</a> · <a href="/admin/">Console</a> · <strong>Fault panel</strong> · <a href="/demo/mail">Mailbox</a> · <a href="/demo/chat">On-call chat</a></header>
<main><h1>Fault panel</h1>
<p class="muted">Break a service of the simulated CA. Probes run every few seconds; after two failed runs in a row probed drafts an incident in the <a href="/admin/">console</a>. Nothing is public until you approve it. Red switches are on; click again to clear the fault and watch the resolve proposal appear.</p>
<section class="group"><h2>Scheduled maintenance</h2>
<form method="post" action="/demo/maintenance"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">Schedule a 3-minute CRL maintenance starting in a minute</button></form>
<p class="muted">Subscribers of the CRL get the scheduled, started and completed mails; probe failures of the CRL during the window draft nothing.</p></section>
{{$csrf := .CSRF}}{{range .Groups}}<section class="group"><h2>{{.Title}}</h2><div class="switches">
{{range .Switches}}<form method="post" action="/demo/faults"><input type="hidden" name="csrf" value="{{$csrf}}"><input type="hidden" name="fault" value="{{.Name}}"><input type="hidden" name="on" value="{{if .On}}0{{else}}1{{end}}"><button class="{{if .On}}on{{end}}" type="submit" aria-pressed="{{.On}}" aria-describedby="breaks-{{.Name}}">{{.Name}}</button> <small class="muted breaks" id="breaks-{{.Name}}">{{.Breaks}}</small></form>
{{end}}</div></section>{{end}}
</main></body></html>`))

func (d *Demo) serveFaults(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") || r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		on := map[string]bool{}
		for f, v := range d.Sim.Faults() {
			on[string(f)] = v
		}
		list := make([]FaultSwitch, 0)
		for _, f := range d.Faults() {
			list = append(list, FaultSwitch{Name: string(f), On: on[string(f)], Breaks: f.Breaks()})
		}
		_ = json.NewEncoder(w).Encode(list)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	csrf := ""
	if op, ok := console.OperatorFrom(r.Context()); ok && op.Session != nil {
		csrf = op.Session.CSRF
	}
	if err := faultsTmpl.Execute(w, map[string]any{"Groups": d.FaultGroups(), "CSRF": csrf}); err != nil {
		d.logger.Error("render fault panel", "err", err)
	}
}

// postFault switches a fault: a form post (redirects back to the panel) or
// JSON {"fault": "ocsp_stale", "on": true}.
func (d *Demo) postFault(w http.ResponseWriter, r *http.Request) {
	var name string
	var on bool
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Fault string `json:"fault"`
			On    bool   `json:"on"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
			http.Error(w, "bad JSON: want {\"fault\": NAME, \"on\": true|false}", http.StatusBadRequest)
			return
		}
		name, on = body.Fault, body.On
	} else {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		name, on = r.PostForm.Get("fault"), r.PostForm.Get("on") == "1"
	}
	if err := d.SetFault(name, on); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(FaultSwitch{Name: name, On: on})
		return
	}
	http.Redirect(w, r, "/demo/faults", http.StatusSeeOther)
}
