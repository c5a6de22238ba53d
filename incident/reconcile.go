package incident

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// openIncidents lists drafts and published incidents (not maintenances),
// oldest first, so the first that covers a component is the one it joined first.
func (e *Engine) openIncidents(ctx context.Context) ([]status.Incident, error) {
	list, err := e.st.ListIncidents(ctx, store.IncidentFilter{State: status.StateDraft + "," + status.StatePublished, Kind: status.KindIncident, Limit: 10000})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list, nil
}

func engineMade(inc *status.Incident) bool { return inc.Origin != status.OriginManual }

// reconcile brings the incidents in line with a component's computed
// status. It is idempotent: the engine calls it on every change and on every
// tick, and after a restart; what the database already says is never made twice.
func (e *Engine) reconcile(ctx context.Context, cfg *config.Config, component string) (bool, error) {
	ch, ok := e.comps[component]
	if !ok {
		return false, nil
	}
	open, err := e.openIncidents(ctx)
	if err != nil {
		return false, err
	}
	if ch.Status == status.Operational {
		changed := false
		for i := range open {
			inc := &open[i]
			if inc.Component(component) == nil || !engineMade(inc) {
				continue
			}
			c, err := e.settle(ctx, cfg, inc)
			if err != nil {
				return changed, err
			}
			changed = changed || c
		}
		return changed, nil
	}
	for i := range open {
		if inc := &open[i]; inc.Component(component) != nil {
			return e.follow(ctx, cfg, inc, component, ch)
		}
	}
	win, err := e.st.MaintenanceWindows(ctx, e.clock.Now())
	if err != nil {
		return false, err
	}
	if _, inWindow := win[component]; inWindow {
		return false, nil // maintenance: failures draft nothing
	}
	prior, err := e.st.IncidentForOutage(ctx, component, ch.Since)
	if err != nil {
		return false, err
	}
	if prior != nil {
		return false, nil // this outage was drafted before (and rejected or resolved): the operator has spoken
	}
	srcs := e.sources(cfg, component)
	var ev []status.Evidence
	origin := status.OriginAlertmanager
	for _, s := range srcs {
		if s.level == 0 {
			continue
		}
		ev = append(ev, s.evidence...)
		for _, x := range s.evidence {
			if x.Source == status.OriginProbe {
				origin = status.OriginProbe
			}
		}
	}
	since := ch.Since
	mine := status.ComponentImpact{ID: component, Status: ch.Status, Since: &since}
	for i := range open {
		inc := &open[i]
		if inc.State != status.StateDraft || !engineMade(inc) {
			continue
		}
		// One draft per outage: a component failing while a draft is open joins it.
		comps := append(e.currentStatuses(inc), mine)
		if err := e.revise(ctx, cfg, inc, comps); err != nil {
			return false, err
		}
		if err := e.st.AddEvidence(ctx, inc.ID, ev); err != nil {
			return true, err
		}
		e.logger.Info("component joined draft incident", "incident", inc.ID, "component_id", component, "status", ch.Status)
		return true, nil
	}
	comps := []status.ComponentImpact{mine}
	t, err := e.texts(cfg, comps)
	if err != nil {
		return false, err
	}
	inc, err := e.st.CreateDraft(ctx, store.ActorEngine, status.NewIncident{Title: t.Title, Body: t.Body,
		Components: comps, Evidence: ev, Origin: origin})
	if err != nil {
		return false, err
	}
	e.logger.Info("draft incident created", "incident", inc.ID, "component_id", component, "status", ch.Status, "since", since)
	return true, nil
}

// currentStatuses is an incident's component list with the engine's
// current view of each status (components it knows nothing of keep theirs).
func (e *Engine) currentStatuses(inc *status.Incident) []status.ComponentImpact {
	out := make([]status.ComponentImpact, 0, len(inc.Components))
	for _, c := range inc.Components {
		if h, ok := e.comps[c.ID]; ok {
			c.Status = h.Status
			if h.Status != status.Operational {
				since := h.Since
				c.Since = &since
			}
		}
		out = append(out, c)
	}
	return out
}

