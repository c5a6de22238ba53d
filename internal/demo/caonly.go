package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CAOptions configure the simulated CA alone (probed demo -ca-only): a
// test bed for several probed instances, on ports that stay the same from
// run to run.
type CAOptions struct {
	// Listen serves OCSP, the CRL, the TSA, the REST API, the portal and
	// the fault switches over HTTP (loopback only).
	Listen string
	// ACMEListen serves the ACME directory over TLS (loopback only).
	ACMEListen string
	// Dir receives pki/ (the certificates the probes name); it is created.
	Dir string
	// Interval is the probes' interval in the printed fragment.
	Interval time.Duration
	Logger   *slog.Logger
}

// StartCA serves the simulated CA without probed, mail or pages. Faults
// switch at /faults: GET lists them (JSON), POST {"fault": NAME, "on":
// true|false} switches one. Nothing asks for a token: both addresses must
// be loopback.
func StartCA(opts CAOptions) (*Demo, error) {
	for flag, addr := range map[string]string{"-ca.listen": opts.Listen, "-ca.acme-listen": opts.ACMEListen} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("start CA: %s %q: want a loopback address and port such as 127.0.0.1:9400 (the simulated CA's fault switches take no token)", flag, addr)
		}
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("start CA: a folder for pki/ is required")
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("start CA: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start CA: %w", err)
	}
	d := &Demo{Dir: dir, logger: opts.Logger}
	if err := d.startSim(opts.Listen, opts.ACMEListen, func(mux *http.ServeMux) {
		mux.HandleFunc("GET /faults", d.listFaults)
		mux.HandleFunc("POST /faults", d.switchFault)
	}); err != nil {
		d.Close(true)
		return nil, fmt.Errorf("start CA: %w", err)
	}
	d.interval = opts.Interval
	return d, nil
}

// Fragment writes the components and probes sections that probe this CA,
// certificates named by absolute path, for every location's probes.yaml.
func (d *Demo) Fragment(w io.Writer) error {
	return configTmpl.ExecuteTemplate(w, "catalog", d.catalogVars(d.interval, filepath.Join(d.Dir, "pki")))
}

// BaseURL is the CA's HTTP address; ACMEURL its ACME server's.
func (d *Demo) BaseURL() string { return d.http.URL }

// ACMEURL is the address of the CA's ACME server (TLS).
func (d *Demo) ACMEURL() string { return d.acme.URL }

func (d *Demo) listFaults(w http.ResponseWriter, r *http.Request) {
	on := d.Sim.Faults()
	list := make([]FaultSwitch, 0)
	for _, f := range d.Faults() {
		list = append(list, FaultSwitch{Name: string(f), On: on[f]})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func (d *Demo) switchFault(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Fault string `json:"fault"`
		On    bool   `json:"on"`
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		http.Error(w, `want Content-Type: application/json and {"fault": NAME, "on": true|false}`, http.StatusUnsupportedMediaType)
		return
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil {
		http.Error(w, `bad JSON: want {"fault": NAME, "on": true|false}`, http.StatusBadRequest)
		return
	}
	if err := d.SetFault(body.Fault, body.On); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(FaultSwitch{Name: body.Fault, On: body.On})
}
