package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
	"slices"
	"strings"
	"time"
)

// ActorEngine is the audit log's "who" for what the engine does by itself.
const ActorEngine = "probed"

// Errors callers branch on (the operator API maps them to 404, 409 and 400).
var (
	ErrNotFound = errors.New("not found")
	ErrState    = errors.New("not allowed in this state")
	ErrInvalid  = errors.New("invalid input")
)

// IncidentFilter selects incidents. Zero fields match everything; State,
// Kind and Status take comma-separated lists.
type IncidentFilter struct {
	State     string
	Kind      string
	Status    string
	Component string
	// Since keeps incidents updated at or after it.
	Since time.Time
	// Limit caps the answer (default 100), newest first.
	Limit int
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const incidentCols = `id, kind, state, status, impact, origin, edited, reason, proposal, proposal_ms,
	created_ms, updated_ms, published_ms, monitoring_ms, resolved_ms, scheduled_for_ms, scheduled_until_ms, shortlink`

// ListIncidents returns the incidents matching f, newest first, each whole.
// Components, updates and evidence are read in batches, not per incident,
// so the public page's rebuild over thousands of incidents stays cheap.
func (s *Store) ListIncidents(ctx context.Context, f IncidentFilter) ([]status.Incident, error) {
	var where []string
	var args []any
	in := func(col, list string) {
		parts := strings.Split(list, ",")
		where = append(where, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(parts)), ",")+")")
		for _, p := range parts {
			args = append(args, strings.TrimSpace(p))
		}
	}
	if f.State != "" {
		in("state", f.State)
	}
	if f.Kind != "" {
		in("kind", f.Kind)
	}
	if f.Status != "" {
		in("status", f.Status)
	}
	if f.Component != "" {
		where = append(where, "id IN (SELECT incident_id FROM incident_components WHERE component = ?)")
		args = append(args, f.Component)
	}
	if !f.Since.IsZero() {
		where = append(where, "updated_ms >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT ` + incidentCols + ` FROM incidents`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	out := []status.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, *inc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	ptrs := make([]*status.Incident, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	const chunk = 500
	for i := 0; i < len(ptrs); i += chunk {
		if err := loadParts(ctx, s.r, ptrs[i:min(i+chunk, len(ptrs))]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// GetIncident returns one incident or maintenance whole, or ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id int64) (*status.Incident, error) {
	return s.getIncident(ctx, s.r, id)
}

func scanIncident(sc scanner) (*status.Incident, error) {
	var inc status.Incident
	var edited int
	var propKind string
	var propMS, pub, mon, res, sf, su sql.NullInt64
	var created, updated int64
	if err := sc.Scan(&inc.ID, &inc.Kind, &inc.State, &inc.Status, &inc.Impact, &inc.Origin, &edited, &inc.Reason,
		&propKind, &propMS, &created, &updated, &pub, &mon, &res, &sf, &su, &inc.Shortlink); err != nil {
		return nil, err
	}
	inc.Edited = edited == 1
	inc.CreatedAt, inc.UpdatedAt = fromMS(created), fromMS(updated)
	inc.PublishedAt, inc.MonitoringAt, inc.ResolvedAt = nullTime(pub), nullTime(mon), nullTime(res)
	inc.ScheduledFor, inc.ScheduledUntil = nullTime(sf), nullTime(su)
	if propKind != "" {
		inc.Proposal = &status.Proposal{Action: propKind, Body: status.Text{}}
		if propMS.Valid {
			inc.Proposal.At = fromMS(propMS.Int64)
		}
	}
	inc.Title = status.Text{}
	inc.Components, inc.Updates, inc.Evidence = []status.ComponentImpact{}, []status.Update{}, []status.Evidence{}
	return &inc, nil
}

func (s *Store) getIncident(ctx context.Context, q querier, id int64) (*status.Incident, error) {
	inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentCols+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read incident %d: %w", id, err)
	}
	if err := loadParts(ctx, q, []*status.Incident{inc}); err != nil {
		return nil, err
	}
	return inc, nil
}

// loadParts reads the texts, components, updates, postmortems and
// evidence of incs in six queries.
func loadParts(ctx context.Context, q querier, incs []*status.Incident) error {
	if len(incs) == 0 {
		return nil
	}
	byID := make(map[int64]*status.Incident, len(incs))
	args := make([]any, len(incs))
	for i, inc := range incs {
		byID[inc.ID] = inc
		args[i] = inc.ID
	}
	set := "(" + strings.TrimSuffix(strings.Repeat("?,", len(incs)), ",") + ")"

	rows, err := q.QueryContext(ctx, `SELECT incident_id, component, status, since_ms FROM incident_components WHERE incident_id IN `+set+` ORDER BY incident_id, position, component`, args...)
	if err != nil {
		return fmt.Errorf("read incident components: %w", err)
	}
	for rows.Next() {
		var id int64
		var c status.ComponentImpact
		var since sql.NullInt64
		if err := rows.Scan(&id, &c.ID, &c.Status, &since); err != nil {
			rows.Close()
			return fmt.Errorf("read incident components: %w", err)
		}
		c.Since = nullTime(since)
		byID[id].Components = append(byID[id].Components, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read incident components: %w", err)
	}

	rows, err = q.QueryContext(ctx, `SELECT id, incident_id, status, created_ms, display_ms, notify, affected FROM incident_updates
		WHERE incident_id IN `+set+` ORDER BY incident_id, display_ms DESC, id DESC`, args...)
	if err != nil {
		return fmt.Errorf("read incident updates: %w", err)
	}
	for rows.Next() {
		var u status.Update
		var created, display int64
		var notify int
		var affected string
		if err := rows.Scan(&u.ID, &u.IncidentID, &u.Status, &created, &display, &notify, &affected); err != nil {
			rows.Close()
			return fmt.Errorf("read incident updates: %w", err)
		}
		u.CreatedAt, u.DisplayAt, u.Notify = fromMS(created), fromMS(display), notify == 1
		if err := json.Unmarshal([]byte(affected), &u.Affected); err != nil {
			rows.Close()
			return fmt.Errorf("read incident %d update %d: affected components: %w", u.IncidentID, u.ID, err)
		}
		if u.Affected == nil {
			u.Affected = []status.AffectedComponent{}
		}
		u.Body = status.Text{}
		byID[u.IncidentID].Updates = append(byID[u.IncidentID].Updates, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read incident updates: %w", err)
	}
	if err := loadTexts(ctx, q, byID, set, args); err != nil {
		return err
	}
	if err := loadPostmortems(ctx, q, byID, set, args); err != nil {
		return err
	}

	rows, err = q.QueryContext(ctx, `SELECT id, incident_id, component, source, probe, location, check_name, message, since_ms, last_ms, count, vals
		FROM incident_evidence WHERE incident_id IN `+set+` ORDER BY incident_id, since_ms, id`, args...)
	if err != nil {
		return fmt.Errorf("read incident evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e status.Evidence
		var id, since, last int64
		var vals string
		if err := rows.Scan(&e.ID, &id, &e.Component, &e.Source, &e.Probe, &e.Location, &e.Check, &e.Message, &since, &last, &e.Count, &vals); err != nil {
			return fmt.Errorf("read incident evidence: %w", err)
		}
		e.Since, e.Last = fromMS(since), fromMS(last)
		if err := json.Unmarshal([]byte(vals), &e.Values); err != nil {
			return fmt.Errorf("read incident %d evidence %d: %w", id, e.ID, err)
		}
		byID[id].Evidence = append(byID[id].Evidence, e)
	}
	return rows.Err()
}

// loadTexts fills the titles, proposals and update bodies of the incidents
// in byID from their rows, one per language.
func loadTexts(ctx context.Context, q querier, byID map[int64]*status.Incident, set string, args []any) error {
	rows, err := q.QueryContext(ctx, `SELECT incident_id, field, lang, text FROM incident_texts WHERE incident_id IN `+set, args...)
	if err != nil {
		return fmt.Errorf("read incident texts: %w", err)
	}
	for rows.Next() {
		var id int64
		var field, lang, text string
		if err := rows.Scan(&id, &field, &lang, &text); err != nil {
			rows.Close()
			return fmt.Errorf("read incident texts: %w", err)
		}
		inc := byID[id]
		switch {
		case field == textTitle:
			inc.Title[lang] = text
		case field == textProposal && inc.Proposal != nil:
			inc.Proposal.Body[lang] = text
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read incident texts: %w", err)
	}
	updates := map[int64]*status.Update{}
	for _, inc := range byID {
		for i := range inc.Updates {
			updates[inc.Updates[i].ID] = &inc.Updates[i]
		}
	}
	rows, err = q.QueryContext(ctx, `SELECT t.update_id, t.lang, t.text FROM update_texts t JOIN incident_updates u ON u.id = t.update_id
		WHERE u.incident_id IN `+set, args...)
	if err != nil {
		return fmt.Errorf("read update texts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var lang, text string
		if err := rows.Scan(&id, &lang, &text); err != nil {
			return fmt.Errorf("read update texts: %w", err)
		}
		if u := updates[id]; u != nil {
			u.Body[lang] = text
		}
	}
	return rows.Err()
}

// The fields of incident_texts.
const (
	textTitle    = "title"
	textProposal = "proposal"
)

// setIncidentText replaces an incident's title or proposal: one row per
// language with a text.
func setIncidentText(ctx context.Context, tx *sql.Tx, id int64, field string, t status.Text) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM incident_texts WHERE incident_id = ? AND field = ?`, id, field); err != nil {
		return fmt.Errorf("set %s of %d: %w", field, id, err)
	}
	for lang, text := range t.Clean() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_texts (incident_id, field, lang, text) VALUES (?, ?, ?, ?)`, id, field, lang, text); err != nil {
			return fmt.Errorf("set %s of %d in %q: %w", field, id, lang, err)
		}
	}
	return nil
}

// setUpdateText replaces an update's body: one row per language with a text.
func setUpdateText(ctx context.Context, tx *sql.Tx, updateID int64, t status.Text) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM update_texts WHERE update_id = ?`, updateID); err != nil {
		return fmt.Errorf("set text of update %d: %w", updateID, err)
	}
	for lang, text := range t.Clean() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO update_texts (update_id, lang, text) VALUES (?, ?, ?)`, updateID, lang, text); err != nil {
			return fmt.Errorf("set text of update %d in %q: %w", updateID, lang, err)
		}
	}
	return nil
}

// CreateDraft stores a new incident in state draft with its proposed first
// update (and, with Publish, approves it in the same transaction).
func (s *Store) CreateDraft(ctx context.Context, actor string, in status.NewIncident) (*status.Incident, error) {
	if in.Title.Empty() {
		return nil, fmt.Errorf("create incident: title is empty: %w", ErrInvalid)
	}
	if in.Body.Empty() {
		return nil, fmt.Errorf("create incident: message is empty: %w", ErrInvalid)
	}
	if in.Origin == "" {
		in.Origin = status.OriginManual
	}
	if in.Origin != status.OriginProbe && in.Origin != status.OriginAlertmanager && in.Origin != status.OriginManual {
		return nil, fmt.Errorf("create incident: origin %q: %w", in.Origin, ErrInvalid)
	}
	if err := checkComponents(in.Components); err != nil {
		return nil, fmt.Errorf("create incident: %w", err)
	}
	if in.Impact == "" {
		in.Impact = status.ImpactFor(in.Components)
	}
	if !status.ValidImpact(in.Impact) {
		return nil, fmt.Errorf("create incident: impact %q (want none, minor, major or critical): %w", in.Impact, ErrInvalid)
	}
	if in.Status == "" {
		in.Status = status.StatusInvestigating
	}
	if !status.ValidDraftStatus(in.Status) {
		return nil, fmt.Errorf("create incident: status %q (want investigating, identified or monitoring): %w", in.Status, ErrInvalid)
	}
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now().UnixMilli()
		err := tx.QueryRowContext(ctx, `INSERT INTO incidents (kind, state, status, impact, origin, created_ms, updated_ms)
			VALUES ('incident', 'draft', ?, ?, ?, ?, ?) RETURNING id`, in.Status, in.Impact, in.Origin, now, now).Scan(&id)
		if err != nil {
			return fmt.Errorf("create incident: %w", err)
		}
		if err := setComponents(ctx, tx, id, in.Components); err != nil {
			return err
		}
		if err := setIncidentText(ctx, tx, id, textTitle, in.Title); err != nil {
			return err
		}
		var uid int64
		err = tx.QueryRowContext(ctx, `INSERT INTO incident_updates (incident_id, status, created_ms, display_ms) VALUES (?, ?, ?, ?) RETURNING id`,
			id, in.Status, now, now).Scan(&uid)
		if err != nil {
			return fmt.Errorf("create incident: %w", err)
		}
		if err := setUpdateText(ctx, tx, uid, in.Body); err != nil {
			return err
		}
		if err := addEvidence(ctx, tx, id, in.Evidence); err != nil {
			return err
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		detail := in.Origin
		if in.Template != "" {
			detail += "; from template " + in.Template
		}
		if err := s.audit(ctx, tx, actor, "create_draft", id, detail, nil, after); err != nil {
			return err
		}
		if in.Publish {
			return s.approve(ctx, tx, actor, id, true)
		}
		return s.insertOperatorEvent(ctx, tx, OperatorDraftCreated, actor, id, "")
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

func checkComponents(comps []status.ComponentImpact) error {
	seen := map[string]bool{}
	for _, c := range comps {
		if c.ID == "" {
			return fmt.Errorf("component with an empty id: %w", ErrInvalid)
		}
		if seen[c.ID] {
			return fmt.Errorf("component %q given twice: %w", c.ID, ErrInvalid)
		}
		seen[c.ID] = true
		if !status.ValidIncidentComponentStatus(c.Status) {
			return fmt.Errorf("component %q: status %q (want operational, degraded_performance, partial_outage or major_outage): %w", c.ID, c.Status, ErrInvalid)
		}
	}
	return nil
}

// setComponents replaces an incident's components, keeping each one's
// since when the caller leaves it nil.
func setComponents(ctx context.Context, tx *sql.Tx, id int64, comps []status.ComponentImpact) error {
	old := map[string]sql.NullInt64{}
	rows, err := tx.QueryContext(ctx, `SELECT component, since_ms FROM incident_components WHERE incident_id = ?`, id)
	if err != nil {
		return fmt.Errorf("set components of %d: %w", id, err)
	}
	for rows.Next() {
		var c string
		var since sql.NullInt64
		if err := rows.Scan(&c, &since); err != nil {
			rows.Close()
			return fmt.Errorf("set components of %d: %w", id, err)
		}
		old[c] = since
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, `DELETE FROM incident_components WHERE incident_id = ?`, id); err != nil {
		return fmt.Errorf("set components of %d: %w", id, err)
	}
	for i, c := range comps {
		var since any
		if c.Since != nil {
			since = c.Since.UnixMilli()
		} else if o, ok := old[c.ID]; ok && o.Valid {
			since = o.Int64
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_components (incident_id, component, status, since_ms, position) VALUES (?, ?, ?, ?, ?)`,
			id, c.ID, c.Status, since, i); err != nil {
			return fmt.Errorf("set components of %d: %w", id, err)
		}
	}
	return nil
}

// addEvidence inserts evidence, or refreshes the row of the same source,
// probe, location and check (message, values, last seen, count).
func addEvidence(ctx context.Context, tx *sql.Tx, id int64, ev []status.Evidence) error {
	for _, e := range ev {
		vals, err := json.Marshal(e.Values)
		if err != nil {
			return fmt.Errorf("add evidence: %w", err)
		}
		if e.Values == nil {
			vals = []byte("{}")
		}
		if e.Last.IsZero() {
			e.Last = e.Since
		}
		if e.Source == "" {
			e.Source = status.OriginProbe
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO incident_evidence (incident_id, component, source, probe, location, check_name, message, since_ms, last_ms, count, vals)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
			ON CONFLICT (incident_id, source, probe, location, check_name) DO UPDATE SET
			  message = excluded.message, vals = excluded.vals, component = excluded.component,
			  since_ms = CASE WHEN excluded.since_ms < incident_evidence.since_ms THEN excluded.since_ms ELSE incident_evidence.since_ms END,
			  last_ms = CASE WHEN excluded.last_ms > incident_evidence.last_ms THEN excluded.last_ms ELSE incident_evidence.last_ms END,
			  count = incident_evidence.count + 1`,
			id, e.Component, e.Source, e.Probe, e.Location, e.Check, e.Message, e.Since.UnixMilli(), e.Last.UnixMilli(), string(vals))
		if err != nil {
			return fmt.Errorf("add evidence to %d: %w", id, err)
		}
	}
	return nil
}

// AddEvidence attaches evidence to an incident (or refreshes what is there).
func (s *Store) AddEvidence(ctx context.Context, id int64, ev []status.Evidence) error {
	if len(ev) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := addEvidence(ctx, tx, id, ev); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE incidents SET updated_ms = ? WHERE id = ?`, s.clock.Now().UnixMilli(), id)
		return err
	})
}

// EditDraft applies an operator's edit to a draft. The engine stops
// rewriting an edited draft's texts and statuses.
func (s *Store) EditDraft(ctx context.Context, actor string, id int64, e status.DraftEdit) (*status.Incident, error) {
	if e.Impact != nil && !status.ValidImpact(*e.Impact) {
		return nil, fmt.Errorf("edit incident %d: impact %q (want none, minor, major or critical): %w", id, *e.Impact, ErrInvalid)
	}
	if e.Status != nil && !status.ValidDraftStatus(*e.Status) {
		return nil, fmt.Errorf("edit incident %d: status %q (want investigating, identified or monitoring): %w", id, *e.Status, ErrInvalid)
	}
	if e.Components != nil {
		if err := checkComponents(e.Components); err != nil {
			return nil, fmt.Errorf("edit incident %d: %w", id, err)
		}
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if !status.Editable(before.State) {
			return fmt.Errorf("edit incident %d: it is %s, only drafts can be edited: %w", id, before.State, ErrState)
		}
		now := s.clock.Now().UnixMilli()
		title, impact, st := before.Title.With(e.Title), before.Impact, before.Status
		if title.Empty() {
			return fmt.Errorf("edit incident %d: title is empty: %w", id, ErrInvalid)
		}
		set(&impact, e.Impact)
		set(&st, e.Status)
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET impact = ?, status = ?, edited = 1, updated_ms = ? WHERE id = ?`,
			impact, st, now, id); err != nil {
			return fmt.Errorf("edit incident %d: %w", id, err)
		}
		if err := setIncidentText(ctx, tx, id, textTitle, title); err != nil {
			return err
		}
		if e.Components != nil {
			if err := setComponents(ctx, tx, id, e.Components); err != nil {
				return err
			}
		}
		if len(before.Updates) > 0 {
			u := before.Updates[len(before.Updates)-1]
			body := u.Body.With(e.Body)
			if body.Empty() {
				return fmt.Errorf("edit incident %d: message is empty: %w", id, ErrInvalid)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE incident_updates SET status = ? WHERE id = ?`, st, u.ID); err != nil {
				return fmt.Errorf("edit incident %d: %w", id, err)
			}
			if err := setUpdateText(ctx, tx, u.ID, body); err != nil {
				return err
			}
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "edit_draft", id, "", before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

func set(dst *string, v *string) {
	if v != nil {
		*dst = *v
	}
}

// ReviseDraft lets the engine follow an outage in its own draft: new
// components are always added; texts, impact and statuses only while no
// operator has edited it. It does nothing to anything but a draft.
func (s *Store) ReviseDraft(ctx context.Context, id int64, r status.DraftRevision) error {
	if err := checkComponents(r.Components); err != nil {
		return fmt.Errorf("revise draft %d: %w", id, err)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if !status.Editable(before.State) {
			return fmt.Errorf("revise draft %d: it is %s: %w", id, before.State, ErrState)
		}
		comps := r.Components
		if before.Edited {
			// Keep the operator's list and statuses; only append what is new.
			comps = slices.Clone(before.Components)
			for _, c := range r.Components {
				if before.Component(c.ID) == nil {
					comps = append(comps, c)
				}
			}
		}
		if err := setComponents(ctx, tx, id, comps); err != nil {
			return err
		}
		now := s.clock.Now().UnixMilli()
		if !before.Edited {
			if _, err := tx.ExecContext(ctx, `UPDATE incidents SET impact = ?, updated_ms = ? WHERE id = ?`,
				status.ImpactFor(comps), now, id); err != nil {
				return fmt.Errorf("revise draft %d: %w", id, err)
			}
			if err := setIncidentText(ctx, tx, id, textTitle, r.Title); err != nil {
				return err
			}
			if len(before.Updates) > 0 {
				u := before.Updates[len(before.Updates)-1]
				if err := setUpdateText(ctx, tx, u.ID, r.Body); err != nil {
					return fmt.Errorf("revise draft %d: %w", id, err)
				}
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE incidents SET updated_ms = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("revise draft %d: %w", id, err)
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, ActorEngine, "revise_draft", id, "", before, after)
	})
}

// SetOutageSince records that a component of an open incident is in a new
// outage (it recovered and failed again), so the outage stays covered.
func (s *Store) SetOutageSince(ctx context.Context, id int64, component string, since time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE incident_components SET since_ms = ? WHERE incident_id = ? AND component = ?`, since.UnixMilli(), id, component)
		if err != nil {
			return fmt.Errorf("set outage of %d/%s: %w", id, component, err)
		}
		return nil
	})
}

// IncidentForOutage returns the newest incident (any state) that covered a
// component's outage starting at since, or nil: an outage the operator has
// already rejected or resolved is not drafted again.
func (s *Store) IncidentForOutage(ctx context.Context, component string, since time.Time) (*status.Incident, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT ic.incident_id FROM incident_components ic JOIN incidents i ON i.id = ic.incident_id
		WHERE ic.component = ? AND ic.since_ms = ? AND i.kind = 'incident' ORDER BY ic.incident_id DESC LIMIT 1`, component, since.UnixMilli()).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("incident for outage of %s: %w", component, err)
	}
	return s.GetIncident(ctx, id)
}

// Approve publishes a draft: its statuses become public, its first update
// is dated now, and, with notify, subscribers are told (an event in the
// same transaction). The audit entry says which.
func (s *Store) Approve(ctx context.Context, actor string, id int64, notify bool) (*status.Incident, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.approve(ctx, tx, actor, id, notify); err != nil {
			return err
		}
		return s.insertOperatorEvent(ctx, tx, OperatorDraftApproved, actor, id, "")
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// Audit details of an approval.
const (
	ApproveNotified = "subscribers notified"
	ApproveQuiet    = "published without notifying subscribers"
)

func (s *Store) approve(ctx context.Context, tx *sql.Tx, actor string, id int64, notify bool) error {
	before, err := s.getIncident(ctx, tx, id)
	if err != nil {
		return err
	}
	if !status.CanMove(before.State, status.StatePublished) {
		return fmt.Errorf("approve incident %d: it is %s, not a draft: %w", id, before.State, ErrState)
	}
	if before.Kind != status.KindIncident {
		return fmt.Errorf("approve incident %d: it is a maintenance: %w", id, ErrState)
	}
	now := s.clock.Now()
	ms := now.UnixMilli()
	comps := before.ComponentIDs()
	old, err := s.publicStatuses(ctx, tx, comps)
	if err != nil {
		return err
	}
	var mon any
	if before.Status == status.StatusMonitoring {
		mon = ms
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'published', published_ms = ?, monitoring_ms = ?, updated_ms = ? WHERE id = ?`, ms, mon, ms, id); err != nil {
		return fmt.Errorf("approve incident %d: %w", id, err)
	}
	if err := s.refreshStatuses(ctx, tx, comps, now); err != nil {
		return err
	}
	affected, err := s.affected(ctx, tx, comps, old)
	if err != nil {
		return err
	}
	var updateID int64
	if len(before.Updates) > 0 {
		u := before.Updates[len(before.Updates)-1]
		updateID = u.ID
		aj, _ := json.Marshal(affected)
		if _, err := tx.ExecContext(ctx, `UPDATE incident_updates SET created_ms = ?, display_ms = ?, notify = ?, affected = ? WHERE id = ?`, ms, ms, boolInt(notify), string(aj), u.ID); err != nil {
			return fmt.Errorf("approve incident %d: %w", id, err)
		}
	}
	detail := ApproveQuiet
	if notify {
		detail = ApproveNotified
		if _, err := s.insertEvent(ctx, tx, Event{Kind: EventIncidentPublished, IncidentID: id, UpdateID: updateID, Components: comps, CreatedAt: now}); err != nil {
			return err
		}
	}
	after, err := s.getIncident(ctx, tx, id)
	if err != nil {
		return err
	}
	return s.audit(ctx, tx, actor, "approve", id, detail, before, after)
}

