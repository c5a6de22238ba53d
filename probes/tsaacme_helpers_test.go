package probes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// Helpers shared by the tsa and acme tests: build a probe from YAML the way
// the daemon does, run it, and assert on exactly which checks failed.

// taBuild parses a one-probe config whose section is given as YAML flow
// text (paths relative to dir) and builds its prober.
func taBuild(t testing.TB, dir, kind, section string, env Env) Prober {
	t.Helper()
	pr, err := taTryBuild(dir, kind, section, env)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func taTryBuild(dir, kind, section string, env Env) (Prober, error) {
	doc := fmt.Sprintf("components: [{id: c, name: C}]\nprobes:\n  - name: p\n    component: c\n    kind: %s\n    timeout: 20s\n    interval: 30s\n    %s: %s\n", kind, kind, section)
	cfg, err := config.Parse([]byte(doc), filepath.Join(dir, "probes.yaml"), Kinds())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Build(&cfg.Probes[0], env)
}

// taRun runs a prober once with a deadline.
func taRun(t testing.TB, pr Prober, c clock.Clock) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := NewReport(c, nil)
	pr.Probe(ctx, r)
	return r
}

// taDescribe lists every check of a report, for failure messages.
func taDescribe(r *Report) string {
	var b strings.Builder
	for _, c := range r.Checks() {
		state := "ok  "
		if !c.OK {
			state = "FAIL"
			if c.Severity == Warning {
				state = "warn"
			}
		}
		fmt.Fprintf(&b, "\n  %s %-26s %s", state, c.Name, c.Message)
	}
	return b.String()
}

// taAssertFailed asserts the report's failed critical checks are exactly want
// (a name may repeat in the report; each must appear in want).
func taAssertFailed(t testing.TB, r *Report, want ...string) {
	t.Helper()
	var got []string
	for _, c := range r.Failed() {
		if c.Severity == Critical && !slices.Contains(got, c.Name) {
			got = append(got, c.Name)
		}
	}
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Fatalf("failed critical checks = %v, want %v; checks:%s", got, w, taDescribe(r))
	}
	if r.Success() != (len(want) == 0) {
		t.Fatalf("Success() = %v with failed %v", r.Success(), got)
	}
}

// taAssertPassed asserts each named check was recorded and held.
func taAssertPassed(t testing.TB, r *Report, names ...string) {
	t.Helper()
	for _, n := range names {
		c, ok := taFindCheck(r, n)
		if !ok {
			t.Fatalf("check %s not recorded; checks:%s", n, taDescribe(r))
		}
		if !c.OK {
			t.Fatalf("check %s failed: %s; checks:%s", n, c.Message, taDescribe(r))
		}
	}
}

// taAssertMessage asserts a check's message contains every fragment.
func taAssertMessage(t testing.TB, r *Report, name string, fragments ...string) {
	t.Helper()
	c, ok := taFindCheck(r, name)
	if !ok {
		t.Fatalf("check %s not recorded; checks:%s", name, taDescribe(r))
	}
	for _, f := range fragments {
		if !strings.Contains(c.Message, f) {
			t.Fatalf("check %s message %q lacks %q", name, c.Message, f)
		}
	}
}

func taFindCheck(r *Report, name string) (Check, bool) {
	var found Check
	ok := false
	for _, c := range r.Checks() {
		if c.Name == name {
			// Prefer a failed instance when a check repeats.
			if !ok || !c.OK {
				found, ok = c, true
			}
		}
	}
	return found, ok
}

func taSample(r *Report, name string, labels ...Label) (float64, bool) {
	for _, s := range r.Samples() {
		if s.Name == name && (len(labels) == 0 || slices.Equal(s.Labels, labels)) {
			return s.Value, true
		}
	}
	return 0, false
}

// taOpenSSL runs openssl in dir and fails the test on error.
func taOpenSSL(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func taWriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
