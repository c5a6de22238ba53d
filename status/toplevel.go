package status

// Top-level statuses: what a page's banner and its API's status object say,
// as Statuspage computes them ("Top-level status and incident impact
// calculations"). Each is a key; the words are per language (the English
// ones are the hosted pages', the API's description).
const (
	TopAllOperational           = "all_systems_operational"    // none, green
	TopMajorSystemOutage        = "major_system_outage"        // critical, red
	TopPartialSystemOutage      = "partial_system_outage"      // major, orange
	TopMinorServiceOutage       = "minor_service_outage"       // minor, yellow
	TopDegradedSystemService    = "degraded_system_service"    // minor, yellow
	TopPartiallyDegradedService = "partially_degraded_service" // minor, yellow
	TopServiceUnderMaintenance  = "service_under_maintenance"  // maintenance, blue
)

// TopLevel is a page's (or an incident's) top-level status: the key of its
// words and the API indicator (none, minor, major, critical, maintenance).
type TopLevel struct {
	Key       string
	Indicator string
}

var topIndicator = map[string]string{
	TopAllOperational:           ImpactNone,
	TopMajorSystemOutage:        ImpactCritical,
	TopPartialSystemOutage:      ImpactMajor,
	TopMinorServiceOutage:       ImpactMinor,
	TopDegradedSystemService:    ImpactMinor,
	TopPartiallyDegradedService: ImpactMinor,
	TopServiceUnderMaintenance:  ImpactMaintenance,
}

func top(key string) TopLevel { return TopLevel{Key: key, Indicator: topIndicator[key]} }

// TopLevels returns every top-level status, calm first.
func TopLevels() []TopLevel {
	var out []TopLevel
	for _, k := range []string{TopAllOperational, TopServiceUnderMaintenance, TopPartiallyDegradedService,
		TopDegradedSystemService, TopMinorServiceOutage, TopPartialSystemOutage, TopMajorSystemOutage} {
		out = append(out, top(k))
	}
	return out
}

// Blend is the top-level status of a set of (leaf) component statuses, by
// Statuspage's documented rules:
//
//   - no components: all systems operational;
//   - one component: operational → All Systems Operational, under
//     maintenance → Service Under Maintenance, degraded → Partially
//     Degraded Service, partial outage → Partial System Outage, major
//     outage → Major System Outage;
//   - two or more, a blend: all in major outage → Major System Outage; any
//     in major outage → Partial System Outage; all in partial outage →
//     Partial System Outage; any in partial outage → Minor Service Outage;
//     all degraded → Degraded System Service; any degraded → Partially
//     Degraded Service; any under maintenance → Service Under Maintenance;
//     else All Systems Operational.
//
// A problem outranks maintenance on the page (the component itself may
// read under maintenance: Rank), so a blue banner means nothing but planned
// work is going on.
func Blend(statuses []string) TopLevel {
	n := map[string]int{}
	for _, s := range statuses {
		n[s]++
	}
	all := func(s string) bool { return len(statuses) > 0 && n[s] == len(statuses) }
	switch {
	case len(statuses) == 1 && n[DegradedPerformance] == 1:
		return top(TopPartiallyDegradedService)
	case all(MajorOutage):
		return top(TopMajorSystemOutage)
	case n[MajorOutage] > 0, all(PartialOutage):
		return top(TopPartialSystemOutage)
	case n[PartialOutage] > 0:
		return top(TopMinorServiceOutage)
	case all(DegradedPerformance):
		return top(TopDegradedSystemService)
	case n[DegradedPerformance] > 0:
		return top(TopPartiallyDegradedService)
	case n[UnderMaintenance] > 0:
		return top(TopServiceUnderMaintenance)
	}
	return top(TopAllOperational)
}

// ForImpact is the top-level status an open incident of this impact gives a
// page whose components show nothing worse (a page with no components, or
// an incident that changed no component): minor → Minor Service Outage,
// major → Partial System Outage, critical → Major System Outage.
func ForImpact(impact string) TopLevel {
	switch impact {
	case ImpactMinor:
		return top(TopMinorServiceOutage)
	case ImpactMajor:
		return top(TopPartialSystemOutage)
	case ImpactCritical:
		return top(TopMajorSystemOutage)
	}
	return top(TopAllOperational)
}

// PageTopLevel is a page's top-level status: the blend of all its leaf
// components' statuses (Blend). Open incidents' impacts count only when
// the components show nothing wrong (no components, or incidents that
// changed none): Statuspage reads all systems operational on such a page
// "unless there is an active incident". One component of a dozen in a
// major outage therefore reads major / Partial System Outage however
// critical that component's incident is.
func PageTopLevel(componentStatuses []string, openImpacts []string) TopLevel {
	t := Blend(componentStatuses)
	if t.Indicator != ImpactNone && t.Indicator != ImpactMaintenance {
		return t
	}
	worst := ImpactNone
	for _, i := range openImpacts {
		if ImpactRank(i) > ImpactRank(worst) {
			worst = i
		}
	}
	if worst == ImpactNone {
		return t
	}
	return ForImpact(worst)
}