// Reject closes a draft without publishing anything, with the operator's reason.
func (s *Store) Reject(ctx context.Context, actor string, id int64, reason string) (*status.Incident, error) {
	return s.closeDraft(ctx, actor, id, status.StateRejected, "reject", reason)
}

// Withdraw closes a draft whose failure cleared before anyone approved it;
// it is kept for the record and never published.
func (s *Store) Withdraw(ctx context.Context, actor string, id int64, reason string) (*status.Incident, error) {
	return s.closeDraft(ctx, actor, id, status.StateWithdrawn, "withdraw", reason)
}

func (s *Store) closeDraft(ctx context.Context, actor string, id int64, state, action, reason string) (*status.Incident, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if !status.CanMove(before.State, state) {
			return fmt.Errorf("%s incident %d: it is %s, not a draft: %w", action, id, before.State, ErrState)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, reason = ?, updated_ms = ? WHERE id = ?`, state, reason, s.clock.Now().UnixMilli(), id); err != nil {
			return fmt.Errorf("%s incident %d: %w", action, id, err)
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, actor, action, id, reason, before, after); err != nil {
			return err
		}
		kind := OperatorDraftRejected
		if state == status.StateWithdrawn {
			kind = OperatorDraftWithdrawn
		}
		return s.insertOperatorEvent(ctx, tx, kind, actor, id, reason)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// PostUpdate adds a timeline entry to a published incident; a notifying
// update writes its event in the same transaction. An update that changes
// an incident's component statuses may raise its impact
// (status.ImpactAfterUpdate), never lower it.
func (s *Store) PostUpdate(ctx context.Context, actor string, id int64, in status.NewUpdate) (*status.Incident, error) {
	if in.Status == status.StatusResolved {
		return s.Resolve(ctx, actor, id, in.Body)
	}
	if in.Status == "" {
		in.Status = status.StatusUpdate
	}
	if !status.ValidUpdateStatus(in.Status) {
		return nil, fmt.Errorf("post update to %d: status %q (want investigating, identified, monitoring, update or resolved): %w", id, in.Status, ErrInvalid)
	}
	if in.Body.Empty() {
		return nil, fmt.Errorf("post update to %d: message is empty: %w", id, ErrInvalid)
	}
	if err := checkComponents(in.Components); err != nil {
		return nil, fmt.Errorf("post update to %d: %w", id, err)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.State != status.StatePublished {
			return fmt.Errorf("post update to %d: it is %s; updates go to published incidents: %w", id, before.State, ErrState)
		}
		st := in.Status
		if st == status.StatusUpdate {
			st = before.Status
		}
		if before.Kind == status.KindMaintenance && st != before.Status {
			return fmt.Errorf("post update to %d: a maintenance moves through its statuses by itself (use verifying, cancel or complete): %w", id, ErrState)
		}
		now := s.clock.Now()
		ms := now.UnixMilli()
		comps := before.ComponentIDs()
		for _, c := range in.Components {
			if !slices.Contains(comps, c.ID) {
				comps = append(comps, c.ID)
			}
		}
		old, err := s.publicStatuses(ctx, tx, comps)
		if err != nil {
			return err
		}
		impact := before.Impact
		if len(in.Components) > 0 {
			merged := slices.Clone(before.Components)
			for _, c := range in.Components {
				if cur := findComp(merged, c.ID); cur != nil {
					cur.Status = c.Status
				} else {
					merged = append(merged, status.ComponentImpact{ID: c.ID, Status: c.Status})
				}
			}
			if err := setComponents(ctx, tx, id, merged); err != nil {
				return err
			}
			if before.Kind == status.KindIncident {
				impact = status.ImpactAfterUpdate(before.Impact, before.Components, merged)
			}
		}
		mon := "monitoring_ms"
		if st == status.StatusMonitoring {
			mon = "COALESCE(monitoring_ms, ?)"
		}
		q := `UPDATE incidents SET status = ?, impact = ?, proposal = '', updated_ms = ?, monitoring_ms = ` + mon + ` WHERE id = ?`
		args := []any{st, impact, ms}
		if st == status.StatusMonitoring {
			args = append(args, ms)
		}
		args = append(args, id)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("post update to %d: %w", id, err)
		}
		if err := s.refreshStatuses(ctx, tx, comps, now); err != nil {
			return err
		}
		affected, err := s.affected(ctx, tx, comps, old)
		if err != nil {
			return err
		}
		uid, err := s.insertUpdate(ctx, tx, id, st, in.Body, ms, in.Notify, affected)
		if err != nil {
			return err
		}
		if in.Notify {
			if _, err := s.insertEvent(ctx, tx, Event{Kind: EventIncidentUpdated, IncidentID: id, UpdateID: uid, Components: comps, CreatedAt: now}); err != nil {
				return err
			}
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "post_update", id, in.Status, before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

func findComp(list []status.ComponentImpact, id string) *status.ComponentImpact {
	for i := range list {
		if list[i].ID == id {
			return &list[i]
		}
	}
	return nil
}

func (s *Store) insertUpdate(ctx context.Context, tx *sql.Tx, id int64, st string, body status.Text, ms int64, notify bool, affected []status.AffectedComponent) (int64, error) {
	if affected == nil {
		affected = []status.AffectedComponent{}
	}
	aj, err := json.Marshal(affected)
	if err != nil {
		return 0, fmt.Errorf("insert update: %w", err)
	}
	var uid int64
	err = tx.QueryRowContext(ctx, `INSERT INTO incident_updates (incident_id, status, created_ms, display_ms, notify, affected) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		id, st, ms, ms, boolInt(notify), string(aj)).Scan(&uid)
	if err != nil {
		return 0, fmt.Errorf("insert update of %d: %w", id, err)
	}
	return uid, setUpdateText(ctx, tx, uid, body)
}

