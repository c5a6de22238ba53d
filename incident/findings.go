package incident

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
)

// A finding is what failed, read from the failed checks of the locations
// that counted: which family of service (ocsp, crl, tsa, acme, http, tls),
// what went wrong in words an outsider understands, and whether the service
// still answers. The first decides the draft's texts, the second calibrates
// the component status (see calibrate and the README's impact table).

// answer says how much of a service a failure leaves, worst first.
type answer int

const (
	// answerNone: no usable answer (refused, timed out, HTTP or protocol
	// error, unparseable, TLS fails). Unknown checks count here.
	answerNone answer = iota
	// answerWrong: it answers, but what it serves cannot be relied on
	// (stale, badly signed, wrong status, wrong content).
	answerWrong
	// answerInaccurate: it answers and its answers work, but are off
	// (a TSA clock beyond its tolerance, slowness, cache headers).
	answerInaccurate
	// answerUnknown: only an alert speaks for the location; the checks
	// that failed there are not known here.
	answerUnknown
)

// finding is one diagnosis: key names its texts in findingTexts.
type finding struct {
	key     string
	answers answer
	skew    time.Duration // tsa.clock: how far off (0 when not known)
}

// rank orders findings for choosing the one a title names: no answer
// first, then wrong answers, then inaccurate ones; known before unknown.
func (f finding) rank() int {
	switch f.answers {
	case answerNone:
		return 0
	case answerWrong:
		return 1
	case answerInaccurate:
		return 2
	}
	return 3
}

// noAnswer lists the check suffixes (after the family prefix) meaning the
// service gave no usable answer.
var noAnswer = map[string]bool{
	"transport": true, "connect": true, "http_status": true, "response_status": true,
	"parse": true, "response_parse": true, "body_size": true, "body_read": true, "content_type": true,
	"request": true, "url": true, "directory": true, "directory_https": true, "nonce_status": true, "nonce_header": true,
}

// stale checks: the service answers with something out of date.
var staleChecks = map[string]bool{
	"ocsp_next_update": true, "ocsp_this_update_age": true, "ocsp_validity": true, "ocsp_this_update": true, "ocsp_validity_min": true,
	"ocsp_refresh": true, "crl_next_update": true, "crl_this_update_age": true, "crl_validity": true, "crl_this_update": true,
	"crl_number_increasing": true, "crl_state": true,
}

// inaccurate checks: the answers work but are off.
var inaccurateChecks = map[string]bool{
	"tsa_gen_time": true, "tsa_accuracy": true, "ocsp_cache_headers": true, "ocsp_latency": true, "latency_objective": true,
}

// alertChecks maps the shipped component-wide alerts to the check they stand for.
var alertChecks = map[string]string{
	"OCSPResponseTooOld": "ocsp_this_update_age", "OCSPResponseExpired": "ocsp_next_update",
	"CRLExpired": "crl_next_update", "TSAClockSkew": "tsa_gen_time",
}

// family is the service family a check belongs to, from its prefix
// (ocsp_next_update → ocsp); "" when it names none.
func family(check string) string {
	for _, f := range []string{"ocsp", "crl", "tsa", "acme", "http", "tls"} {
		if strings.HasPrefix(check, f+"_") {
			return f
		}
	}
	return ""
}

