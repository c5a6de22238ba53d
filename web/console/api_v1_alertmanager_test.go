package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/incident"
	"github.com/probed/probed/internal/testtool"
	"github.com/probed/probed/store"
)

// alertReport is the intake's answer.
type alertReport = incident.AlertReport

func (h *opHarness) deliver(body string) (int, alertReport, string) {
	h.t.Helper()
	var rep alertReport
	code, raw := h.do("alertmanager", "POST", "/api/v1/alertmanager", body, &rep)
	return code, rep, raw
}

func (h *opHarness) all() []status.Incident {
	h.t.Helper()
	list, err := h.st.ListIncidents(h.ctx, store.IncidentFilter{Kind: status.KindIncident})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// TestAlertmanagerSamples feeds stored payloads: one captured from Debian
// 12's Alertmanager 0.25 (no notification_reason or routeLabels) and one in
// the current shape (with them, and a field probed has never heard of).
func TestAlertmanagerSamples(t *testing.T) {
	for _, tc := range []struct{ firing, resolved string }{
		{"testdata/alertmanager/0.25-firing.json", "testdata/alertmanager/0.25-resolved.json"},
		{"testdata/alertmanager/current-firing.json", "testdata/alertmanager/current-resolved.json"},
	} {
		t.Run(filepath.Base(tc.firing), func(t *testing.T) {
			h := newOpHarness(t)
			firing, err := os.ReadFile(tc.firing)
			if err != nil {
				t.Fatal(err)
			}
			code, rep, raw := h.deliver(string(firing))
			if code != 200 || rep.New != 1 || rep.Received != 1 {
				t.Fatalf("firing = %d %s", code, raw)
			}
			list := h.all()
			if len(list) != 1 || list[0].State != "draft" || list[0].Origin != "alertmanager" || list[0].Evidence[0].Check != "ProbeDownQuorum" ||
				list[0].Evidence[0].Values["annotation.summary"] == "" {
				t.Fatalf("after firing: %+v", list)
			}
			// Alertmanager retries (and repeats firing alerts): nothing new.
			code, rep, raw = h.deliver(string(firing))
			if code != 200 || rep.New != 0 || rep.Repeated != 1 || len(h.all()) != 1 {
				t.Fatalf("retry = %d %s, %d incidents", code, raw, len(h.all()))
			}
			resolved, err := os.ReadFile(tc.resolved)
			if err != nil {
				t.Fatal(err)
			}
			if code, rep, raw = h.deliver(string(resolved)); code != 200 || rep.New != 1 {
				t.Fatalf("resolved = %d %s", code, raw)
			}
			if list = h.all(); len(list) != 1 || list[0].State != "withdrawn" {
				t.Fatalf("after resolved: %+v", list)
			}
		})
	}
}

func TestAlertmanagerBadPayloads(t *testing.T) {
	h := newOpHarness(t)
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"version": "4", "alerts": [`, "not JSON"},
		{"wrong version", `{"version": "3", "alerts": []}`, "webhook payload version"},
		{"bad status", `{"version": "4", "alerts": [{"status": "burning", "labels": {"component": "crl"}, "startsAt": "2026-03-01T00:00:00Z"}]}`, "alerts[0].status"},
		{"no startsAt", `{"version": "4", "alerts": [{"status": "firing", "labels": {"component": "crl"}}]}`, "startsAt"},
		{"bad time", `{"version": "4", "alerts": [{"status": "firing", "labels": {"component": "crl"}, "startsAt": "yesterday"}]}`, "not JSON"},
		{"trailing data", `{"version": "4", "alerts": []} {}`, "trailing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, raw := h.deliver(tc.body)
			if code != 400 || !strings.Contains(raw, tc.want) {
				t.Fatalf("= %d %s, want 400 mentioning %q", code, raw, tc.want)
			}
		})
	}
	if n := len(h.all()); n != 0 {
		t.Fatalf("bad payloads made %d incidents", n)
	}
	alerts, _ := h.st.FiringAlerts(h.ctx)
	if len(alerts) != 0 {
		t.Fatalf("bad payloads stored %d alerts", len(alerts))
	}
	// A well-formed alert without a component label is answered and ignored.
	code, rep, raw := h.deliver(`{"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "Disk"}, "startsAt": "2026-03-01T00:00:00Z", "fingerprint": "x"}]}`)
	if code != 200 || len(rep.Ignored) != 1 || !strings.Contains(rep.Ignored[0], "no component label") {
		t.Fatalf("unlabelled = %d %s", code, raw)
	}
}

// TestAlertmanager025Live runs Debian's Alertmanager on loopback with a
// webhook receiver, posts an alert to its API, captures the webhook body
// it sends (firing, then resolved) and feeds it to the intake.
func TestAlertmanager025Live(t *testing.T) {
	bin := testtool.Alertmanager(t)
	type delivery struct {
		auth string
		body []byte
	}
	var mu sync.Mutex
	var got []delivery
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header.Get("Authorization"), b})
		mu.Unlock()
	}))
	defer recv.Close()
	waitDelivery := func(status string) delivery {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			for _, d := range got {
				var p struct{ Status string }
				if json.Unmarshal(d.body, &p) == nil && p.Status == status {
					mu.Unlock()
					return d
				}
			}
			n := len(got)
			mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("no %s webhook from Alertmanager within 60s (%d deliveries)", status, n)
			}
			time.Sleep(100 * time.Millisecond) // polling the receiver, not waiting out a delay
		}
	}

	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: probed
  group_by: [alertname, component]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: probed
    webhook_configs:
      - url: %s/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization: {type: Bearer, credentials: probed_test_credentials}
