package status

import "slices"

// NextStates returns the states an incident in state may move to:
//
//	draft     → published (approve), rejected (reject), withdrawn (the failure cleared)
//	published → resolved (an incident resolves, a maintenance completes),
//	            withdrawn (a scheduled maintenance is cancelled)
//
// resolved, rejected and withdrawn are final.
func NextStates(state string) []string {
	switch state {
	case StateDraft:
		return []string{StatePublished, StateRejected, StateWithdrawn}
	case StatePublished:
		return []string{StateResolved, StateWithdrawn}
	}
	return nil
}

// CanMove reports whether an incident may move from one state to another.
func CanMove(from, to string) bool { return slices.Contains(NextStates(from), to) }

// Editable reports whether an incident in state may be edited, or revised
// by the engine: only drafts can be edited; once published, the record
// changes only through updates.
func Editable(state string) bool { return state == StateDraft }

// Open reports whether an incident in state still needs attention: a
// draft, or published and not resolved.
func Open(state string) bool { return state == StateDraft || state == StatePublished }

// DraftStatuses returns the statuses a draft (or a new incident) may carry:
// not resolved, which only an update on a published incident sets.
func DraftStatuses() []string {
	return []string{StatusInvestigating, StatusIdentified, StatusMonitoring}
}

// ValidDraftStatus reports whether s may be a draft's status.
func ValidDraftStatus(s string) bool { return slices.Contains(DraftStatuses(), s) }

// UpdateStatuses returns what an update on a published incident may say:
// any incident status, or update (keep the status).
func UpdateStatuses() []string { return append(IncidentStatuses(), StatusUpdate) }

// ValidUpdateStatus reports whether s may be an update's status.
func ValidUpdateStatus(s string) bool { return slices.Contains(UpdateStatuses(), s) }

// IncidentComponentStatuses returns the statuses an incident may give a
// component, best first: any but under_maintenance, which only a
// maintenance gives.
func IncidentComponentStatuses() []string {
	return []string{Operational, DegradedPerformance, PartialOutage, MajorOutage}
}

// ValidIncidentComponentStatus reports whether an incident may give a component status s.
func ValidIncidentComponentStatus(s string) bool {
	return slices.Contains(IncidentComponentStatuses(), s)
}

// MaintenanceFrom returns the statuses a published maintenance may move to
// status to from:
//
//	scheduled ──► in_progress ──► verifying ──► completed
//	                   └──────────────────────► completed
//
// (a scheduled maintenance is cancelled instead: state withdrawn).
func MaintenanceFrom(to string) []string {
	switch to {
	case StatusInProgress:
		return []string{StatusScheduled}
	case StatusVerifying:
		return []string{StatusInProgress}
	case StatusCompleted:
		return []string{StatusInProgress, StatusVerifying}
	}
	return nil
}

// CanMoveMaintenance reports whether a maintenance may go from one status to another.
func CanMoveMaintenance(from, to string) bool { return slices.Contains(MaintenanceFrom(to), from) }
