// Package run holds what one probe run leaves behind — its checks, their
// severities and the finished Result — with no dependencies, so the store
// and the incident engine read results without importing every prober.
// Package probes re-exports these types.
package run

import (
	"fmt"
	"time"
)

// Severity says whether a failed check fails the probe.
type Severity int

const (
	// Critical checks fail the probe when they fail.
	Critical Severity = iota
	// Warning checks are exported and stored but never fail the probe.
	Warning
)

// String returns "critical" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "critical"
}

// MarshalText makes severities readable in JSON evidence.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "critical", "":
		*s = Critical
	case "warning":
		*s = Warning
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Check is the outcome of one named check in one run. Name is the value of
// the `check` label of probe_check_success (lower snake case, prefixed with
// the kind: ocsp_next_update, crl_signature, http_status). Message says what
// an operator needs to act ("nextUpdate passed 2h13m ago (2026-11-25 09:00
// UTC)"); Evidence keeps the values behind it for incident drafts.
type Check struct {
	Name     string            `json:"name"`
	OK       bool              `json:"ok"`
	Severity Severity          `json:"severity"`
	Message  string            `json:"message,omitempty"`
	Evidence map[string]string `json:"evidence,omitempty"`
}

// Result is one finished run, as the store keeps it and the incident engine
// reads it.
type Result struct {
	Probe     string        `json:"probe"`
	Kind      string        `json:"kind"`
	Component string        `json:"component"`
	Location  string        `json:"location"`
	Start     time.Time     `json:"start"`
	Duration  time.Duration `json:"duration"`
	Success   bool          `json:"success"`
	Checks    []Check       `json:"checks"` // every check, passed and failed
	// Internal is true when probed's own limits failed the run (the one
	// check is probed_internal): the scheduler keeps such a run away from
	// the collector, the store and the incident engine.
	Internal bool `json:"internal,omitempty"`
}

// FailedChecks returns the checks of r that did not hold.
func (r Result) FailedChecks() []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}
