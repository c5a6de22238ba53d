package console

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/probes"
)

// TestDashboardShowsSilentLocations: a location whose results stopped (out
// of the quorum) is listed on the console's dashboard, and leaves the list
// when it reports again.
func TestDashboardShowsSilentLocations(t *testing.T) {
	h := newOpHarness(t)
	record := func(location string) {
		t.Helper()
		r := probes.Result{Probe: "crl", Kind: "http", Component: "crl", Location: location, Start: h.clk.Now(), Duration: time.Millisecond, Success: true}
		if err := h.eng.Record(h.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	record("osaka-1")
	record("default")
	c, _ := consoleLogin(t, h, "bob")
	page := func() string {
		t.Helper()
		resp, err := c.Get(h.srv.URL + "/admin/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if p := page(); !strings.Contains(p, "Silent locations (0)") {
		t.Fatalf("both locations report, the dashboard says otherwise:\n%s", p)
	}
	// The probe runs every minute (the default): 3 minutes and a second of
	// silence from osaka-1 take it out; the local location keeps reporting.
	h.clk.Advance(3*time.Minute + time.Second)
	record("default")
	p := page()
	if !strings.Contains(p, "Silent locations (1)") || !strings.Contains(p, "<td>crl</td><td>osaka-1</td>") || strings.Contains(p, "<td>crl</td><td>default</td>") {
		t.Fatalf("osaka-1 silent: the dashboard does not list it alone:\n%s", p)
	}
	record("osaka-1")
	if p := page(); !strings.Contains(p, "Silent locations (0)") {
		t.Fatal("osaka-1 reports again but is still listed as silent")
	}
}
