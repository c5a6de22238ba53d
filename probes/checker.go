package probes

import (
	"maps"
	"strconv"
	"time"
)

// checker records checks into a Report with a message prefix and evidence
// every failure carries (the URL, the method), so that a kind asking the
// same thing several ways (OCSP over POST and GET) reports each way apart
// under the same check names; the collector merges them per name.
type checker struct {
	r      *Report
	prefix string
	base   map[string]string
}

func (c *checker) evidence(ev map[string]string) map[string]string {
	out := maps.Clone(c.base)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, ev)
	return out
}

func (c *checker) pass(name, msg string) { c.r.Pass(name, c.prefix+msg) }

func (c *checker) fail(name, msg string, ev map[string]string) {
	c.r.Fail(name, c.prefix+msg, c.evidence(ev))
}

func (c *checker) warn(name, msg string, ev map[string]string) {
	c.r.Warn(name, c.prefix+msg, c.evidence(ev))
}

// rfc3339 formats a time for evidence maps.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// days prints a duration limit the way the BRs state them: 10d, 16h, 90m.
func days(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return Ago(d)
}
