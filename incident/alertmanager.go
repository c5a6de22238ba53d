package incident

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

// Payload is an Alertmanager webhook body (version 4). Fields newer
// releases add (notification_reason, routeLabels…) and any other unknown
// ones are ignored, so Debian 12's 0.25 and current releases both decode.
type Payload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []PayloadAlert    `json:"alerts"`
}

// PayloadAlert is one alert of a webhook body.
type PayloadAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ErrPayload marks a webhook body that cannot be accepted; nothing of it
// was recorded.
var ErrPayload = errors.New("bad Alertmanager payload")

// ParsePayload decodes and checks a webhook body as a whole: any error
// means nothing of it may be applied.
func ParsePayload(body []byte) (*Payload, error) {
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: not JSON of the webhook shape: %v", ErrPayload, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrPayload)
	}
	if p.Version != "4" {
		return nil, fmt.Errorf("%w: version %q, want \"4\" (Alertmanager's webhook payload version)", ErrPayload, p.Version)
	}
	for i := range p.Alerts {
		a := &p.Alerts[i]
		if a.Status != "firing" && a.Status != "resolved" {
			return nil, fmt.Errorf("%w: alerts[%d].status %q, want firing or resolved", ErrPayload, i, a.Status)
		}
		if a.StartsAt.IsZero() {
			return nil, fmt.Errorf("%w: alerts[%d] has no startsAt", ErrPayload, i)
		}
		if a.Fingerprint == "" {
			a.Fingerprint = labelsFingerprint(a.Labels)
		}
	}
	return &p, nil
}

