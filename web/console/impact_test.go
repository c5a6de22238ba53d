package console

import (
	"net/url"
	"testing"

	"github.com/probed/probed/status"
)

// TestConsoleUpdateRaisesImpact: an update posted from the console's form
// that puts a published incident's component in a major outage raises the
// incident's impact (minor → critical); one that brings it back leaves the
// impact at the highest reached.
func TestConsoleUpdateRaisesImpact(t *testing.T) {
	h := newOpHarness(t)
	inc, err := h.eng.CreateIncident(h.ctx, "bob", status.NewIncident{Title: status.Text{"en": "OCSP slow"}, Body: status.Text{"en": "Investigating."},
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.DegradedPerformance}}, Publish: true})
	if err != nil || inc.Impact != status.ImpactMinor {
		t.Fatalf("published with ocsp degraded: %+v, %v; want impact minor", inc, err)
	}
	c, csrf := consoleLogin(t, h, "bob")
	path := "/admin/incidents/" + itoa(inc.ID) + "/update"
	for _, step := range []struct{ ocsp, want string }{
		{status.MajorOutage, status.ImpactCritical},
		{status.Operational, status.ImpactCritical},
	} {
		form := url.Values{"csrf": {csrf}, "status": {"update"}, "message_en": {"ocsp " + step.ocsp}, "component.ocsp": {step.ocsp}, "component.crl": {""}}
		if code, page := consolePost(t, h, c, path, form); code != 200 {
			t.Fatalf("post the update form (ocsp %s) = %d\n%s", step.ocsp, code, page)
		}
		got, err := h.st.GetIncident(h.ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Component("ocsp").Status != step.ocsp || got.Impact != step.want {
			t.Fatalf("after the console's update (ocsp %s): ocsp %s, impact %s; want impact %s", step.ocsp, got.Component("ocsp").Status, got.Impact, step.want)
		}
	}
}
