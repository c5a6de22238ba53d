package statuspage

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/testtool"
	"github.com/probed/probed/status"
)

// TestPythonStrictClient runs testdata/clients/strict_client.py — a
// dataclass per hosted object, every hosted field required, built with
// Cls(**obj) so a missing or unknown field raises TypeError like the real
// Python checkers — against every API v2 endpoint of a running site: the
// fixture (incidents, updates, groups, maintenances) and a page whose only
// news is a maintenance in progress, which must read "maintenance".
func TestPythonStrictClient(t *testing.T) {
	py := testtool.Path(t, "python3", "python3")
	run := func(url string) string {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), py, "testdata/clients/strict_client.py", url).CombinedOutput()
		if err != nil {
			t.Fatalf("strict client against %s: %v\n%s", url, err, out)
		}
		return string(out)
	}
	_, ts := newFixture(t)
	if out := run(ts.URL); !strings.Contains(out, "indicator=minor") || !strings.Contains(out, "summary.json: 6 components, 1 incidents, 2 maintenances") ||
		!strings.Contains(out, "postmortem: incident 90") {
		t.Errorf("fixture:\n%s", out)
	}

	d := Data{FirstData: fixtureNow.Add(-48 * time.Hour), Records: []Record{{ID: 1, Kind: status.KindMaintenance, State: status.StatePublished,
		Status: status.StatusInProgress, Title: status.Text{"en": "CRL publisher upgrade"}, Components: []RecordComponent{{ID: "crl", Status: status.UnderMaintenance}},
		CreatedAt: fixtureNow.Add(-24 * time.Hour), StartedAt: fixtureNow.Add(-time.Hour),
		ScheduledFor: fixtureNow.Add(-time.Hour), ScheduledUntil: fixtureNow.Add(time.Hour),
		Updates: []RecordUpdate{{ID: 1, Status: status.StatusScheduled, Body: status.Text{"en": "Planned."}, CreatedAt: fixtureNow.Add(-24 * time.Hour)},
			{ID: 2, Status: status.StatusInProgress, Body: status.Text{"en": "Started."}, CreatedAt: fixtureNow.Add(-time.Hour),
				Affected: []AffectedComponent{{ID: "crl", OldStatus: status.Operational, NewStatus: status.UnderMaintenance}}}}}}}
	_, mts := newFixtureWith(t, fixtureConfig(), d)
	if out := run(mts.URL); !strings.Contains(out, "indicator=maintenance") || !strings.Contains(out, "scheduled-maintenances/active.json: 1") {
		t.Errorf("maintenance-only page:\n%s", out)
	}
}

// TestPythonStrictClientReadsHostedCapture: the strict client's dataclasses
// are hosted pages' objects, not only probed's: they decode the committed
// capture of a hosted page (testdata/hosted) without a missing or unknown
// key.
func TestPythonStrictClientReadsHostedCapture(t *testing.T) {
	py := testtool.Path(t, "python3", "python3")
	out, err := exec.CommandContext(t.Context(), py, "testdata/clients/strict_client.py", "--files",
		"testdata/hosted/githubstatus-2024-09-17-incidents.json", "testdata/hosted/githubstatus-2024-09-17-components.json").CombinedOutput()
	if err != nil {
		t.Fatalf("strict client on the capture: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "githubstatus-2024-09-17-incidents.json: 0 components, 2 incidents") ||
		!strings.Contains(string(out), "githubstatus-2024-09-17-components.json: 2 components, 0 incidents") {
		t.Errorf("strict client on the capture:\n%s", out)
	}
}
