package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/probed/probed/internal/vectors"
	"github.com/probed/probed/probes"
)

// The captured response: GTS CA 1C3's OCSP responder on 2021-11-07 about
// serial f374542e3c7a68360a00000001103462, good, thisUpdate
// 2021-11-07T14:25:51Z, nextUpdate 2021-11-14T13:25:50Z, signed by the CA
// itself (ResponderID byKey). See probes/testdata/public/README.md.
const (
	gtsResponse   = "ocsp/gts-ca-1c3-good-2021-11-07.der"
	gtsIssuer     = "ocsp/gts-ca-1c3.pem"
	gtsSerial     = "f374542e3c7a68360a00000001103462"
	gtsThisUpdate = "2021-11-07T14:25:51Z"
	gtsNextUpdate = "2021-11-14T13:25:50Z"
)

// probeRun is one run of `probed probe`.
type probeRun struct {
	code           int
	stdout, stderr string
}

func runProbeCmd(t *testing.T, bin string, args ...string) probeRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, append([]string{"probe"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("probed probe %s: %v", strings.Join(args, " "), err)
	}
	return probeRun{code, stdout.String(), stderr.String()}
}

// TestProbeCommandCapturedOCSP runs the built binary on a real captured
// OCSP response served from loopback: judged at its thisUpdate every check
// passes (exit 0); one second after its nextUpdate ocsp_next_update fails
// (exit 1) with the time it passed (and, a week after thisUpdate, the BR
// refresh limit ocsp_this_update_age); -o json carries the same verdicts.
func TestProbeCommandCapturedOCSP(t *testing.T) {
	der, err := os.ReadFile(vectors.Path(gtsResponse))
	if err != nil {
		t.Fatal(err)
	}
	issuer := vectors.Path(gtsIssuer)
	var asked atomic.Int64
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/ocsp-request" {
			http.Error(w, "want a POSTed OCSP request", http.StatusBadRequest)
			return
		}
		io.Copy(io.Discard, r.Body)
		asked.Add(1)
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	}))
	defer responder.Close()

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: history.db}
location: replay
components:
  - {id: ocsp, name: OCSP}
  - {id: web, name: Web}
probes:
  - name: gts-ocsp
    component: ocsp
    kind: ocsp
    timeout: 5s
    ocsp: {url: %q, issuer: %q, serial: %q, hash: sha1}
  - {name: other, component: web, kind: http, http: {url: "http://127.0.0.1:1/"}}
`, responder.URL, issuer, gtsSerial))
	bin := buildProbed(t)

	// At thisUpdate: everything holds.
	run := runProbeCmd(t, bin, "-config", cfgPath, "-at", gtsThisUpdate, "gts-ocsp")
	if run.code != 0 {
		t.Fatalf("at thisUpdate: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
	}
	for _, want := range []string{
		"judged at " + gtsThisUpdate + " (-at)",
		"PASS  gts-ocsp (kind ocsp, component ocsp)",
		"ok    critical  ocsp_signature",
		"ok    critical  ocsp_next_update",
		"nextUpdate in 6d22h (2021-11-14 13:25 UTC)",
		"ok    critical  ocsp_status",
	} {
		if !strings.Contains(run.stdout, want) {
			t.Errorf("at thisUpdate: output lacks %q:\n%s", want, run.stdout)
		}
	}
	if strings.Contains(run.stdout, "other") {
		t.Errorf("probe other ran although only gts-ocsp was named:\n%s", run.stdout)
	}

	// One second after nextUpdate: stale. Flags after the name work too.
	run = runProbeCmd(t, bin, "-config", cfgPath, "gts-ocsp", "-at", "2021-11-14T13:25:51Z")
	if run.code != 1 {
		t.Fatalf("after nextUpdate: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", run.code, run.stdout, run.stderr)
	}
	for _, want := range []string{
		"FAIL  gts-ocsp",
		"FAIL  critical  ocsp_next_update",
		"nextUpdate passed 1s ago (2021-11-14 13:25 UTC): the response is stale",
		"        next_update=" + gtsNextUpdate,
		"        now=2021-11-14T13:25:51Z",
		"ok    critical  ocsp_signature",
	} {
		if !strings.Contains(run.stdout, want) {
			t.Errorf("after nextUpdate: output lacks %q:\n%s", want, run.stdout)
		}
	}

	// The same verdicts as JSON.
	run = runProbeCmd(t, bin, "-config", cfgPath, "-o", "json", "-at", "2021-11-14T13:25:51Z", "gts-ocsp")
	if run.code != 1 {
		t.Fatalf("json: exit %d, want 1\nstderr:\n%s", run.code, run.stderr)
	}
	var doc struct {
		At      string          `json:"at"`
		Success bool            `json:"success"`
		Results []probes.Result `json:"results"`
	}
	if err := json.Unmarshal([]byte(run.stdout), &doc); err != nil {
		t.Fatalf("json output: %v\n%s", err, run.stdout)
	}
	if doc.At != "2021-11-14T13:25:51Z" || doc.Success || len(doc.Results) != 1 || doc.Results[0].Probe != "gts-ocsp" {
		t.Fatalf("json document: at %q success %v, %d results", doc.At, doc.Success, len(doc.Results))
	}
	var failed []string
	for _, c := range doc.Results[0].FailedChecks() {
		failed = append(failed, c.Name)
		if c.Name == "ocsp_next_update" && (c.Severity != probes.Critical || c.Evidence["next_update"] != gtsNextUpdate) {
			t.Errorf("ocsp_next_update in json: %+v", c)
		}
	}
	// A week after thisUpdate the response is also past the BR refresh
	// limit; nothing else fails.
	if strings.Join(failed, ",") != "ocsp_next_update,ocsp_this_update_age" {
		t.Errorf("failed checks %v, want exactly ocsp_next_update and ocsp_this_update_age", failed)
	}
	if n := asked.Load(); n != 3 {
		t.Errorf("the responder was asked %d times, want once per run (3)", n)
	}
}

// TestProbeCommandUsage: usage and config errors exit 2 with the reason;
// -h exits 0.
func TestProbeCommandUsage(t *testing.T) {
	bin := buildProbed(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, `server: {listen: "127.0.0.1:0"}
storage: {path: history.db}
components:
  - {id: web, name: Web}
probes:
  - {name: web, component: web, kind: http, http: {url: "http://127.0.0.1:1/"}}
`)
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "probes: [\n")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-config", cfgPath, "nosuch"}, 2, "no probe named nosuch (the config has: web)"},
		{[]string{"-config", cfgPath, "-at", "yesterday"}, 2, `bad -at "yesterday": want an RFC 3339 time`},
		{[]string{"-config", cfgPath, "-o", "yaml"}, 2, `bad -o "yaml": want text or json`},
		{[]string{"-config", bad}, 2, "bad.yaml:"},
		{[]string{"-config", filepath.Join(dir, "missing.yaml")}, 2, "missing.yaml"},
		{[]string{"-nosuchflag"}, 2, "flag provided but not defined: -nosuchflag"},
		{[]string{"-h"}, 0, "usage: probed probe"},
		// A target that refuses connections: the probe fails, exit 1.
		{[]string{"-config", cfgPath}, 1, ""},
	} {
		run := runProbeCmd(t, bin, tc.args...)
		if run.code != tc.code || !strings.Contains(run.stderr, tc.want) {
			t.Errorf("probed probe %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), run.code, run.stderr, tc.code, tc.want)
		}
	}
}
