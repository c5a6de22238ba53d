package incident

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
)

// Several holders on one PostgreSQL database (Options.Holder): every
// holder's results reach the store's leader inbox with the results
// themselves, and Alertmanager deliveries a follower receives are put there
// too; the leading engine evaluates them in order, with the quorum rules of
// one holder (each holder probes as its own location), then deletes them.

// inboxBatch is how many inbox items the leader reads at a time.
const inboxBatch = 512

// queuedAlerts is an Alertmanager delivery a follower handed the leader.
type queuedAlerts struct {
	Actor   string   `json:"actor"`
	Payload *Payload `json:"payload"`
}

// queueAlerts hands a delivery received by a follower to the leader.
func (e *Engine) queueAlerts(ctx context.Context, actor string, p *Payload) (AlertReport, error) {
	rep := AlertReport{Received: len(p.Alerts), Ignored: []string{}, QueuedForLeader: true}
	body, err := json.Marshal(queuedAlerts{Actor: actor, Payload: p})
	if err != nil {
		return rep, fmt.Errorf("hand alerts to the leader: %w", err)
	}
	if err := e.st.QueueForLeader(ctx, e.opts.Holder, store.InboxAlerts, body); err != nil {
		return rep, err
	}
	return rep, nil
}

// drainLeaderInbox evaluates what every holder put in the leader inbox,
// oldest first, and deletes it once evaluated: a leader that dies between
// the two leaves the items to the next, which reads them again, never
// loses them. Reading one again counts nothing twice: evaluateBatch skips
// a result no newer than the health already counted for its probe and
// location (saved before the items are deleted, and before any decision),
// and Alertmanager deliveries are idempotent. Run calls it under the
// leader's fenced context; a deposed leader gets store.ErrDeposed.
func (e *Engine) drainLeaderInbox(ctx context.Context) error {
	for {
		items, err := e.st.TakeInbox(ctx, inboxBatch)
		if err != nil || len(items) == 0 {
			return err
		}
		var results []probes.Result
		var ids []int64
		for _, it := range items {
			switch it.Kind {
			case store.InboxResult:
				var r probes.Result
				if err := json.Unmarshal(it.Body, &r); err != nil {
					e.logger.Error("leader inbox: unreadable result dropped", "item", it.ID, "holder", it.Holder, "err", err)
					break
				}
				results = append(results, r)
			case store.InboxAlerts:
				// Results before the delivery are evaluated before it.
				if err := e.evaluateBatch(ctx, results); err != nil {
					return err
				}
				results = results[:0]
				var q queuedAlerts
				if err := json.Unmarshal(it.Body, &q); err != nil || q.Payload == nil {
					e.logger.Error("leader inbox: unreadable Alertmanager delivery dropped", "item", it.ID, "holder", it.Holder, "err", err)
					break
				}
				if _, err := e.applyAlerts(ctx, q.Actor, q.Payload); err != nil {
					return fmt.Errorf("Alertmanager delivery from holder %s: %w", it.Holder, err)
				}
			default:
				e.logger.Error("leader inbox: unknown item dropped (written by a newer probed?)", "item", it.ID, "kind", it.Kind, "holder", it.Holder)
			}
			ids = append(ids, it.ID)
		}
		if err := e.evaluateBatch(ctx, results); err != nil {
			return err
		}
		if err := e.st.AckInbox(ctx, ids); err != nil {
			return err
		}
		if len(items) < inboxBatch {
			return nil
		}
	}
}

// evaluateBatch evaluates results in order under one hold of the lock,
// skipping those already counted (see drainLeaderInbox). A
// result the database failed on is logged (the next tick reconciles); a
// deposed leader stops at once with store.ErrDeposed.
func (e *Engine) evaluateBatch(ctx context.Context, rs []probes.Result) error {
	if len(rs) == 0 {
		return nil
	}
	cfg := e.opts.Config()
	changed := false
	var stop error
	e.mu.Lock()
	if !e.leading.Load() {
		e.mu.Unlock()
		return fmt.Errorf("evaluate results: %w", store.ErrDeposed)
	}
	for _, r := range rs {
		if h := e.probes[probeKey{r.Probe, r.Location}]; h != nil && r.Start.UnixMilli() <= h.Last.UnixMilli() {
			// Counted already: read again after a change of leader, or
			// written twice by a holder that retried a commit that landed.
			// A probe's runs at one location start one after the other.
			e.logger.Debug("leader inbox: result already evaluated skipped", "probe", r.Probe, "location", r.Location, "start", r.Start)
			continue
		}
		c, err := e.record(ctx, cfg, r)
		changed = changed || c
		if errors.Is(err, store.ErrDeposed) || ctx.Err() != nil {
			stop = errors.Join(err, ctx.Err())
			break
		}
		if err != nil {
			e.logger.Error("incident engine: result not fully evaluated; the next tick reconciles", "probe", r.Probe, "location", r.Location, "err", err)
		}
	}
	e.mu.Unlock()
	if changed {
		e.changed()
	}
	if stop != nil {
		return stop
	}
	// The probe health the results moved is saved before they leave the
	// inbox: a new leader rebuilds from it.
	return e.saveHealth(ctx)
}
