package status

import "time"

// Template is what an operator starts a hand-made incident from: a name to
// find it by, the title and first message per language, the impact
// (empty: from the component statuses), the first update's status and the
// components with the status the incident gives them. Starting an incident
// from one fills the form; nothing is published until the operator says so.
type Template struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name"`
	Title      Text              `json:"title"` // by language
	Body       Text              `json:"body"`  // the first update, by language
	Impact     string            `json:"impact"`
	Status     string            `json:"status"`
	Components []ComponentImpact `json:"components"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// Incident is the new incident the template starts: a draft unless
// publish. Fields of over (when given) win over the template's: a title
// or message language replaces that language, components replace the
// template's list, impact and status replace its own.
func (t Template) Incident(over NewIncident) NewIncident {
	in := NewIncident{Title: t.Title.With(over.Title), Body: t.Body.With(over.Body), Impact: t.Impact, Status: t.Status,
		Components: append([]ComponentImpact(nil), t.Components...), Publish: over.Publish, Origin: over.Origin, Template: t.Name}
	if over.Impact != "" {
		in.Impact = over.Impact
	}
	if over.Status != "" {
		in.Status = over.Status
	}
	if over.Components != nil {
		in.Components = over.Components
	}
	return in
}

// Postmortem is the write-up of a resolved incident. Draft is the
// operator's working text; Body, once published, is what the public page,
// the feeds and the API show (publishing copies the draft over, and may be
// repeated after further edits).
type Postmortem struct {
	Draft          Text       `json:"draft"` // by language
	DraftUpdatedAt time.Time  `json:"draft_updated_at"`
	Body           Text       `json:"body"`                 // published, by language; empty until published
	PublishedAt    *time.Time `json:"published_at"`         // first publication
	BodyUpdatedAt  *time.Time `json:"body_last_updated_at"` // latest publication
	// NotifiedSubscribers: subscribers were told of the latest publication.
	NotifiedSubscribers bool `json:"notified_subscribers"`
}

// Published reports whether the postmortem is public.
func (p *Postmortem) Published() bool { return p != nil && p.PublishedAt != nil && !p.Body.Empty() }

// Unpublished reports whether the draft differs from what is public.
func (p *Postmortem) Unpublished() bool {
	if p == nil || p.Draft.Empty() {
		return false
	}
	if len(p.Draft.Clean()) != len(p.Body.Clean()) {
		return true
	}
	for l, s := range p.Draft.Clean() {
		if p.Body[l] != s {
			return true
		}
	}
	return false
}

// CanPostmortem reports whether an incident takes a postmortem: a
// resolved incident (not a maintenance, not an open one).
func (i *Incident) CanPostmortem() bool {
	return i.Kind == KindIncident && i.State == StateResolved
}