// labelsFingerprint stands in for a missing fingerprint: a hash of the
// sorted label set, stable across retries.
func labelsFingerprint(labels map[string]string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(h, "%s\x00%s\x00", k, labels[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:16]
}

// AlertReport says what a delivery did.
type AlertReport struct {
	Received int      `json:"received"`
	New      int      `json:"new"`      // alerts or resolutions not seen before
	Repeated int      `json:"repeated"` // retries and repeats: no change
	Ignored  []string `json:"ignored"`  // alerts without a known component label, and why
	// QueuedForLeader: this holder does not lead; the delivery waits in
	// the leader's inbox (New and Repeated are not known yet).
	QueuedForLeader bool `json:"queued_for_leader,omitempty"`
}

// compStatusOf maps an alert to the component status it stands for: the
// component_status label when it is a status, otherwise severity warning
// or info means degraded_performance and anything else a down source.
func compStatusOf(labels map[string]string) string {
	switch s := labels["component_status"]; s {
	case status.DegradedPerformance, status.PartialOutage, status.MajorOutage:
		return s
	}
	switch strings.ToLower(labels["severity"]) {
	case "warning", "info":
		return status.DegradedPerformance
	}
	return status.MajorOutage
}

// ReceiveAlerts applies a parsed delivery: firing alerts with a component
// label count like failing probes of that component, resolved ones clear.
// Deliveries are idempotent on fingerprint + startsAt.
// With several holders, a follower hands the delivery to the leader's
// inbox (QueuedForLeader) and the leader applies it.
//
// The leader applies a delivery it receives itself under its lease epoch,
// like its other duties: if it has been deposed meanwhile (a pause past
// its lease), every write is refused with store.ErrDeposed and the
// delivery is handed to the new leader's inbox instead (deliveries are
// idempotent, so what landed before the refusal is not counted twice).
func (e *Engine) ReceiveAlerts(ctx context.Context, actor string, p *Payload) (AlertReport, error) {
	if e.opts.Holder == "" {
		return e.applyAlerts(ctx, actor, p)
	}
	if !e.leading.Load() {
		return e.queueAlerts(ctx, actor, p)
	}
	fctx := ctx
	if ep := e.epoch.Load(); ep != 0 {
		fctx = store.Fenced(ctx, ep)
	}
	rep, err := e.applyAlerts(fctx, actor, p)
	if errors.Is(err, store.ErrDeposed) {
		e.logger.Warn("Alertmanager delivery refused: this holder no longer leads; handed to the leader", "err", err)
		return e.queueAlerts(ctx, actor, p)
	}
	return rep, err
}

func (e *Engine) applyAlerts(ctx context.Context, actor string, p *Payload) (AlertReport, error) {
	cfg := e.opts.Config()
	rep := AlertReport{Received: len(p.Alerts), Ignored: []string{}}
	now := e.clock.Now()
	if err := e.mu.LockContext(ctx); err != nil {
		return rep, err
	}
	changed, err := e.receive(ctx, cfg, p, now, &rep)
	e.mu.Unlock()
	if changed {
		e.changed()
	}
	if err != nil {
		return rep, err
	}
	detail := fmt.Sprintf("%d alert(s): %d new, %d repeated, %d ignored", rep.Received, rep.New, rep.Repeated, len(rep.Ignored))
	if err := e.st.Audit(ctx, actor, "alertmanager_delivery", detail); err != nil {
		return rep, err
	}
	return rep, nil
}

func (e *Engine) receive(ctx context.Context, cfg *config.Config, p *Payload, now time.Time, rep *AlertReport) (bool, error) {
	touched := map[string]bool{}
	var fresh []store.Alert
	for i, a := range p.Alerts {
		comp := a.Labels["component"]
		name := a.Labels["alertname"]
		switch c := cfg.Component(comp); {
		case comp == "":
			rep.Ignored = append(rep.Ignored, fmt.Sprintf("alerts[%d] %s: no component label", i, name))
			continue
		case c == nil:
			rep.Ignored = append(rep.Ignored, fmt.Sprintf("alerts[%d] %s: unknown component %q", i, name, comp))
			continue
		case c.IsGroup():
			rep.Ignored = append(rep.Ignored, fmt.Sprintf("alerts[%d] %s: component %q is a group", i, name, comp))
			continue
		}
		sa := store.Alert{Fingerprint: a.Fingerprint, StartsAt: a.StartsAt, Component: comp, Alertname: name, Status: a.Status,
			CompStatus: compStatusOf(a.Labels), Labels: a.Labels, Annotations: a.Annotations, ReceivedAt: now}
		if !a.EndsAt.IsZero() && a.Status == "resolved" {
			t := a.EndsAt
			sa.EndsAt = &t
		}
		ch, err := e.st.RecordAlert(ctx, sa)
		if err != nil {
			return false, err
		}
		// How many locations probe it, as the latest delivery says (a repeat
		// carries Prometheus' current count: a prober that died lowers it).
		if probe, _ := alertLocation(sa); probe != "" && a.Status == "firing" {
			if n, err := strconv.Atoi(a.Annotations["locations"]); err == nil && n > 0 && e.total[probe] != n {
				e.total[probe] = n
				touched[comp] = true
			}
		}
		if !ch {
			rep.Repeated++
			continue
		}
		rep.New++
		touched[comp] = true
		if a.Status == "firing" {
			fresh = append(fresh, sa)
		} else if probe, loc := alertLocation(sa); probe != "" {
			end := now
			if sa.EndsAt != nil && sa.EndsAt.Before(now) {
				end = *sa.EndsAt
			}
			e.ended[probeKey{probe, loc}] = end
		} else {
			e.ended[probeKey{name, "alertmanager"}] = now
		}
	}
	if len(touched) == 0 {
		return false, nil
	}
	var err error
	if e.alerts, err = e.st.FiringAlerts(ctx); err != nil {
		return false, err
	}
	changed := false
	if len(fresh) > 0 {
		// Evidence for incidents that already cover the component, from the
		// alerts that count there (an alert for this instance's own location
		// does not: its own results do); a draft made below gets it with its
		// creation.
		open, err := e.openIncidents(ctx)
		if err != nil {
			return false, err
		}
		for _, a := range fresh {
			key := probeKey{a.Alertname, "alertmanager"}
			if probe, loc := alertLocation(a); probe != "" {
				key = probeKey{probe, loc}
			}
			if !slices.Contains(counted(e.sources(cfg, a.Component)), key) {
				continue
			}
			for i := range open {
				if open[i].Component(a.Component) != nil {
					if err := e.st.AddEvidence(ctx, open[i].ID, []status.Evidence{alertEvidence(a)}); err != nil {
						return false, err
					}
					changed = true
					break
				}
			}
		}
	}
	comps := make([]string, 0, len(touched))
	for c := range touched {
		comps = append(comps, c)
	}
	slices.Sort(comps)
	for _, c := range comps {
		ch, err := e.evaluate(ctx, cfg, c)
		if err != nil {
			return changed, err
		}
		changed = changed || ch
	}
	return changed, nil
}