func sameStatuses(a, b []status.ComponentImpact) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Status != b[i].Status {
			return false
		}
	}
	return true
}

// revise rewrites an engine-made draft for a new set of components.
func (e *Engine) revise(ctx context.Context, cfg *config.Config, inc *status.Incident, comps []status.ComponentImpact) error {
	t, err := e.texts(cfg, comps)
	if err != nil {
		return err
	}
	err = e.st.ReviseDraft(ctx, inc.ID, status.DraftRevision{Title: t.Title, Body: t.Body, Components: comps})
	if errors.Is(err, store.ErrState) {
		return nil // approved or rejected meanwhile
	}
	return err
}

// follow keeps an open incident that covers a failing component in step.
func (e *Engine) follow(ctx context.Context, cfg *config.Config, inc *status.Incident, component string, ch store.ComponentHealth) (bool, error) {
	switch inc.State {
	case status.StateDraft:
		if !engineMade(inc) || inc.Edited {
			return false, nil
		}
		comps := e.currentStatuses(inc)
		if sameStatuses(comps, inc.Components) {
			return false, nil
		}
		return true, e.revise(ctx, cfg, inc, comps)
	case status.StatePublished:
		changed := false
		if c := inc.Component(component); c.Since == nil || !c.Since.Equal(ch.Since) {
			if err := e.st.SetOutageSince(ctx, inc.ID, component, ch.Since); err != nil {
				return false, err
			}
		}
		if inc.Proposal != nil {
			if err := e.st.ClearProposal(ctx, inc.ID); err != nil {
				return false, err
			}
			changed = true
		}
		return changed, nil
	}
	return false, nil
}

// settle handles an engine-made incident one of whose components recovered:
// a draft whose components all recovered is withdrawn, a published incident
// gets a resolve proposal (or is resolved, with incidents.auto_resolve).
func (e *Engine) settle(ctx context.Context, cfg *config.Config, inc *status.Incident) (bool, error) {
	comps := e.currentStatuses(inc)
	all := true
	for _, c := range comps {
		all = all && c.Status == status.Operational
	}
	switch inc.State {
	case status.StateDraft:
		if all {
			_, err := e.st.Withdraw(ctx, store.ActorEngine, inc.ID, "the failure cleared before anyone approved the draft")
			if errors.Is(err, store.ErrState) {
				return false, nil
			}
			if err == nil {
				e.logger.Info("draft incident withdrawn: the failure cleared", "incident", inc.ID)
			}
			return err == nil, err
		}
		if inc.Edited || sameStatuses(comps, inc.Components) {
			e.logger.Debug("settle: nothing to revise", "comps", comps, "have", inc.Components)
			return false, nil
		}
		return true, e.revise(ctx, cfg, inc, comps)
	case status.StatePublished:
		if !all || inc.Proposal != nil {
			return false, nil
		}
		t, err := e.resolveTexts(cfg, inc)
		if err != nil {
			return false, err
		}
		if cfg.Incidents.AutoResolve {
			_, err := e.st.Resolve(ctx, store.ActorEngine, inc.ID, t.Body)
			if err == nil {
				e.logger.Info("incident resolved automatically: its components recovered", "incident", inc.ID)
			}
			return err == nil, err
		}
		if err := e.st.ProposeResolve(ctx, inc.ID, t.Body); err != nil {
			return false, err
		}
		e.logger.Info("resolve proposed: the incident's components recovered", "incident", inc.ID)
		return true, nil
	}
	return false, nil
}

