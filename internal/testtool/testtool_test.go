package testtool

import (
	"testing"
)

// fakeTB records how Path ended the test instead of ending the real one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Skip(args ...any)  { f.skipped = args[0].(string) }
func (f *fakeTB) Fatal(args ...any) { f.failed = args[0].(string) }

func TestPathFound(t *testing.T) {
	t.Setenv("PATH", t.TempDir()+":/bin:/usr/bin")
	if p := Path(t, "coreutils", "no-such-program-probed", "sh"); p == "" {
		t.Fatal("sh not found although it is the second name")
	}
}

func TestPathMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, tc := range []struct {
		env          string
		skip, failed bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Setenv(RequireEnv, tc.env)
		f := &fakeTB{}
		Path(f, "openssl", "openssl")
		if (f.skipped != "") != tc.skip || (f.failed != "") != tc.failed {
			t.Errorf("%s=%q: skipped %q, failed %q", RequireEnv, tc.env, f.skipped, f.failed)
		}
		want := "openssl not found on PATH (Debian package openssl; `make test` installs it when run as root)"
		if got := f.skipped + f.failed; len(got) < len(want) || got[:len(want)] != want {
			t.Errorf("%s=%q: message %q, want it to start %q", RequireEnv, tc.env, got, want)
		}
	}
}
