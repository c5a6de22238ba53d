package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
)

// TestCheckConfig runs `probed check-config` as main would, on a valid and an
// invalid file, and checks what an operator reads and the exit status.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, `components:
  - id: certcentral
    name: CertCentral
    components: [{id: certcentral-api, name: CertCentral API}, {id: acme, name: ACME}]
  - {id: crl, name: CRL}
probes:
  - {name: api, component: certcentral-api, kind: http, http: {url: "https://api.example.com/"}}
  - {name: crl, component: crl, kind: http, interval: 5m, http: {url: "http://crl.example.com/root.crl"}}
`)
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, `page:
  url: status.example.com
components:
  - {id: api, name: API}
probes:
  - name: api
    component: ap
    kind: http
    interval: 10s
    timeout: 30s
    http: {url: "https://api.example.com/", ca_file: missing.pem}
  - name: api
    component: api
    kind: smtp
    intervall: 1m
`)
	cases := []struct {
		name       string
		args       []string
		code       int // exit status main would use
		stdout     string
		stderr     []string
		stderrNone bool
	}{
		{
			name:       "valid",
			args:       []string{"check-config", "-config", good},
			stdout:     good + ": ok: 4 components (1 group, 3 leaves), 2 probes\n",
			stderrNone: true,
		},
		{
			name: "invalid: every error, one a line, sorted, then the count",
			args: []string{"check-config", "-config", bad},
			code: 1,
			stderr: []string{
				bad + `:2: page.url: must be an absolute http(s) URL such as https://status.example.com, got "status.example.com"`,
				bad + `:7: probes[0].component: unknown component "ap" (did you mean api?)`,
				bad + ":10: probes[0].timeout: must be shorter than the interval (10s), got 30s",
				bad + ":11: probes[0].http.ca_file: cannot read certificate file missing.pem: no such file or directory",
				bad + `:12: probes[1].name: duplicate probe name "api" (first at line 6)`,
				bad + `:14: probes[1].kind: unknown kind "smtp" (known: ` + strings.Join(probes.Kinds(), ", ") + ")",
				bad + ":15: probes[1].intervall: unknown key (did you mean interval?)",
				bad + ": 7 errors",
			},
		},
		{
			name:   "missing file",
			args:   []string{"check-config", "-config", filepath.Join(dir, "nope.yaml")},
			code:   1,
			stderr: []string{filepath.Join(dir, "nope.yaml") + ": read config: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory", filepath.Join(dir, "nope.yaml") + ": 1 error"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if code := exitCode(err); code != tc.code {
				t.Errorf("exit status %d (%v), want %d", code, err, tc.code)
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tc.stdout)
			}
			if tc.stderrNone && stderr.Len() != 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
			if tc.stderr != nil {
				want := strings.Join(tc.stderr, "\n") + "\n"
				if stderr.String() != want {
					t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
				}
			}
		})
	}
}

// TestRunRefusesInvalidConfig: the daemon does not start on a file
// check-config rejects, and prints the same report.
func TestRunRefusesInvalidConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "storage: {path: probed.db}\nprobes:\n  - {name: a, component: nowhere, kind: http, http: {url: \"http://127.0.0.1:1/\"}}\n")
	for _, args := range [][]string{{"run", "-config", bad}, {"-config", bad}} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		if code := exitCode(err); code != 1 {
			t.Errorf("%v: exit status %d (%v), want 1", args, code, err)
		}
		want := bad + `:3: probes[0].component: unknown component "nowhere"` + "\n" + bad + ": 1 error\n"
		if stderr.String() != want {
			t.Errorf("%v: stderr = %q, want %q", args, stderr.String(), want)
		}
		if _, err := os.Stat(filepath.Join(dir, "probed.db")); !os.IsNotExist(err) {
			t.Errorf("%v: a refused start created the database (%v)", args, err)
		}
	}
}

// catalog is the component tree of the seed manual (DigiCert's status page,
// "コンポーネントの種類" ①-⑥), display names exactly as it gives them:
// group → leaves, or a stand-alone leaf with no children.
var catalog = []struct {
	name   string
	leaves []string
}{
	{"DigiCert One", []string{"Account Manager", "CA Manager", "Enterprise PKI Manager", "IoT Device Manager", "Secure Software Manager", "Document Signing Manager"}},
	{"DigiCert One Japan", []string{"Account Manager", "CA Manager", "Enterprise PKI Manager", "IoT Device Manager", "Secure Software Manager", "Document Signing Manager"}},
	{"CertCentral", []string{"CertCentral API", "CertCentral Console", "Discovery and Automation", "ACME"}},
	{"digicert.com", nil},
	{"Certificate Issuing Service (CIS)", nil},
	{"Code Signing Timestamp Service", nil},
	{"Online Certificate Status Protocol (OCSP)", nil},
	{"Certificate Revocation List (CRL)", nil},
	{"Managed PKI (User Authentication)", []string{"PKI Platform 8", "PKI Platform 7", "PKI Platform 7 (Japan)", "CI+ Platform", "OCSP", "CRL"}},
	{"QuoVadis", []string{"DSS-Engine Production", "DSS-Engine Staging", "Trust/Link", "SealSign Cloud Production", "SealSign Cloud Staging", "QVSS (QuoVadis Signing Service)", "QuoVadis qualified Timestamps"}},
	{"DigiCert Direct Cert Portal", []string{"Direct Cert Portal API", "Direct Cert Portal Console"}},
	{"Customer Communications", []string{"Call", "Live Chat", "Email"}},
	{"Enterprise", []string{"Operational", "API VICE2"}},
	{"DigiCert Gatekeeper Service", nil},
	{"DigiCert Site Seal", nil},
}

