package status

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/toplevel.golden")

func repeat(s string, n int) []string { return slices.Repeat([]string{s}, n) }

// topLevelCases are Statuspage's documented rules ("Top-level status and
// incident impact calculations"), one case or more per rule, and the cases
// issue 14 reported from hosted pages.
var topLevelCases = []struct {
	rule     string
	statuses []string
	open     []string // open incidents' impacts
	key      string
	ind      string
}{
	{"0 components", nil, nil, TopAllOperational, ImpactNone},
	{"0 components, an active incident", nil, []string{ImpactMajor}, TopPartialSystemOutage, ImpactMajor},
	{"0 components, a minor incident", nil, []string{ImpactMinor, ImpactNone}, TopMinorServiceOutage, ImpactMinor},
	{"0 components, a critical incident", nil, []string{ImpactCritical}, TopMajorSystemOutage, ImpactCritical},
	{"1 component operational", []string{Operational}, nil, TopAllOperational, ImpactNone},
	{"1 component under maintenance", []string{UnderMaintenance}, nil, TopServiceUnderMaintenance, ImpactMaintenance},
	{"1 component degraded", []string{DegradedPerformance}, nil, TopPartiallyDegradedService, ImpactMinor},
	{"1 component partial outage", []string{PartialOutage}, nil, TopPartialSystemOutage, ImpactMajor},
	{"1 component major outage", []string{MajorOutage}, nil, TopMajorSystemOutage, ImpactCritical},
	{"many, all operational", repeat(Operational, 12), nil, TopAllOperational, ImpactNone},
	{"many, all major outage", repeat(MajorOutage, 3), nil, TopMajorSystemOutage, ImpactCritical},
	{"many, one of a dozen major outage (critical incident)", append(repeat(Operational, 11), MajorOutage), []string{ImpactCritical}, TopPartialSystemOutage, ImpactMajor},
	{"many, several major outage, a major incident", append(repeat(Operational, 4), repeat(MajorOutage, 3)...), []string{ImpactMajor}, TopPartialSystemOutage, ImpactMajor},
	{"many, all partial outage", repeat(PartialOutage, 4), nil, TopPartialSystemOutage, ImpactMajor},
	{"many, some partial outage", []string{PartialOutage, Operational, DegradedPerformance}, nil, TopMinorServiceOutage, ImpactMinor},
	{"many, all degraded", repeat(DegradedPerformance, 5), nil, TopDegradedSystemService, ImpactMinor},
	{"many, one degraded", append(repeat(Operational, 5), DegradedPerformance), nil, TopPartiallyDegradedService, ImpactMinor},
	{"many, one under maintenance", append(repeat(Operational, 5), UnderMaintenance), nil, TopServiceUnderMaintenance, ImpactMaintenance},
	{"many, all under maintenance", repeat(UnderMaintenance, 3), nil, TopServiceUnderMaintenance, ImpactMaintenance},
	{"many, maintenance and a degraded one", []string{UnderMaintenance, DegradedPerformance, Operational}, nil, TopPartiallyDegradedService, ImpactMinor},
	{"many operational, an incident that changed no component", repeat(Operational, 3), []string{ImpactMinor}, TopMinorServiceOutage, ImpactMinor},
	{"maintenance, an incident that changed no component", []string{UnderMaintenance, Operational}, []string{ImpactMajor}, TopPartialSystemOutage, ImpactMajor},
	{"many, an incident of no impact", repeat(Operational, 3), []string{ImpactNone}, TopAllOperational, ImpactNone},
}

func TestPageTopLevel(t *testing.T) {
	var golden strings.Builder
	for _, tc := range topLevelCases {
		got := PageTopLevel(tc.statuses, tc.open)
		if got.Key != tc.key || got.Indicator != tc.ind {
			t.Errorf("%s: PageTopLevel(%v, open %v) = %s/%s, want %s/%s", tc.rule, tc.statuses, tc.open, got.Indicator, got.Key, tc.ind, tc.key)
		}
		fmt.Fprintf(&golden, "%s\n  components %v, open incidents %v\n  -> %s %s\n", tc.rule, tc.statuses, tc.open, got.Indicator, got.Key)
	}
	path := filepath.Join("testdata", "toplevel.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (go test ./status -update writes it): %v", err)
	}
	if string(want) != golden.String() {
		t.Errorf("top-level rules differ from %s (rerun with -update after checking the diff):\n%s", path, golden.String())
	}
}

func TestIncidentImpactIsTheBlendOfItsComponents(t *testing.T) {
	for _, tc := range topLevelCases {
		if len(tc.open) > 0 || slices.Contains(tc.statuses, UnderMaintenance) {
			continue
		}
		var comps []ComponentImpact
		for i, s := range tc.statuses {
			comps = append(comps, ComponentImpact{ID: fmt.Sprint(i), Status: s})
		}
		if got := ImpactFor(comps); got != tc.ind {
			t.Errorf("%s: ImpactFor = %s, want %s", tc.rule, got, tc.ind)
		}
	}
}

func TestTopLevelsHaveIndicators(t *testing.T) {
	for _, tl := range TopLevels() {
		if tl.Indicator == "" {
			t.Errorf("%s has no indicator", tl.Key)
		}
	}
}

