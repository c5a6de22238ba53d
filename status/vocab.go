// Package status is the status domain: the vocabulary of component statuses,
// incident impacts, states and statuses, their one ranking, the transition
// rules, and the incident, update and maintenance types. It does no I/O:
// store persists these types; incident, notify and the web surfaces use them.
package status

import "slices"

// Kinds: incidents and scheduled maintenances share one model.
const (
	KindIncident    = "incident"
	KindMaintenance = "maintenance"
)

// Incident states: who has seen it. Only published and resolved ones are public.
const (
	StateDraft     = "draft"
	StatePublished = "published"
	StateResolved  = "resolved"
	StateRejected  = "rejected"
	StateWithdrawn = "withdrawn"
)

// Incident and maintenance statuses (the timeline's words).
const (
	StatusInvestigating = "investigating"
	StatusIdentified    = "identified"
	StatusMonitoring    = "monitoring"
	StatusResolved      = "resolved"
	StatusScheduled     = "scheduled"
	StatusInProgress    = "in_progress"
	StatusVerifying     = "verifying"
	StatusCompleted     = "completed"
	// StatusUpdate posts an update that keeps the status (shown as "Update").
	StatusUpdate = "update"
	// StatusPostmortem is what the public API and the timeline call a
	// resolved incident once its postmortem is published, as hosted
	// Statuspage does; the store keeps the incident resolved.
	StatusPostmortem = "postmortem"
)

// Impacts (the page indicator vocabulary, plus maintenance).
const (
	ImpactNone        = "none"
	ImpactMinor       = "minor"
	ImpactMajor       = "major"
	ImpactCritical    = "critical"
	ImpactMaintenance = "maintenance"
)

// Component statuses.
const (
	Operational         = "operational"
	DegradedPerformance = "degraded_performance"
	UnderMaintenance    = "under_maintenance"
	PartialOutage       = "partial_outage"
	MajorOutage         = "major_outage"
)

// Origins: what made an incident.
const (
	OriginProbe        = "probe"
	OriginAlertmanager = "alertmanager"
	OriginManual       = "manual"
)

// ComponentStatuses returns every component status, best first (Rank order).
func ComponentStatuses() []string {
	return []string{Operational, DegradedPerformance, UnderMaintenance, PartialOutage, MajorOutage}
}

// IncidentStatuses returns the statuses of an incident's timeline, in the
// order an incident moves through them.
func IncidentStatuses() []string {
	return []string{StatusInvestigating, StatusIdentified, StatusMonitoring, StatusResolved}
}

// MaintenanceStatuses returns the statuses of a maintenance's timeline, in order.
func MaintenanceStatuses() []string {
	return []string{StatusScheduled, StatusInProgress, StatusVerifying, StatusCompleted}
}

// States returns every incident state.
func States() []string {
	return []string{StateDraft, StatePublished, StateResolved, StateRejected, StateWithdrawn}
}

// Impacts returns the incident impacts, least first (maintenance is not one).
func Impacts() []string {
	return []string{ImpactNone, ImpactMinor, ImpactMajor, ImpactCritical}
}

// Rank orders component statuses by how bad they look, the one ranking every
// surface uses (a group's status, the public status of a component several
// incidents cover, the worst status a draft's title names):
//
//	operational < degraded_performance < under_maintenance < partial_outage < major_outage
//
// Maintenance ranks above degraded performance, as the README's lifecycle
// says: a component degraded inside a maintenance window reads "under
// maintenance" (the work explains the slowness, and that time stays out of
// uptime), while an outage still shows through a maintenance. Unknown
// statuses rank as operational.
func Rank(s string) int {
	switch s {
	case DegradedPerformance:
		return 1
	case UnderMaintenance:
		return 2
	case PartialOutage:
		return 3
	case MajorOutage:
		return 4
	}
	return 0
}

// Worse returns the worse of two component statuses (a on a tie).
func Worse(a, b string) string {
	if Rank(b) > Rank(a) {
		return b
	}
	return a
}

// Worst returns the worst of the statuses, operational for none.
func Worst(statuses ...string) string {
	w := Operational
	for _, s := range statuses {
		w = Worse(w, s)
	}
	return w
}

// ImpactRank orders impacts: none < minor < major < critical.
func ImpactRank(impact string) int {
	switch impact {
	case ImpactMinor:
		return 1
	case ImpactMajor:
		return 2
	case ImpactCritical:
		return 3
	}
	return 0
}

// IndicatorFor is the page indicator (an impact) a component status raises:
// degraded → minor, partial outage → major, major outage → critical;
// operational and maintenance raise none.
func IndicatorFor(componentStatus string) string {
	switch componentStatus {
	case DegradedPerformance:
		return ImpactMinor
	case PartialOutage:
		return ImpactMajor
	case MajorOutage:
		return ImpactCritical
	}
	return ImpactNone
}

// ImpactFor is an incident's impact from the statuses it gives its
// components, as Statuspage computes it: the top-level status those
// components alone would give a page (Blend) — one component in a major
// outage is critical, one of several in a major outage is major, a partial
// outage among others is minor. Maintenance alone is minor (an incident,
// not a window).
func ImpactFor(comps []ComponentImpact) string {
	statuses := make([]string, 0, len(comps))
	for _, c := range comps {
		statuses = append(statuses, c.Status)
	}
	if i := Blend(statuses).Indicator; i != ImpactMaintenance {
		return i
	}
	return ImpactMinor
}

// ImpactAfterUpdate is a published incident's impact once an update has
// moved its components from the statuses before to after: what after gives
// (ImpactFor) when the update made them worse than they were and than the
// impact in force, else the impact in force. An impact never falls: a
// computed one is the highest its components have reached (a recovered or
// resolved incident keeps it, as hosted pages do), and one the operator
// chose stands until its components get worse than it.
func ImpactAfterUpdate(impact string, before, after []ComponentImpact) string {
	now := ImpactRank(ImpactFor(after))
	if now > ImpactRank(ImpactFor(before)) && now > ImpactRank(impact) {
		return ImpactFor(after)
	}
	return impact
}

// ValidComponentStatus reports whether s is a component status.
func ValidComponentStatus(s string) bool { return slices.Contains(ComponentStatuses(), s) }

// ValidImpact reports whether s is an incident impact.
func ValidImpact(s string) bool { return slices.Contains(Impacts(), s) }

// ValidState reports whether s is an incident state.
func ValidState(s string) bool { return slices.Contains(States(), s) }

// ValidIncidentStatus reports whether s is an incident (not maintenance) status.
func ValidIncidentStatus(s string) bool { return slices.Contains(IncidentStatuses(), s) }

// Public reports whether an incident in state may be shown to the public.
func Public(state string) bool { return state == StatePublished || state == StateResolved }
