// Package demo runs probed's offline demonstration: a simulated CA (OCSP,
// CRL, TSA, ACME, a REST API and a portal) on loopback, a probes.yaml that
// watches it with short intervals, an SMTP sink with a mailbox page, and a
// fault panel to break things with.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/internal/pkisim"
)

// Options configure a demo. The zero value is usable.
type Options struct {
	// Listen is the address of the status page and console (default 127.0.0.1:8080).
	Listen string
	// Dir holds the generated files; empty makes a temporary folder.
	Dir string
	// Interval between probe runs (default 5s).
	Interval time.Duration
	Logger   *slog.Logger
}

// Demo is a running simulated CA, its mail sink and the files written for it.
type Demo struct {
	Dir        string
	ConfigPath string
	Listen     string
	Sim        *pkisim.Sim
	Sink       *mailsink.Server

	// Hooks are set by cmd/probed before serving.
	Hooks Hooks
	// LoginKey is the one-time key of the console login link.
	LoginKey string

	loginMu sync.Mutex
	ownDir  bool
	// chat receives the operator webhook's posts (chat.go).
	chat *chat
	// interval is the probes' interval of a CA-only run's fragment.
	interval time.Duration
	http     *httptest.Server
	acme     *httptest.Server
	logger   *slog.Logger
	closers  []func()
}

// Subscribers the demo seeds: one per component group, one for everything.
var Subscribers = []struct {
	Email      string
	Components []string // nil: every component
}{
	{"certcentral@subscribers.example", []string{"certcentral-api", "certcentral-console", "acme"}},
	{"timestamp@subscribers.example", []string{"timestamp"}},
	{"ocsp@subscribers.example", []string{"ocsp"}},
	{"crl@subscribers.example", []string{"crl"}},
	{"everything@subscribers.example", nil},
}

// Start builds the simulated CA and the mail sink on loopback and writes
// probes.yaml and the certificates it names.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:8080"
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Demo{Listen: opts.Listen, Dir: opts.Dir, logger: opts.Logger, LoginKey: rand.Text(), chat: &chat{token: rand.Text()}}
	if d.Dir == "" {
		dir, err := os.MkdirTemp("", "probed-demo-")
		if err != nil {
			return nil, fmt.Errorf("start demo: %w", err)
		}
		d.Dir, d.ownDir = dir, true
	}
	fail := func(err error) (*Demo, error) {
		d.Close(false)
		return nil, fmt.Errorf("start demo: %w", err)
	}
	if err := d.startSim("127.0.0.1:0", "127.0.0.1:0", d.chat.routes); err != nil {
		return fail(err)
	}
	var err error
	d.Sink, err = mailsink.Start(mailsink.Options{Keep: 2000})
	if err != nil {
		return fail(err)
	}
	d.closers = append(d.closers, func() { d.Sink.Close() })
	d.ConfigPath = filepath.Join(d.Dir, "probes.yaml")
	if err := d.writeConfig(opts.Interval); err != nil {
		return fail(err)
	}
	return d, nil
}

