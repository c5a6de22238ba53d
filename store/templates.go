package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/probed/probed/status"
)

// maxTemplateName bounds a template's name (it is shown in menus and typed
// on the command line).
const maxTemplateName = 100

// The fields of template_texts.
const (
	templateTitle = "title"
	templateBody  = "body"
)

// checkTemplate validates a template before it is stored: the checks a
// store can make (the engine checks components and languages against the
// configuration and the catalogues).
func checkTemplate(t *status.Template) error {
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" {
		return fmt.Errorf("template: name is empty: %w", ErrInvalid)
	}
	if utf8.RuneCountInString(t.Name) > maxTemplateName {
		return fmt.Errorf("template %q: name longer than %d characters: %w", t.Name, maxTemplateName, ErrInvalid)
	}
	if strings.ContainsAny(t.Name, "\r\n\t") {
		return fmt.Errorf("template %q: name has a control character: %w", t.Name, ErrInvalid)
	}
	if t.Title.Empty() {
		return fmt.Errorf("template %q: title is empty: %w", t.Name, ErrInvalid)
	}
	if t.Body.Empty() {
		return fmt.Errorf("template %q: message is empty: %w", t.Name, ErrInvalid)
	}
	if t.Impact != "" && !status.ValidImpact(t.Impact) {
		return fmt.Errorf("template %q: impact %q (want none, minor, major or critical, or empty for the component statuses'): %w", t.Name, t.Impact, ErrInvalid)
	}
	if t.Status == "" {
		t.Status = status.StatusInvestigating
	}
	if !status.ValidDraftStatus(t.Status) {
		return fmt.Errorf("template %q: status %q (want investigating, identified or monitoring): %w", t.Name, t.Status, ErrInvalid)
	}
	if err := checkComponents(t.Components); err != nil {
		return fmt.Errorf("template %q: %w", t.Name, err)
	}
	return nil
}

