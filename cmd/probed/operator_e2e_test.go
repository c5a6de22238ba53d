package main

import (
	"encoding/json"
	"fmt"
	"github.com/probed/probed/status"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probed/probed/store"
)

// TestOperatorCLIRoundTrip runs the built binary as a daemon whose probe
// fails, and drives the whole incident lifecycle with the CLI as an
// operator would: token create, list the draft, show it, approve, post an
// update, see the resolve proposal once the target recovers, resolve; then
// schedule, list and cancel a maintenance; and the CLI's errors.
func TestOperatorCLIRoundTrip(t *testing.T) {
	bin := buildProbed(t)
	var failing atomic.Bool
	failing.Store(true)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
	defer target.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
location: cli-e2e
components:
  - {id: crl, name: CRL}
  - {id: timestamp, name: Timestamp}
probes:
  - {name: crl, component: crl, kind: http, interval: 1s, timeout: 800ms, http: {url: %q}}
incidents: {failures_to_open: 2, successes_to_close: 2}
`, target.URL+"/crl"))

	cli := binCLI(t, bin, dir)
	tokOut, stderr, code := cli(nil, "token", "create", "-config", cfgPath, "-name", "alice")
	token := strings.TrimSpace(tokOut)
	if code != 0 || !strings.HasPrefix(token, store.TokenPrefix) || strings.Count(tokOut, "\n") != 1 {
		t.Fatalf("token create = %d %q %s; want the token alone on stdout", code, tokOut, stderr)
	}
	if _, stderr, code := cli(nil, "token", "create", "-config", cfgPath, "-name", "alice"); code != 1 || !strings.Contains(stderr, "exists already") {
		t.Fatalf("duplicate token name = %d %s", code, stderr)
	}

	d := startProbed(t, bin, cfgPath)
	env := []string{"PROBED_SERVER=http://" + d.addr, "PROBED_TOKEN=" + token}
	ok := cliOK(t, cli, env)
	incidentJSON := func(args ...string) status.Incident {
		t.Helper()
		var inc status.Incident
		if err := json.Unmarshal([]byte(ok(append(args, "-o", "json")...)), &inc); err != nil {
			t.Fatalf("probed %s -o json: %v", strings.Join(args, " "), err)
		}
		return inc
	}

	var drafts []status.Incident
	eventually(t, "a draft for the failing CRL probe", func() (bool, string) {
		out := ok("incident", "list", "-state", "draft", "-o", "json")
		drafts = nil
		json.Unmarshal([]byte(out), &drafts)
		return len(drafts) == 1, out
	})
	id := fmt.Sprint(drafts[0].ID)
	if d := drafts[0]; len(d.Evidence) == 0 || d.Components[0].ID != "crl" || d.State != "draft" {
		t.Fatalf("draft = %+v", d)
	}
	if out := ok("incident", "list"); !strings.Contains(out, "ID") || !strings.Contains(out, "draft") || !strings.Contains(out, "crl (Major Outage)") {
		t.Fatalf("incident list (text) =\n%s", out)
	}
	if out := ok("incident", "show", id); !strings.Contains(out, "evidence:") || !strings.Contains(out, "crl@cli-e2e") {
		t.Fatalf("incident show (text) =\n%s", out)
	}
	if inc := incidentJSON("incident", "edit", id, "-title", "CRL distribution point unavailable"); inc.Title["en"] != "CRL distribution point unavailable" || !inc.Edited {
		t.Fatalf("edit = %+v", inc)
	}
	if inc := incidentJSON("incident", "approve", id); inc.State != "published" || inc.PublishedAt == nil {
		t.Fatalf("approve = %+v", inc)
	}
	if inc := incidentJSON("incident", "update", id, "-status", "identified", "-message", "The CDN origin is down.", "-notify"); inc.Status != "identified" || !inc.Updates[0].Notify {
		t.Fatalf("update = %+v", inc)
	}
	failing.Store(false)
	eventually(t, "the resolve proposal after recovery", func() (bool, string) {
		inc := incidentJSON("incident", "show", id)
		return inc.Proposal != nil, fmt.Sprint(inc.Proposal)
	})
	if inc := incidentJSON("incident", "resolve", id, "-message", "The CRL is served again."); inc.State != "resolved" || inc.Updates[0].Body["en"] != "The CRL is served again." {
		t.Fatalf("resolve = %+v", inc)
	}

	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Minute)
	m := incidentJSON("maintenance", "schedule", "-title", "TSA key rollover", "-components", "timestamp",
		"-start", start.Format(time.RFC3339), "-end", start.Add(2*time.Hour).Format(time.RFC3339), "-message", "Timestamps may fail.")
	if m.Status != "scheduled" || m.ScheduledFor == nil || !m.ScheduledFor.Equal(start) {
		t.Fatalf("schedule = %+v", m)
	}
	var ms []status.Incident
	json.Unmarshal([]byte(ok("maintenance", "list", "-o", "json")), &ms)
	if len(ms) != 1 || ms[0].ID != m.ID {
		t.Fatalf("maintenance list = %+v", ms)
	}
	if out := ok("maintenance", "list"); !strings.Contains(out, "TSA key rollover") || !strings.Contains(out, start.Format(time.RFC3339)) {
		t.Fatalf("maintenance list (text) =\n%s", out)
	}
	if c := incidentJSON("maintenance", "cancel", fmt.Sprint(m.ID), "-reason", "postponed"); c.State != "withdrawn" || c.Reason != "postponed" {
		t.Fatalf("cancel = %+v", c)
	}

	// Errors: each says what is wrong, with exit 1 (2 for usage).
	for _, tc := range []struct {
		env  []string
		args []string
		code int
		want string
	}{
		{[]string{"PROBED_SERVER=http://" + d.addr, "PROBED_TOKEN=probed_wrong"}, []string{"incident", "list"}, 1, "401"},
		{[]string{"PROBED_SERVER=http://" + d.addr}, []string{"incident", "list"}, 1, "PROBED_TOKEN is not set"},
		{env, []string{"incident", "approve", "999"}, 1, "404"},
		{env, []string{"incident", "approve", id}, 1, "409"},
		{env, []string{"incident", "update", id}, 1, "-message is required"},
		{env, []string{"incident", "show", "abc"}, 1, "not an incident id"},
		{env, []string{"incident", "frobnicate"}, 2, "unknown subcommand"},
		{env, []string{"maintenance", "schedule", "-title", "x", "-components", "timestamp", "-start", "tomorrow", "-end", "x"}, 1, "want RFC 3339"},
		{env, []string{"maintenance", "schedule", "-title", "x", "-components", "nope", "-start", start.Format(time.RFC3339), "-end", start.Add(time.Hour).Format(time.RFC3339)}, 1, "unknown component"},
	} {
		_, stderr, code := cli(tc.env, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("probed %s = exit %d %q, want %d and %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
	for _, args := range [][]string{{"incident", "-h"}, {"incident", "list", "-h"}, {"incident", "update", "-h"}, {"maintenance", "schedule", "-h"}, {"token", "create", "-h"}, {"maintenance", "-h"}} {
		out, stderr, code := cli(env, args...)
		if code != 0 || !strings.Contains(out+stderr, "usage: probed") {
			t.Errorf("probed %s = exit %d, want 0 with usage", strings.Join(args, " "), code)
		}
	}
	// The audit log names the token for every operator action.
	var audit []store.AuditEntry
	req, _ := http.NewRequest("GET", "http://"+d.addr+"/api/v1/audit", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&audit)
	resp.Body.Close()
	var mine []string
	for _, a := range audit {
		if a.Actor == "alice" && a.IncidentID != 0 {
			mine = append(mine, a.Action)
		}
	}
	if got := strings.Join(mine, ","); got != "cancel_maintenance,schedule_maintenance,resolve,post_update,approve,edit_draft" {
		t.Fatalf("alice's audit = %s", got)
	}
}