// defaultBody is the text of an update probed writes itself, by what
// happened, in every language of the catalogue (default.* keys).
func defaultBody(what string) status.Text {
	key := map[string]string{status.StatusResolved: "default.resolved", status.StatusScheduled: "default.scheduled",
		status.StatusInProgress: "default.in_progress", status.StatusVerifying: "default.verifying",
		status.StatusCompleted: "default.completed", status.StateWithdrawn: "default.cancelled"}[what]
	if key == "" {
		return nil
	}
	return words.Builtin().Text(key)
}

// orDefault is body, or the default text of what when body is empty.
func orDefault(body status.Text, what string) status.Text {
	if body.Empty() {
		return defaultBody(what)
	}
	return body
}

// Resolve resolves a published incident: it leaves the public statuses,
// gets a final update, and subscribers are told.
func (s *Store) Resolve(ctx context.Context, actor string, id int64, body status.Text) (*status.Incident, error) {
	body = orDefault(body, status.StatusResolved)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.State != status.StatePublished || before.Kind != status.KindIncident {
			return fmt.Errorf("resolve incident %d: it is a %s %s; only published incidents resolve: %w", id, before.State, before.Kind, ErrState)
		}
		now := s.clock.Now()
		ms := now.UnixMilli()
		comps := before.ComponentIDs()
		old, err := s.publicStatuses(ctx, tx, comps)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = 'resolved', status = 'resolved', resolved_ms = ?, updated_ms = ?, proposal = '' WHERE id = ?`, ms, ms, id); err != nil {
			return fmt.Errorf("resolve incident %d: %w", id, err)
		}
		if err := s.refreshStatuses(ctx, tx, comps, now); err != nil {
			return err
		}
		affected, err := s.affected(ctx, tx, comps, old)
		if err != nil {
			return err
		}
		uid, err := s.insertUpdate(ctx, tx, id, status.StatusResolved, body, ms, true, affected)
		if err != nil {
			return err
		}
		if _, err := s.insertEvent(ctx, tx, Event{Kind: EventIncidentResolved, IncidentID: id, UpdateID: uid, Components: comps, CreatedAt: now}); err != nil {
			return err
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "resolve", id, "", before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// ProposeResolve records the engine's proposal to resolve a published
// incident whose components have recovered. Nothing public changes.
func (s *Store) ProposeResolve(ctx context.Context, id int64, body status.Text) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.State != status.StatePublished || before.Proposal != nil {
			return nil
		}
		ms := s.clock.Now().UnixMilli()
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET proposal = 'resolve', proposal_ms = ?, updated_ms = ? WHERE id = ?`,
			ms, ms, id); err != nil {
			return fmt.Errorf("propose resolving %d: %w", id, err)
		}
		if err := setIncidentText(ctx, tx, id, textProposal, body); err != nil {
			return err
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := s.audit(ctx, tx, ActorEngine, "propose_resolve", id, "", before, after); err != nil {
			return err
		}
		return s.insertOperatorEvent(ctx, tx, OperatorResolveProposed, ActorEngine, id, "")
	})
}

// ClearProposal drops a resolve proposal (the components failed again).
func (s *Store) ClearProposal(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.Proposal == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET proposal = '', updated_ms = ? WHERE id = ?`, s.clock.Now().UnixMilli(), id); err != nil {
			return fmt.Errorf("clear proposal of %d: %w", id, err)
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, ActorEngine, "withdraw_proposal", id, "", before, after)
	})
}

func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullTime(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// CountIncidents returns how many incidents (not maintenances) are in each state.
func (s *Store) CountIncidents(ctx context.Context) (map[string]int, error) {
	return s.countByState(ctx, "incidents", `SELECT state, COUNT(*) FROM incidents WHERE kind = 'incident' GROUP BY state`)
}

// countByState runs a `SELECT state, COUNT(*) ... GROUP BY state` query.
func (s *Store) countByState(ctx context.Context, what, query string, args ...any) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("count %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count %s: %w", what, err)
		}
		out[st] = n
	}
	return out, rows.Err()
}
