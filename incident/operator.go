package incident

import (
	"context"
	"fmt"
	"github.com/probed/probed/status"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

// Operator actions. Each takes the acting token's name for the audit log,
// checks component ids against the configuration, holds the engine's lock
// (so the engine never revises a draft an operator is approving; waited
// for no longer than ctx allows, then store.ErrBusy) and tells OnChange
// subscribers.

func (e *Engine) act(ctx context.Context, fn func(cfg *config.Config) (*status.Incident, error)) (*status.Incident, error) {
	cfg := e.opts.Config()
	if err := e.mu.LockContext(ctx); err != nil {
		return nil, err
	}
	inc, err := fn(cfg)
	e.mu.Unlock()
	if err == nil {
		e.changed()
	}
	return inc, err
}

func checkLeaves(cfg *config.Config, ids ...string) error {
	for _, id := range ids {
		c := cfg.Component(id)
		if c == nil {
			return fmt.Errorf("unknown component %q: %w", id, store.ErrInvalid)
		}
		if c.IsGroup() {
			return fmt.Errorf("component %q is a group; name its components: %w", id, store.ErrInvalid)
		}
	}
	return nil
}

func impactIDs(comps []status.ComponentImpact) []string {
	out := make([]string, len(comps))
	for i, c := range comps {
		out[i] = c.ID
	}
	return out
}

// CreateIncident makes an incident by hand: a draft, or published at once
// with in.Publish.
func (e *Engine) CreateIncident(ctx context.Context, actor string, in status.NewIncident) (*status.Incident, error) {
	return e.act(ctx, func(cfg *config.Config) (*status.Incident, error) {
		if err := checkLeaves(cfg, impactIDs(in.Components)...); err != nil {
			return nil, fmt.Errorf("create incident: %w", err)
		}
		in.Origin = status.OriginManual
		return e.st.CreateDraft(ctx, actor, in)
	})
}

// EditDraft changes a draft's texts, impact or components.
func (e *Engine) EditDraft(ctx context.Context, actor string, id int64, ed status.DraftEdit) (*status.Incident, error) {
	return e.act(ctx, func(cfg *config.Config) (*status.Incident, error) {
		if err := checkLeaves(cfg, impactIDs(ed.Components)...); err != nil {
			return nil, fmt.Errorf("edit incident %d: %w", id, err)
		}
		return e.st.EditDraft(ctx, actor, id, ed)
	})
}

// Approve publishes a draft, telling subscribers or not (hosted
// Statuspage's switch); the audit log says which.
func (e *Engine) Approve(ctx context.Context, actor string, id int64, notify bool) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) { return e.st.Approve(ctx, actor, id, notify) })
}

// Reject closes a draft unpublished, with a reason.
func (e *Engine) Reject(ctx context.Context, actor string, id int64, reason string) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) { return e.st.Reject(ctx, actor, id, reason) })
}

// PostUpdate adds an update to a published incident.
func (e *Engine) PostUpdate(ctx context.Context, actor string, id int64, in status.NewUpdate) (*status.Incident, error) {
	return e.act(ctx, func(cfg *config.Config) (*status.Incident, error) {
		if err := checkLeaves(cfg, impactIDs(in.Components)...); err != nil {
			return nil, fmt.Errorf("post update to %d: %w", id, err)
		}
		return e.st.PostUpdate(ctx, actor, id, in)
	})
}

// Resolve resolves a published incident; an empty body takes the resolve
// proposal's text when there is one.
func (e *Engine) Resolve(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) {
		if body.Empty() {
			if inc, err := e.st.GetIncident(ctx, id); err == nil && inc.Proposal != nil {
				body = inc.Proposal.Body
			}
		}
		return e.st.Resolve(ctx, actor, id, body)
	})
}

// ScheduleMaintenance schedules a window; one that starts now starts at once.
func (e *Engine) ScheduleMaintenance(ctx context.Context, actor string, in status.NewMaintenance) (*status.Incident, error) {
	inc, err := e.act(ctx, func(cfg *config.Config) (*status.Incident, error) {
		if err := checkLeaves(cfg, in.Components...); err != nil {
			return nil, fmt.Errorf("schedule maintenance: %w", err)
		}
		if in.Body.Empty() {
			in.Body = e.windowText(cfg, in.Start, in.End)
		}
		return e.st.ScheduleMaintenance(ctx, actor, in)
	})
	if err != nil {
		return nil, err
	}
	if err := e.Tick(ctx); err != nil {
		return inc, err
	}
	return e.st.GetIncident(ctx, inc.ID)
}

// CancelMaintenance calls off a scheduled window (or ends a running one).
func (e *Engine) CancelMaintenance(ctx context.Context, actor string, id int64, reason string) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) { return e.st.CancelMaintenance(ctx, actor, id, reason) })
}

// VerifyMaintenance marks a running window verifying.
func (e *Engine) VerifyMaintenance(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) {
		return e.st.VerifyMaintenance(ctx, actor, id, body)
	})
}

// CompleteMaintenance ends a running window early.
func (e *Engine) CompleteMaintenance(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) {
		return e.st.CompleteMaintenance(ctx, actor, id, body)
	})
}

// StartMaintenance starts a scheduled window before its time.
func (e *Engine) StartMaintenance(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) {
		return e.st.StartMaintenance(ctx, actor, id, body)
	})
}

// windowText is the default first update of a maintenance: the window, in
// the page's time zone, in every language of the page.
func (e *Engine) windowText(cfg *config.Config, start, end time.Time) status.Text {
	loc := cfg.Page.Location
	if loc == nil {
		loc = time.UTC
	}
	out := status.Text{}
	for _, code := range e.languages(cfg) {
		w := e.words.Lang(code)
		out[code] = w.F("default.scheduled.window", start.In(loc).Format(w.T("mail.time")), end.In(loc).Format(w.T("mail.time")))
	}
	return out
}