var configTmpl = template.Must(template.New("probes.yaml").Parse(`# probes.yaml written by probed demo: a small CA with every probe kind.
# Copy it as a starting point: replace the URLs and certificates with yours.
page:
  name: Demo CA
  url: http://{{.Listen}}
  time_zone: UTC
  languages: [en, ja]
server:
  listen: {{.Listen}}
storage:
  path: probed.db
location: demo-1
{{template "catalog" .}}incidents:
  failures_to_open: 2
  successes_to_close: 2
notify:
  from: "Demo CA Status <noreply@status.demo.example>"
  smtp: {host: 127.0.0.1, port: {{.SMTPPort}}, tls: none}
  # The on-call chat: drafts and resolve proposals posted as a Slack-compatible
  # incoming webhook (its URL, a secret, in chat-url); the demo shows them at /demo/chat.
  operator_webhooks:
    - {name: demo-chat, format: slack, url_file: chat-url, console_url: "http://{{.Listen}}"}
{{define "catalog"}}components:
  - id: certcentral
    name: CertCentral
    components:
      - {id: certcentral-api, name: CertCentral API, description: REST API for certificate orders, latency_objective: 1s}
      - {id: certcentral-console, name: CertCentral Console, description: Customer portal}
      - {id: acme, name: ACME, description: RFC 8555 certificate automation}
  - {id: timestamp, name: Code Signing Timestamp Service, description: RFC 3161 timestamp authority}
  - {id: ocsp, name: Online Certificate Status Protocol (OCSP), description: Revocation status responder}
  - {id: crl, name: Certificate Revocation List (CRL), description: CRL distribution point}
probes:
  - name: certcentral-api
    component: certcentral-api
    kind: http
    interval: {{.Interval}}
    timeout: {{.APITimeout}}
    http:
      url: {{.Base}}/api/v1/health
      status: [200]
      json: [{path: status, equal: ok}]
  - name: certcentral-console
    component: certcentral-console
    kind: http
    interval: {{.Interval}}
    http:
      url: {{.Base}}/portal/
      body_matches: ["Sign in"]
      body_not_matches: ["(?i)maintenance"]
  - name: acme-directory
    component: acme
    kind: acme
    interval: {{.Interval}}
    acme:
      directory: {{.ACME}}/acme/directory
      roots: {{.PKI}}/acme-tls.pem
  - name: tsa
    component: timestamp
    kind: tsa
    interval: {{.Interval}}
    tsa:
      url: {{.Base}}/tsa
      roots: {{.PKI}}/tsa-root.pem
  - name: ocsp-good
    component: ocsp
    kind: ocsp
    interval: {{.Interval}}
    ocsp:
      certificate: {{.PKI}}/good.pem
      issuer: {{.PKI}}/issuer.pem
      expect: good
      methods: [post, get]
  - name: ocsp-revoked
    component: ocsp
    kind: ocsp
    interval: {{.Interval}}
    ocsp:
      certificate: {{.PKI}}/revoked.pem
      issuer: {{.PKI}}/issuer.pem
      expect: revoked
  - name: crl
    component: crl
    kind: crl
    interval: {{.Interval}}
    crl:
      url: {{.Base}}/crl/issuer.crl
      issuer: {{.PKI}}/issuer.pem
{{end}}`))

func (d *Demo) writeConfig(interval time.Duration) error {
	f, err := os.Create(d.ConfigPath)
	if err != nil {
		return err
	}
	defer f.Close()
	vars := d.catalogVars(interval, "pki")
	vars["Listen"], vars["SMTPPort"] = d.Listen, d.Sink.Port()
	if err := os.WriteFile(filepath.Join(d.Dir, "chat-url"), []byte(d.http.URL+"/chat/hooks/"+d.chat.token+"\n"), 0o600); err != nil {
		return err
	}
	return configTmpl.Execute(f, vars)
}

// catalogVars fills the catalog template: probes every interval, the
// certificates under pki (relative to the config file, or absolute).
func (d *Demo) catalogVars(interval time.Duration, pki string) map[string]any {
	return map[string]any{"Interval": config.Duration(interval).String(), "APITimeout": config.Duration(min(2500*time.Millisecond, interval*8/10)).String(),
		"Base": d.http.URL, "ACME": d.acme.URL, "PKI": pki}
}

// startSim serves the simulated CA: OCSP, CRL, TSA, the API and the portal
// over HTTP on listen, ACME over TLS on acmeListen; extra adds routes to the
// HTTP side. It writes the certificates the probes need under Dir/pki.
func (d *Demo) startSim(listen, acmeListen string, extra func(*http.ServeMux)) error {
	// The sim's certificates carry its URL, so its listener comes first.
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	d.http = httptest.NewUnstartedServer(nil)
	d.http.Listener.Close()
	d.http.Listener = ln
	d.Sim, err = pkisim.New(pkisim.Options{BaseURL: "http://" + ln.Addr().String()})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", d.Sim.Handler())
	services := d.Sim.ServicesHandler()
	mux.Handle(pkisim.APIPath, services)
	mux.Handle(pkisim.PortalPath, services)
	if extra != nil {
		extra(mux)
	}
	d.http.Config.Handler = mux
	d.http.Start()
	d.closers = append(d.closers, d.http.Close)
	aln, err := net.Listen("tcp", acmeListen)
	if err != nil {
		return err
	}
	d.acme = httptest.NewUnstartedServer(d.Sim.Handler())
	d.acme.Listener.Close()
	d.acme.Listener = aln
	// Probes that do not trust the test certificate make handshakes fail;
	// that is their finding, not log noise.
	d.acme.Config.ErrorLog = log.New(io.Discard, "", 0)
	d.acme.StartTLS()
	d.closers = append(d.closers, d.acme.Close)

	pki := filepath.Join(d.Dir, "pki")
	if err := d.Sim.WriteFiles(pki); err != nil {
		return err
	}
	acmeRoot := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d.acme.Certificate().Raw})
	return os.WriteFile(filepath.Join(pki, "acme-tls.pem"), acmeRoot, 0o644)
}