// TestShippedConfig: the probes.yaml at the repository root passes
// check-config with the real kinds, models the manual's whole catalog in its
// order, gives every component a description, puts at least one probe on every
// leaf, probes the PKI services with their kinds, and ships certificates in
// pki/ that are still valid.
func TestShippedConfig(t *testing.T) {
	path := filepath.Join("..", "..", "probes.yaml")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"check-config", "-config", path}, &stdout, &stderr); err != nil {
		t.Fatalf("check-config %s: %v\n%s", path, err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), path+": ok: ") {
		t.Errorf("stdout = %q", stdout.String())
	}
	cfg, err := config.Load(path, probes.Kinds())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Components) != len(catalog) {
		t.Errorf("%d top-level components, the manual has %d", len(cfg.Components), len(catalog))
	}
	probed := map[string]int{}
	kinds := map[string]int{}
	for _, p := range cfg.Probes {
		probed[p.Component]++
		kinds[p.Kind]++
	}
	ids := map[string]bool{}
	for i, want := range catalog {
		if i >= len(cfg.Components) {
			break
		}
		g := cfg.Components[i]
		if g.Name != want.name {
			t.Errorf("components[%d] = %q, the manual has %q", i, g.Name, want.name)
		}
		leaves := []config.Component{g}
		if want.leaves != nil {
			leaves = g.Components
			if len(g.Components) != len(want.leaves) {
				t.Errorf("%s has %d components, the manual lists %d", g.Name, len(g.Components), len(want.leaves))
			}
			for j, name := range want.leaves {
				if j < len(g.Components) && g.Components[j].Name != name {
					t.Errorf("%s components[%d] = %q, the manual has %q", g.Name, j, g.Components[j].Name, name)
				}
			}
		} else if g.IsGroup() {
			t.Errorf("%s is a group; the manual shows it as a single component", g.Name)
		}
		for _, c := range append([]config.Component{g}, g.Components...) {
			if c.Description == "" {
				t.Errorf("component %s (%s) has no description", c.ID, c.Name)
			}
			ids[c.ID] = true
		}
		for _, leaf := range leaves {
			if probed[leaf.ID] == 0 {
				t.Errorf("leaf %s (%s under %s) has no probe", leaf.ID, leaf.Name, g.Name)
			}
		}
	}
	// Every kind compiled in is exercised, and the PKI services are probed
	// by their own kinds, not merely fetched over HTTP.
	for _, k := range probes.Kinds() {
		if kinds[k] == 0 {
			t.Errorf("no probe of kind %s in the shipped file", k)
		}
	}
	for comp, kind := range map[string]string{"ocsp": "ocsp", "crl": "crl", "timestamp": "tsa", "acme": "acme", "quovadis-qualified-timestamps": "tsa"} {
		found := false
		for _, p := range cfg.Probes {
			found = found || (p.Component == comp && p.Kind == kind)
		}
		if !found {
			t.Errorf("component %s has no probe of kind %s", comp, kind)
		}
	}
	// The certificates it ships are still valid: an expired one would make
	// the probes that use it fail for the wrong reason.
	files, err := filepath.Glob(filepath.Join("..", "..", "pki", "*.pem"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no pki/*.pem: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := config.ParseCertificates(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, c := range certs {
			if !c.IsCA {
				t.Errorf("%s: %s is not a CA certificate", f, c.Subject.CommonName)
			}
			if time.Now().After(c.NotAfter) {
				t.Errorf("%s: %s expired on %s: refresh it (pki/README.md)", f, c.Subject.CommonName, c.NotAfter.Format(time.DateOnly))
			}
		}
	}
}

// exitCode is the status main exits with for err.
func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		return 1
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// binCLI runs the built binary bin with HOME at dir and only PATH and env
// in its environment, returning its stdout, stderr and exit status (an
// error other than a non-zero exit fails the test).
func binCLI(t *testing.T, bin, dir string) func(env []string, args ...string) (stdout, stderr string, code int) {
	return func(env []string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
}
