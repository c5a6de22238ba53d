// Package vectors reads the public test vectors kept in
// probes/testdata/public (real captured OCSP responses, NIST PKITS CRLs and
// certificates, real TSA replies; provenance in its README) for the tests
// and fuzz targets of any package.
package vectors

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// Dir is the absolute path of probes/testdata/public.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "probes", "testdata", "public")
}

// Path is the absolute path of one vector, name relative to Dir
// ("ocsp/gts-ca-1c3.pem").
func Path(name string) string { return filepath.Join(Dir(), name) }

// Files reads the vectors matching pattern (relative to Dir, such as
// "pkits/*.crl"), by base name; it fails the test when none match.
func Files(tb testing.TB, pattern string) map[string][]byte {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(Dir(), pattern))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no public test vectors match %s in %s (%v)", pattern, Dir(), err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// Names returns the sorted keys of Files' result, for a stable order.
func Names(files map[string][]byte) []string {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