// ListTemplates returns every template, by name.
func (s *Store) ListTemplates(ctx context.Context) ([]status.Template, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, name, impact, status, created_ms, updated_ms FROM incident_templates ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out := []status.Template{}
	for rows.Next() {
		t, err := scanTemplate(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list templates: %w", err)
		}
		out = append(out, *t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	byID := map[int64]*status.Template{}
	for i := range out {
		byID[out[i].ID] = &out[i]
	}
	if err := loadTemplateParts(ctx, s.r, byID); err != nil {
		return nil, err
	}
	return out, nil
}

func scanTemplate(sc scanner) (*status.Template, error) {
	var t status.Template
	var created, updated int64
	if err := sc.Scan(&t.ID, &t.Name, &t.Impact, &t.Status, &created, &updated); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = fromMS(created), fromMS(updated)
	t.Title, t.Body, t.Components = status.Text{}, status.Text{}, []status.ComponentImpact{}
	return &t, nil
}

// loadTemplateParts reads the texts and components of the templates in byID.
func loadTemplateParts(ctx context.Context, q querier, byID map[int64]*status.Template) error {
	if len(byID) == 0 {
		return nil
	}
	args := make([]any, 0, len(byID))
	for id := range byID {
		args = append(args, id)
	}
	set := "(" + strings.TrimSuffix(strings.Repeat("?,", len(args)), ",") + ")"
	rows, err := q.QueryContext(ctx, `SELECT template_id, field, lang, text FROM template_texts WHERE template_id IN `+set, args...)
	if err != nil {
		return fmt.Errorf("read template texts: %w", err)
	}
	for rows.Next() {
		var id int64
		var field, lang, text string
		if err := rows.Scan(&id, &field, &lang, &text); err != nil {
			rows.Close()
			return fmt.Errorf("read template texts: %w", err)
		}
		if t := byID[id]; t != nil {
			if field == templateTitle {
				t.Title[lang] = text
			} else {
				t.Body[lang] = text
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read template texts: %w", err)
	}
	rows, err = q.QueryContext(ctx, `SELECT template_id, component, status FROM template_components WHERE template_id IN `+set+` ORDER BY template_id, position`, args...)
	if err != nil {
		return fmt.Errorf("read template components: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c status.ComponentImpact
		if err := rows.Scan(&id, &c.ID, &c.Status); err != nil {
			return fmt.Errorf("read template components: %w", err)
		}
		if t := byID[id]; t != nil {
			t.Components = append(t.Components, c)
		}
	}
	return rows.Err()
}

// GetTemplate returns one template, or ErrNotFound.
func (s *Store) GetTemplate(ctx context.Context, id int64) (*status.Template, error) {
	return s.getTemplate(ctx, s.r, id)
}

func (s *Store) getTemplate(ctx context.Context, q querier, id int64) (*status.Template, error) {
	t, err := scanTemplate(q.QueryRowContext(ctx, `SELECT id, name, impact, status, created_ms, updated_ms FROM incident_templates WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("template %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read template %d: %w", id, err)
	}
	if err := loadTemplateParts(ctx, q, map[int64]*status.Template{t.ID: t}); err != nil {
		return nil, err
	}
	return t, nil
}

// TemplateNamed returns the template with this name, or ErrNotFound.
func (s *Store) TemplateNamed(ctx context.Context, name string) (*status.Template, error) {
	var id int64
	err := s.r.QueryRowContext(ctx, `SELECT id FROM incident_templates WHERE name = ?`, strings.TrimSpace(name)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("template %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read template %q: %w", name, err)
	}
	return s.GetTemplate(ctx, id)
}

// CreateTemplate stores a new template; its name must be new (else ErrState).
func (s *Store) CreateTemplate(ctx context.Context, actor string, t status.Template) (*status.Template, error) {
	if err := checkTemplate(&t); err != nil {
		return nil, err
	}
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := nameFree(ctx, tx, t.Name, 0); err != nil {
			return err
		}
		now := s.clock.Now().UnixMilli()
		if err := tx.QueryRowContext(ctx, `INSERT INTO incident_templates (name, impact, status, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			t.Name, t.Impact, t.Status, now, now).Scan(&id); err != nil {
			return fmt.Errorf("create template %q: %w", t.Name, err)
		}
		if err := setTemplateParts(ctx, tx, id, t); err != nil {
			return err
		}
		after, err := s.getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "template_create", 0, after.Name, nil, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetTemplate(ctx, id)
}

// UpdateTemplate replaces a template whole (name, texts, impact, status,
// components).
func (s *Store) UpdateTemplate(ctx context.Context, actor string, id int64, t status.Template) (*status.Template, error) {
	if err := checkTemplate(&t); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := nameFree(ctx, tx, t.Name, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_templates SET name = ?, impact = ?, status = ?, updated_ms = ? WHERE id = ?`,
			t.Name, t.Impact, t.Status, s.clock.Now().UnixMilli(), id); err != nil {
			return fmt.Errorf("update template %d: %w", id, err)
		}
		if err := setTemplateParts(ctx, tx, id, t); err != nil {
			return err
		}
		after, err := s.getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "template_update", 0, after.Name, before, after)
	})
	if err != nil {
		return nil, err
	}
	return s.GetTemplate(ctx, id)
}

// DeleteTemplate removes a template. Incidents started from it keep their
// texts: a template is copied, never referenced.
func (s *Store) DeleteTemplate(ctx context.Context, actor string, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		before, err := s.getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		for _, q := range []string{`DELETE FROM template_texts WHERE template_id = ?`, `DELETE FROM template_components WHERE template_id = ?`,
			`DELETE FROM incident_templates WHERE id = ?`} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete template %d: %w", id, err)
			}
		}
		return s.audit(ctx, tx, actor, "template_delete", 0, before.Name, before, nil)
	})
}

// nameFree refuses a name another template (not id) has.
func nameFree(ctx context.Context, tx *sql.Tx, name string, id int64) error {
	var other int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM incident_templates WHERE name = ? AND id <> ?`, name, id).Scan(&other)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("template %q: %w", name, err)
	}
	return fmt.Errorf("template %q: the name is taken by template %d: %w", name, other, ErrState)
}

// setTemplateParts replaces a template's texts and components.
func setTemplateParts(ctx context.Context, tx *sql.Tx, id int64, t status.Template) error {
	for _, q := range []string{`DELETE FROM template_texts WHERE template_id = ?`, `DELETE FROM template_components WHERE template_id = ?`} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return fmt.Errorf("set template %d: %w", id, err)
		}
	}
	for field, text := range map[string]status.Text{templateTitle: t.Title, templateBody: t.Body} {
		for lang, v := range text.Clean() {
			if _, err := tx.ExecContext(ctx, `INSERT INTO template_texts (template_id, field, lang, text) VALUES (?, ?, ?, ?)`, id, field, lang, v); err != nil {
				return fmt.Errorf("set %s of template %d in %q: %w", field, id, lang, err)
			}
		}
	}
	for i, c := range t.Components {
		if _, err := tx.ExecContext(ctx, `INSERT INTO template_components (template_id, component, status, position) VALUES (?, ?, ?, ?)`, id, c.ID, c.Status, i); err != nil {
			return fmt.Errorf("set components of template %d: %w", id, err)
		}
	}
	return nil
}
