// Package probes holds the prober contract, the one registry of probe kinds,
// the kinds themselves and the scheduler that runs them.
package probes

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes/run"
)

// Prober is built once from its probe's configuration (certificates, roots and
// policy OIDs parsed then) and run many times. Probe records what it checked
// in r; the runner, not the prober, decides success and sets probe_success and
// probe_duration_seconds. Probe must return when ctx is done.
type Prober interface {
	Probe(ctx context.Context, r *Report)
}

// Builder makes a Prober from one probe's configuration. It runs at config
// load (and so on every reload) and must fail on anything it cannot use.
type Builder func(p *config.Probe, env Env) (Prober, error)

// Env is what a builder may hand to the prober it builds.
type Env struct {
	Logger   *slog.Logger
	Clock    clock.Clock
	State    State        // per-probe state kept across runs and restarts
	Location string       // this instance's vantage point
	Dialer   DialerConfig // transport knobs shared by every kind
}

// DialerConfig tunes outgoing connections. The zero value is safe.
type DialerConfig struct {
	// Transport, when set, replaces the transport the HTTP-based kinds build
	// for themselves (tests point it at httptest servers' clients).
	Transport http.RoundTripper
}

// State is the per-probe memory a kind keeps across runs and restarts (the
// last CRL number, the previous CRL's serials). The store implements it; a
// State error must never turn into a probe failure by itself: report it as a
// warning check.
type State interface {
	GetState(ctx context.Context, probe, key string) ([]byte, error) // nil, nil when absent
	PutState(ctx context.Context, probe, key string, value []byte) error
}

// Severity says whether a failed check fails the probe (see package run).
type Severity = run.Severity

// The severities.
const (
	Critical = run.Critical
	Warning  = run.Warning
)

// Check is the outcome of one named check in one run (see package run).
type Check = run.Check

// Label is one extra label on a Sample.
type Label struct{ Name, Value string }

// Sample is one gauge value a prober exports for its last run, such as
// probe_ocsp_next_update_timestamp_seconds. The runner adds the probe, kind,
// component and location labels. A given metric name must always come with
// the same Help and the same extra label names.
type Sample struct {
	Name   string
	Help   string
	Value  float64
	Labels []Label
}

// Report collects the checks and samples of one run. It is safe for
// concurrent use, so a prober may record from several goroutines and the
// scheduler may read a run it gave up waiting for.
type Report struct {
	clock  clock.Clock
	logger *slog.Logger

	mu       sync.Mutex
	checks   []Check
	samples  []Sample
	internal *InternalFailure
}

// InternalFailure is why a run failed because of probed itself, not the
// target: its own limits (out of file descriptors), a bug in a prober (a
// panic, a prober that ignores its deadline), or a request it could not
// build from its own configuration. The run says nothing about the target,
// so it is reported as probed's (check probed_internal).
type InternalFailure struct {
	// Reason is one of the Internal* reasons.
	Reason string
	Err    error
}

// The reasons of an InternalFailure (label reason of
// probed_probe_internal_failures_total).
const (
	InternalFileDescriptors       = "file_descriptors"        // EMFILE when dialling
	InternalSystemFileDescriptors = "system_file_descriptors" // ENFILE
	InternalSocketMemory          = "socket_memory"           // ENOBUFS, ENOMEM
	InternalLocalPorts            = "local_ports"             // EADDRNOTAVAIL: no ephemeral port left
	InternalPanic                 = "prober_panic"            // the prober crashed
	InternalStuck                 = "prober_stuck"            // the prober ignored its deadline
	InternalRequest               = "request"                 // the request could not be built
	InternalCanceled              = "canceled"                // probed itself cancelled the run (RunNow's caller went away)
	InternalStarved               = "starved"                 // cut by its timeout while probed was kept from running (see StarvationMeter)
)

// message says what failed the run, for the check probed_internal.
func (f *InternalFailure) message() string {
	switch f.Reason {
	case InternalPanic:
		return fmt.Sprintf("the prober crashed (%v): a bug in probed, please report it with the log's stack trace; the target was not judged", f.Err)
	case InternalStuck:
		return fmt.Sprintf("%v: a bug in probed, please report it; the target was not judged", f.Err)
	case InternalRequest:
		return fmt.Sprintf("probed could not build its request (%v); the target was not judged", f.Err)
	case InternalCanceled, InternalStarved:
		return fmt.Sprintf("%v; the target was not judged", f.Err)
	}
	return fmt.Sprintf("probed could not run the probe: its own %s ran out (%v); the target was not judged", strings.ReplaceAll(f.Reason, "_", " "), f.Err)
}

// internalFailure records that one of probed's own limits failed the run.
// The first one is kept.
func (r *Report) internalFailure(reason string, err error) {
	r.mu.Lock()
	if r.internal == nil {
		r.internal = &InternalFailure{Reason: reason, Err: err}
	}
	r.mu.Unlock()
}

// Internal returns what of probed's own failed the run, or nil.
func (r *Report) Internal() *InternalFailure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.internal
}

// NewReport returns an empty report for one run.
func NewReport(c clock.Clock, logger *slog.Logger) *Report {
	if c == nil {
		c = clock.Real{}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Report{clock: c, logger: logger}
}

// Now is the run's clock.
func (r *Report) Now() time.Time { return r.clock.Now() }

// Logger is the run's logger, already labelled with the probe.
func (r *Report) Logger() *slog.Logger { return r.logger }

// Pass records a check that held.
func (r *Report) Pass(name, message string) {
	r.Add(Check{Name: name, OK: true, Message: message})
}

// Fail records a critical check that failed; the probe fails.
func (r *Report) Fail(name, message string, evidence map[string]string) {
	r.Add(Check{Name: name, OK: false, Severity: Critical, Message: message, Evidence: evidence})
}

// Warn records a warning check that failed; the probe does not fail.
func (r *Report) Warn(name, message string, evidence map[string]string) {
	r.Add(Check{Name: name, OK: false, Severity: Warning, Message: message, Evidence: evidence})
}

// Add records a check as given.
func (r *Report) Add(c Check) {
	r.mu.Lock()
	r.checks = append(r.checks, c)
	r.mu.Unlock()
}

// Gauge records a sample.
func (r *Report) Gauge(name, help string, value float64, labels ...Label) {
	r.mu.Lock()
	r.samples = append(r.samples, Sample{Name: name, Help: help, Value: value, Labels: labels})
	r.mu.Unlock()
}

// Checks returns a copy of the checks recorded so far, in order.
func (r *Report) Checks() []Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.checks)
}

// Samples returns a copy of the samples recorded so far, in order.
func (r *Report) Samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples)
}

// Success is true when no critical check failed.
func (r *Report) Success() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.checks {
		if !c.OK && c.Severity == Critical {
			return false
		}
	}
	return true
}

// Failed returns the failed checks (critical and warning).
func (r *Report) Failed() []Check {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Check
	for _, c := range r.checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// Result is one finished run (see package run).
type Result = run.Result
