package notify

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"

	"github.com/probed/probed/internal/testtool"
)

// TestMetricsPassPromtool lints the worker's and the subscription flow's
// metrics with promtool check metrics (Debian's prometheus package).
func TestMetricsPassPromtool(t *testing.T) {
	e := newEnv(t)
	e.add("a@example.com", "ocsp")
	e.publish("OCSP", "ocsp")
	e.drain()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	text := b.String()
	for _, want := range []string{"probed_notifications_pending 0", "probed_notifications_sent_total 1", `probed_notifications_failed_total{reason="permanent"} 0`,
		`probed_notifications_failed_total{reason="webhook_temporary"} 0`, `probed_subscribers{state="active"} 1`, `probed_subscription_requests_total{result="accepted"} 0`} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("exposition lacks %q", want)
		}
	}
	cmd := exec.Command(testtool.Promtool(t), "check", "metrics")
	cmd.Stdin = &b
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