// impactCases are Statuspage's incident impact rule ("Incident impact is
// based on the affected components of the incident"): the top-level status
// those components alone would give a page, read as an impact (Major
// System Outage → critical, Partial System Outage → major, the minor and
// degraded statuses → minor, nothing wrong → none). Only the incident's
// own components count, not the page's other ones.
var impactCases = []struct {
	rule     string
	statuses []string
	impact   string
}{
	{"no components", nil, ImpactNone},
	{"1 component operational", []string{Operational}, ImpactNone},
	{"1 component degraded", []string{DegradedPerformance}, ImpactMinor},
	{"1 component partial outage", []string{PartialOutage}, ImpactMajor},
	{"1 component major outage (one of a dozen on the page: the page reads major, the incident critical)", []string{MajorOutage}, ImpactCritical},
	{"several, all major outage", repeat(MajorOutage, 3), ImpactCritical},
	{"several, one major outage", []string{MajorOutage, Operational, Operational}, ImpactMajor},
	{"several, major and partial outage", []string{MajorOutage, PartialOutage}, ImpactMajor},
	{"several, all partial outage", repeat(PartialOutage, 2), ImpactMajor},
	{"several, one partial outage", []string{PartialOutage, DegradedPerformance, Operational}, ImpactMinor},
	{"several, all degraded", repeat(DegradedPerformance, 3), ImpactMinor},
	{"several, one degraded", []string{DegradedPerformance, Operational}, ImpactMinor},
	{"several, major outage and under maintenance", []string{MajorOutage, UnderMaintenance}, ImpactMajor},
	{"under maintenance only (an incident, not a window: minor)", []string{UnderMaintenance}, ImpactMinor},
	{"several, all operational again", repeat(Operational, 2), ImpactNone},
}

// impactUpdateCases are a published incident's impact after an update
// that changes its components' statuses: raised when they get worse, never
// lowered (the hosted capture's recovered incident keeps its impact), an
// operator's choice kept until the components get worse than it.
var impactUpdateCases = []struct {
	rule          string
	impact        string
	before, after []string
	want          string
}{
	{"worse: degraded, then major outage", ImpactMinor, []string{DegradedPerformance}, []string{MajorOutage}, ImpactCritical},
	{"better: major outage, then partial outage (not lowered)", ImpactCritical, []string{MajorOutage}, []string{PartialOutage}, ImpactCritical},
	{"recovered (kept, resolved too)", ImpactCritical, []string{MajorOutage}, []string{Operational}, ImpactCritical},
	{"failing again after recovering, below the highest reached", ImpactCritical, []string{Operational}, []string{PartialOutage}, ImpactCritical},
	{"failing again after recovering, above the highest reached", ImpactMajor, []string{Operational}, []string{MajorOutage}, ImpactCritical},
	{"a component added in partial outage beside one in major outage (the blend falls)", ImpactCritical, []string{MajorOutage}, []string{MajorOutage, PartialOutage}, ImpactCritical},
	{"both partial, then one major (the hosted capture's incident)", ImpactMajor, repeat(PartialOutage, 2), []string{MajorOutage, PartialOutage}, ImpactMajor},
	{"both partial, then both major", ImpactMajor, repeat(PartialOutage, 2), repeat(MajorOutage, 2), ImpactCritical},
	{"the same statuses again", ImpactMinor, []string{DegradedPerformance}, []string{DegradedPerformance}, ImpactMinor},
	{"the operator chose critical; worse, but below it", ImpactCritical, []string{DegradedPerformance}, []string{PartialOutage}, ImpactCritical},
	{"the operator chose minor for a major outage; better", ImpactMinor, []string{MajorOutage}, []string{PartialOutage}, ImpactMinor},
	{"the operator chose none for a degraded component; worse", ImpactNone, []string{DegradedPerformance}, []string{PartialOutage}, ImpactMajor},
}

func comps(statuses []string) []ComponentImpact {
	var out []ComponentImpact
	for i, s := range statuses {
		out = append(out, ComponentImpact{ID: fmt.Sprint(i), Status: s})
	}
	return out
}

func TestIncidentImpactGolden(t *testing.T) {
	var golden strings.Builder
	for _, tc := range impactCases {
		got := ImpactFor(comps(tc.statuses))
		if got != tc.impact {
			t.Errorf("%s: ImpactFor(%v) = %s, want %s", tc.rule, tc.statuses, got, tc.impact)
		}
		fmt.Fprintf(&golden, "%s\n  incident components %v\n  -> impact %s\n", tc.rule, tc.statuses, got)
	}
	for _, tc := range impactUpdateCases {
		got := ImpactAfterUpdate(tc.impact, comps(tc.before), comps(tc.after))
		if got != tc.want {
			t.Errorf("%s: ImpactAfterUpdate(%s, %v, %v) = %s, want %s", tc.rule, tc.impact, tc.before, tc.after, got, tc.want)
		}
		fmt.Fprintf(&golden, "update: %s\n  impact %s, incident components %v -> %v\n  -> impact %s\n", tc.rule, tc.impact, tc.before, tc.after, got)
	}
	path := filepath.Join("testdata", "impact.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (go test ./status -update writes it): %v", err)
	}
	if string(want) != golden.String() {
		t.Errorf("incident impact rules differ from %s (rerun with -update after checking the diff):\n%s", path, golden.String())
	}
}