// Close stops the sim and the sink and removes the folder it made, unless keep.
func (d *Demo) Close(keep bool) error {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
	if d.ownDir && !keep && d.Dir != "" {
		return os.RemoveAll(d.Dir)
	}
	return nil
}

// Faults lists every switch of the fault panel, in order.
func (d *Demo) Faults() []pkisim.Fault {
	return append(pkisim.KnownFaults(), pkisim.ServiceFaults()...)
}

// SetFault turns a fault on or off by name.
func (d *Demo) SetFault(name string, on bool) error {
	for _, f := range d.Faults() {
		if string(f) == name {
			d.Sim.Set(f, on)
			d.logger.Info("demo fault switched", "fault", name, "on", on)
			return nil
		}
	}
	return fmt.Errorf("unknown fault %q", name)
}

// Hooks connect the demo's pages to the daemon; cmd/probed sets them
// before serving.
type Hooks struct {
	// Session opens a console session for the demo operator and returns
	// the session cookie's value.
	Session func(ctx context.Context) (string, error)
	// ScheduleMaintenance schedules a maintenance window for components,
	// starting at start and lasting d, and returns its id.
	ScheduleMaintenance func(ctx context.Context, actor string, components []string, start time.Time, d time.Duration) (int64, error)
}

// Routes mounts the mailbox, the on-call chat, the fault panel, the maintenance button and
// the one-time console login on the operator mux. auth wraps a handler with
// the console's operator authentication (session or bearer token, CSRF).
func (d *Demo) Routes(mux *http.ServeMux, auth func(http.HandlerFunc) http.Handler) {
	mux.Handle("GET /demo/mail", auth(d.serveMailbox))
	mux.Handle("GET /demo/chat", auth(d.serveChat))
	mux.Handle("GET /demo/faults", auth(d.serveFaults))
	mux.Handle("POST /demo/faults", auth(d.postFault))
	mux.Handle("POST /demo/maintenance", auth(d.postMaintenance))
	mux.Handle("GET /demo/login/{key}", http.HandlerFunc(d.serveLogin))
	mux.Handle("POST /demo/login/{key}", http.NewCrossOriginProtection().Handler(http.HandlerFunc(d.postLogin)))
}

// FaultGroups sorts the faults by the service they break, for the panel.
func (d *Demo) FaultGroups() []FaultGroup {
	order := []string{"ocsp", "crl", "tsa", "acme", "api", "portal"}
	titles := map[string]string{"ocsp": "OCSP responder", "crl": "CRL distribution point", "tsa": "Timestamp authority",
		"acme": "ACME server", "api": "CertCentral API", "portal": "CertCentral Console"}
	on := d.Sim.Faults()
	byPrefix := map[string][]FaultSwitch{}
	for _, f := range d.Faults() {
		prefix, _, _ := strings.Cut(string(f), "_")
		byPrefix[prefix] = append(byPrefix[prefix], FaultSwitch{Name: string(f), On: on[f], Breaks: f.Breaks()})
	}
	var out []FaultGroup
	for _, p := range order {
		if len(byPrefix[p]) > 0 {
			out = append(out, FaultGroup{Title: titles[p], Switches: byPrefix[p]})
		}
	}
	return out
}

// FaultGroup is one service's switches.
type FaultGroup struct {
	Title    string
	Switches []FaultSwitch
}

// FaultSwitch is one fault, whether it is on, and what it breaks (one line).
type FaultSwitch struct {
	Name   string
	On     bool
	Breaks string
}
