package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/probed/probed/status"
)

// The fields of postmortem_texts.
const (
	postmortemDraft     = "draft"
	postmortemPublished = "published"
)

// loadPostmortems fills the postmortems of the incidents in byID (one query).
func loadPostmortems(ctx context.Context, q querier, byID map[int64]*status.Incident, set string, args []any) error {
	rows, err := q.QueryContext(ctx, `SELECT p.incident_id, p.draft_ms, p.published_ms, p.body_ms, p.notified, COALESCE(t.field, ''), COALESCE(t.lang, ''), COALESCE(t.text, '')
		FROM postmortems p LEFT JOIN postmortem_texts t ON t.incident_id = p.incident_id WHERE p.incident_id IN `+set, args...)
	if err != nil {
		return fmt.Errorf("read postmortems: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, draft, notified int64
		var pub, body sql.NullInt64
		var field, lang, text string
		if err := rows.Scan(&id, &draft, &pub, &body, &notified, &field, &lang, &text); err != nil {
			return fmt.Errorf("read postmortems: %w", err)
		}
		inc := byID[id]
		if inc == nil {
			continue
		}
		if inc.Postmortem == nil {
			inc.Postmortem = &status.Postmortem{Draft: status.Text{}, Body: status.Text{}, DraftUpdatedAt: fromMS(draft),
				PublishedAt: nullTime(pub), BodyUpdatedAt: nullTime(body), NotifiedSubscribers: notified == 1}
		}
		switch field {
		case postmortemDraft:
			inc.Postmortem.Draft[lang] = text
		case postmortemPublished:
			inc.Postmortem.Body[lang] = text
		}
	}
	return rows.Err()
}

// SavePostmortem stores the draft of a resolved incident's postmortem (a
// text per language; the languages given replace the whole draft).
// Nothing public changes until PublishPostmortem. An open incident, a
// maintenance or a draft incident is refused (ErrState).
func (s *Store) SavePostmortem(ctx context.Context, actor string, id int64, draft status.Text) (*status.Incident, error) {
	draft = draft.Clean()
	if draft.Empty() {
		return nil, fmt.Errorf("postmortem of %d: the text is empty: %w", id, ErrInvalid)
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.postmortemTarget(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.clock.Now().UnixMilli()
		if before.Postmortem == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO postmortems (incident_id, draft_ms) VALUES (?, ?)`, id, now)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE postmortems SET draft_ms = ? WHERE incident_id = ?`, now, id)
		}
		if err != nil {
			return fmt.Errorf("postmortem of %d: %w", id, err)
		}
		if err := setPostmortemText(ctx, tx, id, postmortemDraft, draft); err != nil {
			return err
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "postmortem_draft", id, "", before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// PublishPostmortem makes a resolved incident's postmortem draft public:
// the page, the feeds and API v2 show it from now on. Publishing again
// after editing the draft replaces the public text. With notify,
// subscribers of its components are told (a postmortem_published event in
// the same transaction); without, nobody is mailed. The audit entry says
// which, as approving does.
func (s *Store) PublishPostmortem(ctx context.Context, actor string, id int64, notify bool) (*status.Incident, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.postmortemTarget(ctx, tx, id)
		if err != nil {
			return err
		}
		if before.Postmortem == nil || before.Postmortem.Draft.Empty() {
			return fmt.Errorf("publish postmortem of %d: there is no draft; write one first: %w", id, ErrState)
		}
		now := s.clock.Now().UnixMilli()
		if _, err := tx.ExecContext(ctx, `UPDATE postmortems SET published_ms = COALESCE(published_ms, ?), body_ms = ?, notified = ? WHERE incident_id = ?`, now, now, boolInt(notify), id); err != nil {
			return fmt.Errorf("publish postmortem of %d: %w", id, err)
		}
		if err := setPostmortemText(ctx, tx, id, postmortemPublished, before.Postmortem.Draft); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET updated_ms = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("publish postmortem of %d: %w", id, err)
		}
		after, err := s.getIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		detail := "published"
		if before.Postmortem.Published() {
			detail = "republished"
		}
		if notify {
			detail += "; " + ApproveNotified
			if _, err := s.insertEvent(ctx, tx, Event{Kind: EventPostmortemPublished, IncidentID: id, Components: before.ComponentIDs(), CreatedAt: fromMS(now)}); err != nil {
				return err
			}
		} else {
			detail += "; " + ApproveQuiet
		}
		return s.audit(ctx, tx, actor, "publish_postmortem", id, detail, before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetIncident(ctx, id)
}

// postmortemTarget reads an incident a postmortem may be written for.
func (s *Store) postmortemTarget(ctx context.Context, tx *sql.Tx, id int64) (*status.Incident, error) {
	inc, err := s.getIncident(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if inc.Kind != status.KindIncident {
		return nil, fmt.Errorf("postmortem of %d: it is a maintenance; postmortems are for resolved incidents: %w", id, ErrState)
	}
	if inc.State != status.StateResolved {
		return nil, fmt.Errorf("postmortem of %d: it is %s; a postmortem is written once the incident is resolved: %w", id, inc.State, ErrState)
	}
	return inc, nil
}

func setPostmortemText(ctx context.Context, tx *sql.Tx, id int64, field string, t status.Text) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM postmortem_texts WHERE incident_id = ? AND field = ?`, id, field); err != nil {
		return fmt.Errorf("set postmortem of %d: %w", id, err)
	}
	for lang, text := range t.Clean() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO postmortem_texts (incident_id, field, lang, text) VALUES (?, ?, ?, ?)`, id, field, lang, text); err != nil {
			return fmt.Errorf("set postmortem of %d in %q: %w", id, lang, err)
		}
	}
	return nil
}
