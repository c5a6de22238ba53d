package status

import (
	"slices"
	"testing"
)

// One ranking: every surface orders component statuses by Rank, and this is
// the order (the README's "worst wins" rule).
func TestRankIsTheOneOrder(t *testing.T) {
	want := []string{Operational, DegradedPerformance, UnderMaintenance, PartialOutage, MajorOutage}
	if got := ComponentStatuses(); !slices.Equal(got, want) {
		t.Fatalf("ComponentStatuses() = %v, want %v", got, want)
	}
	for i, a := range want {
		for j, b := range want {
			if (i < j) != (Rank(a) < Rank(b)) || (i == j) != (Rank(a) == Rank(b)) {
				t.Errorf("Rank(%s)=%d vs Rank(%s)=%d: order broken", a, Rank(a), b, Rank(b))
			}
			wantWorse := want[max(i, j)]
			if got := Worse(a, b); got != wantWorse {
				t.Errorf("Worse(%s, %s) = %s, want %s", a, b, got, wantWorse)
			}
		}
	}
	if Rank("bogus") != Rank(Operational) {
		t.Errorf("an unknown status must rank as operational")
	}
	if got := Worst(); got != Operational {
		t.Errorf("Worst() = %s, want operational", got)
	}
	if got := Worst(DegradedPerformance, UnderMaintenance, Operational); got != UnderMaintenance {
		t.Errorf("Worst(degraded, maintenance) = %s, want under_maintenance", got)
	}
	if got := Worst(UnderMaintenance, PartialOutage); got != PartialOutage {
		t.Errorf("Worst(maintenance, partial) = %s, want partial_outage", got)
	}
}

func TestImpactAndIndicator(t *testing.T) {
	for _, tc := range []struct {
		statuses []string
		impact   string
	}{
		{nil, ImpactNone},
		{[]string{Operational}, ImpactNone},
		{[]string{DegradedPerformance}, ImpactMinor},
		{[]string{UnderMaintenance}, ImpactMinor},
		{[]string{PartialOutage}, ImpactMajor},
		{[]string{MajorOutage}, ImpactCritical},
		{[]string{MajorOutage, MajorOutage}, ImpactCritical},
		{[]string{DegradedPerformance, PartialOutage}, ImpactMinor},
		{[]string{MajorOutage, UnderMaintenance}, ImpactMajor},
	} {
		var comps []ComponentImpact
		for i, s := range tc.statuses {
			comps = append(comps, ComponentImpact{ID: string(rune('a' + i)), Status: s})
		}
		if got := ImpactFor(comps); got != tc.impact {
			t.Errorf("ImpactFor(%v) = %s, want %s", tc.statuses, got, tc.impact)
		}
	}
	for s, want := range map[string]string{Operational: ImpactNone, DegradedPerformance: ImpactMinor, UnderMaintenance: ImpactNone,
		PartialOutage: ImpactMajor, MajorOutage: ImpactCritical} {
		if got := IndicatorFor(s); got != want {
			t.Errorf("IndicatorFor(%s) = %s, want %s", s, got, want)
		}
	}
	imp := Impacts()
	for i := 1; i < len(imp); i++ {
		if ImpactRank(imp[i-1]) >= ImpactRank(imp[i]) {
			t.Errorf("impacts out of order: %s before %s", imp[i-1], imp[i])
		}
	}
}

func TestTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{StateDraft, StatePublished, true},
		{StateDraft, StateRejected, true},
		{StateDraft, StateWithdrawn, true},
		{StateDraft, StateResolved, false},
		{StatePublished, StateResolved, true},
		{StatePublished, StateWithdrawn, true},
		{StatePublished, StateDraft, false},
		{StatePublished, StateRejected, false},
		{StateResolved, StatePublished, false},
		{StateRejected, StatePublished, false},
		{StateWithdrawn, StateDraft, false},
	} {
		if got := CanMove(tc.from, tc.to); got != tc.ok {
			t.Errorf("CanMove(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	for _, st := range States() {
		if Editable(st) != (st == StateDraft) {
			t.Errorf("Editable(%s) = %v: only drafts can be edited", st, Editable(st))
		}
		if Open(st) != (st == StateDraft || st == StatePublished) {
			t.Errorf("Open(%s) = %v", st, Open(st))
		}
		if Public(st) != (st == StatePublished || st == StateResolved) {
			t.Errorf("Public(%s) = %v", st, Public(st))
		}
	}
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{StatusScheduled, StatusInProgress, true},
		{StatusScheduled, StatusVerifying, false},
		{StatusScheduled, StatusCompleted, false},
		{StatusInProgress, StatusVerifying, true},
		{StatusInProgress, StatusCompleted, true},
		{StatusVerifying, StatusCompleted, true},
		{StatusVerifying, StatusInProgress, false},
		{StatusCompleted, StatusInProgress, false},
	} {
		if got := CanMoveMaintenance(tc.from, tc.to); got != tc.ok {
			t.Errorf("CanMoveMaintenance(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	if ValidDraftStatus(StatusResolved) || !ValidDraftStatus(StatusMonitoring) {
		t.Error("a draft may be investigating, identified or monitoring, never resolved")
	}
	if !ValidUpdateStatus(StatusUpdate) || !ValidUpdateStatus(StatusResolved) || ValidUpdateStatus(StatusScheduled) {
		t.Error("an update may keep the status or move an incident's, not a maintenance's")
	}
	if ValidIncidentComponentStatus(UnderMaintenance) || !ValidIncidentComponentStatus(MajorOutage) {
		t.Error("only a maintenance puts a component under maintenance")
	}
}
