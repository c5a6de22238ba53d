package incident

import (
	"context"
	"fmt"
	"strings"

	"github.com/probed/probed/config"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// Templates and postmortems: the operator's, checked against the
// configuration (components must be leaves) and the catalogues (a text's
// language must have one).

// checkLanguages refuses a text in a language probed has no words for.
func (e *Engine) checkLanguages(texts ...status.Text) error {
	for _, t := range texts {
		for _, l := range t.Languages() {
			if !e.words.Has(l) {
				return fmt.Errorf("language %q: probed has words for %s (a language is one catalogue file, words/LANG.json): %w",
					l, strings.Join(e.words.Codes(), ", "), store.ErrInvalid)
			}
		}
	}
	return nil
}

func (e *Engine) checkTemplate(cfg *config.Config, t status.Template) error {
	if err := checkLeaves(cfg, impactIDs(t.Components)...); err != nil {
		return fmt.Errorf("template %q: %w", t.Name, err)
	}
	if err := e.checkLanguages(t.Title, t.Body); err != nil {
		return fmt.Errorf("template %q: %w", t.Name, err)
	}
	return nil
}

// CreateTemplate stores a new incident template.
func (e *Engine) CreateTemplate(ctx context.Context, actor string, t status.Template) (*status.Template, error) {
	if err := e.checkTemplate(e.opts.Config(), t); err != nil {
		return nil, err
	}
	return e.st.CreateTemplate(ctx, actor, t)
}

// UpdateTemplate replaces a template whole.
func (e *Engine) UpdateTemplate(ctx context.Context, actor string, id int64, t status.Template) (*status.Template, error) {
	if err := e.checkTemplate(e.opts.Config(), t); err != nil {
		return nil, err
	}
	return e.st.UpdateTemplate(ctx, actor, id, t)
}

// DeleteTemplate removes a template; incidents started from it keep their texts.
func (e *Engine) DeleteTemplate(ctx context.Context, actor string, id int64) error {
	return e.st.DeleteTemplate(ctx, actor, id)
}

// SavePostmortem stores the draft postmortem of a resolved incident;
// nothing public changes.
func (e *Engine) SavePostmortem(ctx context.Context, actor string, id int64, text status.Text) (*status.Incident, error) {
	if err := e.checkLanguages(text); err != nil {
		return nil, fmt.Errorf("postmortem of %d: %w", id, err)
	}
	return e.act(ctx, func(*config.Config) (*status.Incident, error) { return e.st.SavePostmortem(ctx, actor, id, text) })
}

// PublishPostmortem makes the draft postmortem public (the page, feeds and
// API v2 show it once the public snapshot is rebuilt, which OnChange asks
// for), telling subscribers or not; the audit log says which.
func (e *Engine) PublishPostmortem(ctx context.Context, actor string, id int64, notify bool) (*status.Incident, error) {
	return e.act(ctx, func(*config.Config) (*status.Incident, error) { return e.st.PublishPostmortem(ctx, actor, id, notify) })
}