`, recv.URL)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logb bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &logb, &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", logb.String())
		}
	}()
	startsAt := time.Now().Add(-3 * time.Minute).UTC().Truncate(time.Second)
	post := func(endsAt time.Time) {
		t.Helper()
		alert := []map[string]any{{
			"labels":       map[string]string{"alertname": "ProbeDownQuorum", "component": "crl", "probe": "crl", "kind": "crl", "severity": "critical", "probed_draft": "true"},
			"annotations":  map[string]string{"summary": "crl (crl) is failing from 2 location(s)", "description": "Probe crl has failed from 2 locations for 2 minutes."},
			"startsAt":     startsAt,
			"endsAt":       endsAt.UTC(),
			"generatorURL": "http://prometheus.example/graph",
		}}
		b, _ := json.Marshal(alert)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", bytes.NewReader(b))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("Alertmanager API not answering: %v", err)
			}
			time.Sleep(100 * time.Millisecond) // polling for the process to listen
		}
	}
	post(time.Now().Add(time.Hour))
	firing := waitDelivery("firing")
	if firing.auth != "Bearer probed_test_credentials" {
		t.Errorf("webhook Authorization = %q", firing.auth)
	}
	post(time.Now().Add(-time.Second)) // ends now: Alertmanager sends the resolution
	resolved := waitDelivery("resolved")
	if os.Getenv("PROBED_UPDATE_TESTDATA") != "" {
		os.WriteFile("testdata/alertmanager/0.25-firing.json", firing.body, 0o644)
		os.WriteFile("testdata/alertmanager/0.25-resolved.json", resolved.body, 0o644)
	}
	var shape map[string]any
	json.Unmarshal(firing.body, &shape)
	if shape["version"] != "4" {
		t.Fatalf("captured payload version = %v", shape["version"])
	}

	h := newOpHarness(t)
	code, rep, raw := h.deliver(string(firing.body))
	if code != 200 || rep.New != 1 {
		t.Fatalf("captured firing = %d %s", code, raw)
	}
	list := h.all()
	if len(list) != 1 || list[0].State != "draft" || list[0].Components[0].ID != "crl" || list[0].Evidence[0].Message != "crl (crl) is failing from 2 location(s)" {
		t.Fatalf("draft from the captured alert: %+v", list)
	}
	if code, rep, raw = h.deliver(string(firing.body)); code != 200 || rep.Repeated != 1 || len(h.all()) != 1 {
		t.Fatalf("redelivery = %d %s", code, raw)
	}
	if code, rep, raw = h.deliver(string(resolved.body)); code != 200 || rep.New != 1 {
		t.Fatalf("captured resolved = %d %s", code, raw)
	}
	if list = h.all(); len(list) != 1 || list[0].State != "withdrawn" {
		t.Fatalf("after the resolution: %+v", list)
	}
}
