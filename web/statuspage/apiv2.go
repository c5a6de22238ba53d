package statuspage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// The Statuspage public API v2 shapes (reference/interfaces.md). Field order
// follows the hosted pages' so a diff against one reads naturally.

type apiPage struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type apiStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type apiComponent struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Status             string   `json:"status"`
	CreatedAt          string   `json:"created_at"`
	UpdatedAt          string   `json:"updated_at"`
	Position           int      `json:"position"`
	Description        *string  `json:"description"`
	Showcase           bool     `json:"showcase"`
	StartDate          *string  `json:"start_date"`
	GroupID            *string  `json:"group_id"`
	PageID             string   `json:"page_id"`
	Group              bool     `json:"group"`
	OnlyShowIfDegraded bool     `json:"only_show_if_degraded"`
	Components         []string `json:"components,omitempty"` // groups only: their children's ids
}

type apiAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type apiUpdate struct {
	ID                   string        `json:"id"`
	Status               string        `json:"status"`
	Body                 string        `json:"body"`
	IncidentID           string        `json:"incident_id"`
	CreatedAt            string        `json:"created_at"`
	UpdatedAt            string        `json:"updated_at"`
	DisplayAt            string        `json:"display_at"`
	AffectedComponents   []apiAffected `json:"affected_components"` // null when no component changed
	DeliverNotifications bool          `json:"deliver_notifications"`
	CustomTweet          *string       `json:"custom_tweet"` // always null: probed posts no tweets
	TweetID              *string       `json:"tweet_id"`     // always null
}

type apiIncident struct {
	ID              string         `json:"id"`
	Name            string         `json:"name"`
	Status          string         `json:"status"`
	CreatedAt       string         `json:"created_at"`
	UpdatedAt       string         `json:"updated_at"`
	MonitoringAt    *string        `json:"monitoring_at"`
	ResolvedAt      *string        `json:"resolved_at"`
	Impact          string         `json:"impact"`
	Shortlink       string         `json:"shortlink"`
	StartedAt       string         `json:"started_at"`
	PageID          string         `json:"page_id"`
	IncidentUpdates []apiUpdate    `json:"incident_updates"`
	Components      []apiComponent `json:"components"`
	// ReminderIntervals is null, as hosted pages send it in the public API
	// on every incident, open or resolved (strict clients require the key;
	// the "[3, 6, 12, 24]" string is the management API's staff reminder
	// setting, which hosted pages do not publish).
	ReminderIntervals *string `json:"reminder_intervals"`
	ScheduledFor      *string `json:"scheduled_for,omitempty"`
	ScheduledUntil    *string `json:"scheduled_until,omitempty"`
}

// apiTime is the hosted pages' timestamp: milliseconds, the page's offset.
func apiTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02T15:04:05.000Z07:00")
}

func apiTimePtr(t time.Time, loc *time.Location) *string {
	if t.IsZero() {
		return nil
	}
	s := apiTime(t, loc)
	return &s
}

func (s *Snapshot) apiPage() apiPage {
	return apiPage{ID: s.Page.ID, Name: s.Page.Name, URL: s.Page.URL, TimeZone: s.Page.TimeZone,
		UpdatedAt: apiTime(s.Page.UpdatedAt, s.Loc)}
}

func (s *Snapshot) apiStatus() apiStatus {
	return apiStatus{Indicator: s.Status.Indicator, Description: s.Status.Description()}
}

func (s *Snapshot) apiComponent(c *Component) apiComponent {
	a := apiComponent{ID: c.ID, Name: c.Name, Status: c.Status, CreatedAt: apiTime(c.CreatedAt, s.Loc),
		UpdatedAt: apiTime(c.UpdatedAt, s.Loc), Position: c.Position, Showcase: !c.OnlyShowIfDegraded,
		PageID: s.Page.ID, Group: c.Group, OnlyShowIfDegraded: c.OnlyShowIfDegraded}
	if c.Description != "" {
		a.Description = &c.Description
	}
	if !c.StartDate.IsZero() {
		d := c.StartDate.Format(time.DateOnly)
		a.StartDate = &d
	}
	if c.Parent != nil {
		a.GroupID = &c.Parent.ID
	}
	for _, ch := range c.Children {
		a.Components = append(a.Components, ch.ID)
	}
	return a
}

func (s *Snapshot) apiComponents() []apiComponent {
	out := make([]apiComponent, 0, len(s.Flat))
	for _, c := range s.Flat {
		out = append(out, s.apiComponent(c))
	}
	return out
}

// Shortlink is the incident's public URL.
func (s *Snapshot) Shortlink(i *Incident) string { return s.Page.URL + i.Path() }

