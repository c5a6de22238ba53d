package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probed/probed/status"
)

// TestUpdateChangesImpactInAPIv2 runs the built binary and moves a
// published incident's component through updates, by the operator API and
// by the CLI: degraded (impact minor), then a major outage (critical), then
// operational again (still critical: an impact never falls), then
// resolved (critical). Each step is read back from the public API v2 and
// the incident's page, as a visitor sees it.
func TestUpdateChangesImpactInAPIv2(t *testing.T) {
	bin := buildProbed(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, `server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
page: {name: Example CA, url: "http://status.example.test"}
components:
  - {id: ocsp, name: OCSP}
  - {id: crl, name: CRL}
`)
	tok := operatorToken(t, bin, cfgPath)
	d := startProbed(t, bin, cfgPath)
	base := "http://" + d.addr

	var inc status.Incident
	if code := operatorCall(t, base, tok, http.MethodPost, "/api/v1/incidents",
		`{"title": "OCSP responses slow", "message": "Investigating.", "components": [{"id": "ocsp", "status": "degraded_performance"}], "publish": true}`, &inc); code != http.StatusCreated {
		t.Fatalf("create and publish = %d", code)
	}
	type affected struct {
		Code      string `json:"code"`
		OldStatus string `json:"old_status"`
		NewStatus string `json:"new_status"`
	}
	type update struct {
		Affected []affected `json:"affected_components"`
	}
	type incident struct {
		ID, Status, Impact string
		Updates            []update `json:"incident_updates"`
	}
	// public waits until API v2 shows the incident with n updates and
	// returns it; the page must then show the same impact.
	public := func(n int) incident {
		t.Helper()
		var got incident
		eventually(t, fmt.Sprintf("the incident with %d updates in API v2", n), func() (bool, string) {
			code, body := getStatus(t, base+"/api/v2/incidents.json")
			var v struct{ Incidents []incident }
			if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
				return false, fmt.Sprintf("%d %s", code, body)
			}
			for _, i := range v.Incidents {
				if i.ID == fmt.Sprint(inc.ID) {
					got = i
					return len(i.Updates) == n, fmt.Sprintf("%d updates, impact %s", len(i.Updates), i.Impact)
				}
			}
			return false, "not listed"
		})
		eventually(t, "the incident's page in step with API v2", func() (bool, string) {
			code, body := getStatus(t, fmt.Sprintf("%s/incidents/%d", base, inc.ID))
			return code == http.StatusOK && strings.Contains(body, `<h1 class="impact-`+got.Impact+`">`), fmt.Sprintf("%d, want impact-%s", code, got.Impact)
		})
		return got
	}
	if got := public(1); got.Impact != status.ImpactMinor {
		t.Fatalf("published with ocsp degraded: API v2 impact %s, want minor", got.Impact)
	}

	// Operator API: worse.
	if code := operatorCall(t, base, tok, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/updates", inc.ID),
		`{"status": "identified", "message": "The responder is down.", "components": [{"id": "ocsp", "status": "major_outage"}]}`, nil); code != http.StatusCreated {
		t.Fatalf("update (major outage) = %d", code)
	}
	if got := public(2); got.Impact != status.ImpactCritical || got.Status != status.StatusIdentified {
		t.Fatalf("after ocsp's major outage: API v2 %s, impact %s; want identified, critical", got.Status, got.Impact)
	}

	// CLI: recovered; the impact stays.
	run := binCLI(t, bin, dir)
	env := []string{"PROBED_SERVER=" + base, "PROBED_TOKEN=" + tok}
	if _, stderr, code := run(env, "incident", "update", fmt.Sprint(inc.ID), "-status", "monitoring", "-message", "Answering again.", "-components", "ocsp:operational"); code != 0 {
		t.Fatalf("probed incident update = exit %d\n%s", code, stderr)
	}
	got := public(3)
	if a := got.Updates[0].Affected; len(a) != 1 || a[0].Code != "ocsp" || a[0].OldStatus != status.MajorOutage || a[0].NewStatus != status.Operational {
		t.Fatalf("the recovery's affected_components = %+v, want ocsp major_outage → operational", a)
	}
	if got.Impact != status.ImpactCritical {
		t.Fatalf("after ocsp recovered: API v2 impact %s, want critical (the highest reached)", got.Impact)
	}

	if code := operatorCall(t, base, tok, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/resolve", inc.ID), `{"message": "Fixed."}`, nil); code != http.StatusOK {
		t.Fatalf("resolve = %d", code)
	}
	if got := public(4); got.Status != status.StatusResolved || got.Impact != status.ImpactCritical {
		t.Fatalf("resolved: API v2 %s, impact %s; want resolved, critical", got.Status, got.Impact)
	}
}
