package statuspage

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportsOnlyConfigAndStd: the public site is built from the
// configuration and a read model (Source) alone, so nothing that reaches
// the database, the incident engine, mail or the probers can leak into
// what the public sees.
func TestImportsOnlyConfigAndStd(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/probed/probed/config") {
		t.Fatalf("go list -deps printed no config package; output:\n%s", out)
	}
	for _, bad := range []string{"store", "incident", "notify", "probes"} {
		if slices.Contains(deps, "github.com/probed/probed/"+bad) {
			t.Errorf("the public site depends on github.com/probed/probed/%s", bad)
		}
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/probed/probed/") && !slices.Contains(allowedDeps, d) {
			t.Errorf("the public site depends on %s; it may use only %v", d, allowedDeps)
		}
	}
	// Its own imports: those packages and the standard library, nothing
	// from outside (its metrics are the daemon's, through BuildObserver).
	out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && !slices.Contains(allowedDeps, imp) {
			t.Errorf("the public site imports %s; it may import only %v and the standard library", imp, allowedDeps)
		}
	}
}

// allowedDeps are the probed packages the public site may import (status and
// words are the domain vocabulary and its catalogue of words: no I/O).
var allowedDeps = []string{
	"github.com/probed/probed/config",
	"github.com/probed/probed/internal/clock",
	"github.com/probed/probed/status",
	"github.com/probed/probed/words",
	"github.com/probed/probed/web/httpserver",
	"github.com/probed/probed/web/statuspage",
}