func (s *Snapshot) apiIncident(i *Incident) apiIncident {
	id := strconv.FormatInt(i.ID, 10)
	a := apiIncident{ID: id, Name: i.Name.In(s.Page.defaultLanguage()), Status: i.Status, CreatedAt: apiTime(i.CreatedAt, s.Loc),
		UpdatedAt: apiTime(i.UpdatedAt, s.Loc), MonitoringAt: apiTimePtr(i.MonitoringAt, s.Loc),
		Impact: i.Impact, Shortlink: s.Shortlink(i), StartedAt: apiTime(i.CreatedAt, s.Loc),
		PageID: s.Page.ID, IncidentUpdates: []apiUpdate{}, Components: []apiComponent{}}
	if !i.StartedAt.IsZero() {
		a.StartedAt = apiTime(i.StartedAt, s.Loc)
	}
	if i.Resolved() {
		a.ResolvedAt = apiTimePtr(i.ResolvedAt, s.Loc)
	}
	if i.Maintenance() {
		a.ScheduledFor = apiTimePtr(i.ScheduledFor, s.Loc)
		a.ScheduledUntil = apiTimePtr(i.ScheduledUntil, s.Loc)
		// Not started yet: started_at stays its publication (as hosted
		// pages write it), never the future scheduled_for.
	}
	for _, u := range i.Updates {
		au := apiUpdate{ID: strconv.FormatInt(u.ID, 10), Status: u.Status, Body: u.Body.In(s.Page.defaultLanguage()), IncidentID: id,
			CreatedAt: apiTime(u.CreatedAt, s.Loc), UpdatedAt: apiTime(u.CreatedAt, s.Loc),
			DisplayAt: apiTime(u.DisplayAt, s.Loc), DeliverNotifications: u.Notify}
		if u.Postmortem {
			// Not a row of the timeline: an id of its own, updated when republished.
			au.ID, au.UpdatedAt = id+"-postmortem", apiTime(u.DisplayAt, s.Loc)
		}
		for _, ac := range u.Affected {
			if ac.OldStatus == ac.NewStatus {
				continue // hosted pages list only what the update changed
			}
			name := ac.ID
			if c := s.ByID[ac.ID]; c != nil {
				name = c.Name
			}
			au.AffectedComponents = append(au.AffectedComponents, apiAffected{Code: ac.ID, Name: name, OldStatus: ac.OldStatus, NewStatus: ac.NewStatus})
		}
		a.IncidentUpdates = append(a.IncidentUpdates, au)
	}
	for _, c := range i.Components {
		a.Components = append(a.Components, s.apiComponent(c))
	}
	return a
}

func (s *Snapshot) apiIncidents(list []*Incident, keep func(*Incident) bool, limit int) []apiIncident {
	out := []apiIncident{}
	for _, i := range list {
		if keep != nil && !keep(i) {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, s.apiIncident(i))
	}
	return out
}

func unresolved(i *Incident) bool { return !i.Resolved() }

// upcomingFirst orders maintenances soonest first, as a reader of
// "upcoming" expects.
func upcomingFirst(list []*Incident) []*Incident {
	l := slices.Clone(list)
	slices.SortStableFunc(l, func(a, b *Incident) int { return a.ScheduledFor.Compare(b.ScheduledFor) })
	return l
}

// apiIncidentLimit is how many incidents and maintenances the list endpoints
// return, like the hosted pages.
const apiIncidentLimit = 50

// apiRoutes maps each API v2 path to its body.
var apiRoutes = []struct {
	path string
	body func(s *Snapshot) any
}{
	{"/api/v2/summary.json", func(s *Snapshot) any {
		return struct {
			Page                  apiPage        `json:"page"`
			Components            []apiComponent `json:"components"`
			Incidents             []apiIncident  `json:"incidents"`
			ScheduledMaintenances []apiIncident  `json:"scheduled_maintenances"`
			Status                apiStatus      `json:"status"`
		}{s.apiPage(), s.apiComponents(), s.apiIncidents(s.Incidents, unresolved, 0),
			s.apiIncidents(upcomingFirst(s.Maintenances), func(i *Incident) bool { return i.Active() || i.Upcoming() }, 0), s.apiStatus()}
	}},
	{"/api/v2/status.json", func(s *Snapshot) any {
		return struct {
			Page   apiPage   `json:"page"`
			Status apiStatus `json:"status"`
		}{s.apiPage(), s.apiStatus()}
	}},
	{"/api/v2/components.json", func(s *Snapshot) any {
		return struct {
			Page       apiPage        `json:"page"`
			Components []apiComponent `json:"components"`
		}{s.apiPage(), s.apiComponents()}
	}},
	{"/api/v2/incidents.json", func(s *Snapshot) any {
		return apiIncidentList{s.apiPage(), s.apiIncidents(s.Incidents, nil, apiIncidentLimit)}
	}},
	{"/api/v2/incidents/unresolved.json", func(s *Snapshot) any {
		return apiIncidentList{s.apiPage(), s.apiIncidents(s.Incidents, unresolved, 0)}
	}},
	{"/api/v2/scheduled-maintenances.json", func(s *Snapshot) any {
		return apiMaintenanceList{s.apiPage(), s.apiIncidents(s.Maintenances, nil, apiIncidentLimit)}
	}},
	{"/api/v2/scheduled-maintenances/upcoming.json", func(s *Snapshot) any {
		return apiMaintenanceList{s.apiPage(), s.apiIncidents(upcomingFirst(s.Maintenances), (*Incident).Upcoming, 0)}
	}},
	{"/api/v2/scheduled-maintenances/active.json", func(s *Snapshot) any {
		return apiMaintenanceList{s.apiPage(), s.apiIncidents(s.Maintenances, (*Incident).Active, 0)}
	}},
}

type apiIncidentList struct {
	Page      apiPage       `json:"page"`
	Incidents []apiIncident `json:"incidents"`
}

type apiMaintenanceList struct {
	Page                  apiPage       `json:"page"`
	ScheduledMaintenances []apiIncident `json:"scheduled_maintenances"`
}

// renderJSON encodes an API body without HTML escaping (the hosted pages
// send "<" as is).
func renderJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode api body: %w", err)
	}
	return b.Bytes(), nil
}