// refreshEvidence attaches a failed run's checks to the open incidents that
// already cover its component, while the probe counts as down there: down
// at this location, and this location among those the status rests on.
func (e *Engine) refreshEvidence(ctx context.Context, cfg *config.Config, h *store.ProbeHealth) error {
	if !h.Down {
		return nil
	}
	if !slices.Contains(counted(e.sources(cfg, h.Component)), probeKey{h.Probe, h.Location}) {
		return nil
	}
	open, err := e.openIncidents(ctx)
	if err != nil {
		return err
	}
	for i := range open {
		if open[i].Component(h.Component) != nil {
			if err := e.st.AddEvidence(ctx, open[i].ID, probeEvidence(h)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tick moves maintenances whose time has come and reconciles every
// component (what changed while nothing reported: a window that closed on
// a component still failing). The ticker calls it; tests call it after
// moving a fake clock.
func (e *Engine) Tick(ctx context.Context) error {
	if !e.leading.Load() {
		return nil // a follower: the leader moves maintenances and reconciles
	}
	cfg := e.opts.Config()
	e.mu.Lock()
	if !e.leading.Load() {
		e.mu.Unlock()
		return nil
	}
	changed, err := e.tick(ctx, cfg)
	e.mu.Unlock()
	if changed {
		e.changed()
	}
	return err
}

func (e *Engine) tick(ctx context.Context, cfg *config.Config) (bool, error) {
	if err := e.ensureLeaves(ctx, cfg); err != nil {
		return false, fmt.Errorf("tick: %w", err)
	}
	moved, err := e.st.AdvanceMaintenances(ctx, e.clock.Now())
	changed := len(moved) > 0
	if err != nil {
		return changed, fmt.Errorf("tick: %w", err)
	}
	for _, id := range moved {
		e.logger.Info("maintenance moved on schedule", "maintenance", id)
	}
	reminded, err := e.st.RemindMaintenances(ctx, e.clock.Now(), cfg.Notify.MaintenanceReminder.D())
	for _, id := range reminded {
		e.logger.Info("maintenance reminder queued", "maintenance", id, "lead", cfg.Notify.MaintenanceReminder.D())
	}
	if err != nil {
		return changed, fmt.Errorf("tick: %w", err)
	}
	e.noteStale(cfg)
	for _, c := range cfg.Leaves() {
		if _, err := e.evaluate(ctx, cfg, c.ID); err != nil {
			return changed, err
		}
		ch, err := e.reconcile(ctx, cfg, c.ID)
		if err != nil {
			return changed, err
		}
		changed = changed || ch
	}
	return changed, nil
}

// Run drives Tick until ctx ends: at every maintenance start or end, after
// every change, and at least every Interval; in between it evaluates the
// results queued by Inbox and, with several holders (Options.Holder), the
// leader inbox every Options.InboxPoll. A leader deposed (store.ErrDeposed
// from a fenced write) returns at once with that error.
func (e *Engine) Run(ctx context.Context) error {
	var poll <-chan time.Time
	if e.opts.Holder != "" {
		t := time.NewTicker(e.opts.InboxPoll)
		defer t.Stop()
		poll = t.C
	}
	for {
		if err := e.Tick(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, store.ErrDeposed) {
				return err
			}
			e.logger.Error("incident engine tick", "err", err)
		}
		wait := e.opts.Interval
		if next, err := e.st.NextMaintenanceChange(ctx, e.clock.Now()); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(e.clock.Now()), 0)+10*time.Millisecond)
		}
		if next, err := e.st.NextReminder(ctx, e.clock.Now(), e.opts.Config().Notify.MaintenanceReminder.D()); err == nil && !next.IsZero() {
			wait = min(wait, max(next.Sub(e.clock.Now()), 0)+10*time.Millisecond)
		}
		t := time.NewTimer(wait)
	wait:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				// What the last results changed is saved before the
				// engine stops (the store closes after it).
				sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if err := e.saveHealth(sctx); err != nil {
					e.logger.Error("incident engine: probe health not saved at shutdown; a restart resumes from the last saved", "err", err)
				}
				return nil
			case <-t.C:
				break wait
			case <-e.wake:
				t.Stop()
				break wait
			case r := <-e.inbox:
				e.evaluateQueued(ctx, r)
			case <-poll:
				if err := e.drainLeaderInbox(ctx); err != nil && ctx.Err() == nil {
					if errors.Is(err, store.ErrDeposed) {
						t.Stop()
						return err
					}
					e.logger.Error("incident engine: leader inbox not evaluated; retried at the next poll", "err", err)
				}
			}
		}
	}
}
