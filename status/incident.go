package status

import "time"

// Incident is an incident or a scheduled maintenance with its components,
// timeline (newest first) and evidence.
type Incident struct {
	ID             int64             `json:"id"`
	Kind           string            `json:"kind"`
	State          string            `json:"state"`
	Status         string            `json:"status"`
	Impact         string            `json:"impact"`
	Title          Text              `json:"title"` // by language
	Components     []ComponentImpact `json:"components"`
	Updates        []Update          `json:"updates"`
	Evidence       []Evidence        `json:"evidence"`
	Origin         string            `json:"origin"`
	Edited         bool              `json:"edited"`
	Reason         string            `json:"reason,omitempty"`
	Proposal       *Proposal         `json:"proposal,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	PublishedAt    *time.Time        `json:"published_at"`
	MonitoringAt   *time.Time        `json:"monitoring_at"`
	ResolvedAt     *time.Time        `json:"resolved_at"`
	ScheduledFor   *time.Time        `json:"scheduled_for,omitempty"`
	ScheduledUntil *time.Time        `json:"scheduled_until,omitempty"`
	Shortlink      string            `json:"shortlink,omitempty"`
	// Postmortem is the write-up of a resolved incident, nil when none
	// was started.
	Postmortem *Postmortem `json:"postmortem,omitempty"`
}

// ComponentImpact is a component an incident covers and its status there:
// proposed while a draft, public once published.
type ComponentImpact struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Since is when the engine saw the component leave operational.
	Since *time.Time `json:"since,omitempty"`
}

// Update is one timeline entry.
type Update struct {
	ID         int64               `json:"id"`
	IncidentID int64               `json:"incident_id"`
	Status     string              `json:"status"`
	Body       Text                `json:"body"` // by language
	CreatedAt  time.Time           `json:"created_at"`
	DisplayAt  time.Time           `json:"display_at"`
	Notify     bool                `json:"notify"`
	Affected   []AffectedComponent `json:"affected_components"`
}

// AffectedComponent is a public status change an update made.
type AffectedComponent struct {
	ID        string `json:"id"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

// Evidence is what the machines saw: a failed check of a probe at a
// location, or a firing Alertmanager alert, with its stored values.
type Evidence struct {
	ID        int64             `json:"id"`
	Component string            `json:"component"`
	Source    string            `json:"source"` // probe | alertmanager
	Probe     string            `json:"probe"`  // probe name or alertname
	Location  string            `json:"location"`
	Check     string            `json:"check"`
	Message   string            `json:"message"`
	Since     time.Time         `json:"since"`
	Last      time.Time         `json:"last"`
	Count     int               `json:"count"`
	Values    map[string]string `json:"values,omitempty"`
}

// Proposal is the engine asking the operator to resolve a published
// incident whose components have recovered.
type Proposal struct {
	Action string    `json:"action"` // resolve
	Body   Text      `json:"body"`   // by language
	At     time.Time `json:"at"`
}

// Open reports whether an incident still needs attention: a draft, or
// published and not resolved.
func (i *Incident) Open() bool { return Open(i.State) }

// Component returns the incident's entry for a component, or nil.
func (i *Incident) Component(id string) *ComponentImpact {
	for k := range i.Components {
		if i.Components[k].ID == id {
			return &i.Components[k]
		}
	}
	return nil
}

// ComponentIDs returns the ids of the incident's components in order.
func (i *Incident) ComponentIDs() []string {
	out := make([]string, len(i.Components))
	for k, c := range i.Components {
		out[k] = c.ID
	}
	return out
}

// NewIncident is a new incident: a draft from the engine (Origin probe or
// alertmanager) or an operator (manual; Publish approves it at once).
type NewIncident struct {
	Title      Text
	Impact     string // empty: proposed from the component statuses
	Status     string // first update's status; empty: investigating
	Body       Text
	Components []ComponentImpact
	Evidence   []Evidence
	Origin     string
	Publish    bool
	// Template is the name of the template it was started from ("" none),
	// for the audit log.
	Template string
}

// DraftEdit is an operator's change to a draft; nil fields stay as they
// are, and Title and Body change only the languages they hold (a blank text
// removes that language).
type DraftEdit struct {
	Title      Text
	Impact     *string
	Status     *string
	Body       Text
	Components []ComponentImpact
}

// DraftRevision is the engine's fresh view of an unedited draft it made.
type DraftRevision struct {
	Title, Body Text
	Components  []ComponentImpact
}

// NewUpdate is an update posted to a published incident. Status is
// identified, monitoring, investigating, update (keep the status) or
// resolved. Components, when given, change the public statuses.
type NewUpdate struct {
	Status     string
	Body       Text
	Notify     bool
	Components []ComponentImpact
}

// NewMaintenance is a maintenance window to schedule.
type NewMaintenance struct {
	Title      Text
	Components []string
	Start      time.Time
	End        time.Time
	Body       Text // empty: the default text
}

// MaintenanceRunning reports whether a maintenance with this status has
// started and not finished (in progress or verifying): only then are its
// components under maintenance.
func MaintenanceRunning(st string) bool { return st == StatusInProgress || st == StatusVerifying }

// StatusNow is the status the record gives component id now: an
// incident's its component status; a maintenance window's
// under_maintenance only while it runs (MaintenanceRunning). A scheduled,
// completed or cancelled window gives none (""), so no surface — console,
// page, mail — says "under maintenance" before the window starts.
func (i *Incident) StatusNow(id string) string {
	c := i.Component(id)
	if c == nil {
		return ""
	}
	if i.Kind == KindMaintenance && !(i.State == StatePublished && MaintenanceRunning(i.Status)) {
		return ""
	}
	return c.Status
}