// diagnose reads one piece of evidence. kind is the probe's kind when the
// check names no family ("probe", or an alert).
func diagnose(ev status.Evidence, kind string) finding {
	check := ev.Check
	if ev.Source == status.OriginAlertmanager {
		if c, ok := alertChecks[check]; ok {
			check = c
		} else {
			if k := ev.Values["label.kind"]; k != "" {
				kind = k
			}
			return finding{key: familyOr(kind) + ".failing", answers: answerUnknown}
		}
	}
	if check == "latency_objective" {
		return finding{key: "slow", answers: answerInaccurate}
	}
	fam := family(check)
	if fam == "" {
		fam = familyOr(kind)
		if fam == "tls" {
			fam = "http"
		}
		return finding{key: fam + ".down", answers: answerNone}
	}
	rest := strings.TrimPrefix(check, fam+"_")
	switch {
	case fam == "tls":
		return finding{key: "tls.invalid", answers: answerNone} // browsers refuse the connection
	case check == "tsa_gen_time":
		return finding{key: "tsa.clock", answers: answerInaccurate, skew: tsaSkew(ev.Values)}
	case inaccurateChecks[check]:
		return finding{key: fam + ".inaccurate", answers: answerInaccurate}
	case staleChecks[check]:
		return finding{key: fam + ".stale", answers: answerWrong}
	case noAnswer[rest] || (fam == "http" && rest == "status") || (fam == "tsa" && rest == "status"):
		return finding{key: fam + ".down", answers: answerNone}
	}
	return finding{key: fam + ".invalid", answers: answerWrong}
}

func familyOr(kind string) string {
	switch kind {
	case "ocsp", "crl", "tsa", "acme", "http", "tls":
		return kind
	}
	return "service"
}

// tsaSkew is how far a TSA's genTime lay outside the exchange, from the
// tsa_gen_time evidence (gen_time, sent, received); 0 when unreadable.
func tsaSkew(v map[string]string) time.Duration {
	gen, err1 := time.Parse(time.RFC3339Nano, v["gen_time"])
	sent, err2 := time.Parse(time.RFC3339Nano, v["sent"])
	recv, err3 := time.Parse(time.RFC3339Nano, v["received"])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0
	}
	switch {
	case gen.Before(sent):
		return sent.Sub(gen)
	case gen.After(recv):
		return gen.Sub(recv)
	}
	return 0
}

// worstFinding picks the finding a component's texts name among its
// evidence: known before unknown, no answer before a wrong one.
func worstFinding(evs []status.Evidence, kindOf func(probe string) string) (finding, bool) {
	var best finding
	found := false
	for _, ev := range evs {
		f := diagnose(ev, kindOf(ev.Probe))
		if !found || f.rank() < best.rank() || (f.rank() == best.rank() && f.skew > best.skew) {
			best, found = f, true
		}
	}
	return best, found
}

// findingKeys are the findings there are words for: the catalogue has
// finding.KEY.title (also the first sentence of the first update) and
// finding.KEY.users (what users see) for each. {name} is the component's
// name, {skew} how far a clock is off.
var findingKeys = []string{
	"ocsp.down", "ocsp.stale", "ocsp.invalid", "ocsp.inaccurate", "ocsp.failing",
	"crl.down", "crl.stale", "crl.invalid", "crl.inaccurate", "crl.failing",
	"tsa.down", "tsa.clock", "tsa.invalid", "tsa.inaccurate", "tsa.failing",
	"acme.down", "acme.invalid", "acme.inaccurate", "acme.failing",
	"http.down", "http.invalid", "http.inaccurate", "http.failing",
	"tls.invalid", "slow", "service.down", "service.failing",
}

// say renders a finding for a component in w's language.
func (f finding) say(name string, w *words.Lang) (title, users string) {
	key := f.key
	if !slices.Contains(findingKeys, key) {
		key = "service.failing"
	}
	titleKey := "finding." + key + ".title"
	if key == "tsa.clock" && f.skew <= 0 {
		titleKey = "finding.tsa.clock.title_unknown" // no figure known (an alert)
	}
	r := strings.NewReplacer("{name}", name, "{skew}", fmtSkew(f.skew, w))
	return r.Replace(w.T(titleKey)), r.Replace(w.T("finding." + key + ".users"))
}

// fmtSkew writes a clock offset as a reader would: "30 s", "2 min", "450 ms".
func fmtSkew(d time.Duration, w *words.Lang) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Second:
		return fmt.Sprintf(w.T("finding.skew.ms"), d.Milliseconds())
	case d < 2*time.Minute:
		return fmt.Sprintf(w.T("finding.skew.s"), int(math.Round(d.Seconds())))
	}
	return fmt.Sprintf(w.T("finding.skew.min"), int(math.Round(d.Minutes())))
}
