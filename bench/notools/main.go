// Command notools reads `go test -json` on stdin (as bench/notools.sh runs it)
// and prints every skipped test with its reason and every failed test with its
// output. It exits 1 when a test or package failed, or when a test skipped
// without saying why.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "notools:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	output := map[string][]string{}
	var skips, fails []string
	packages, passed := 0, 0
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // a build error line, reported by go test itself
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			output[key] = append(output[key], e.Output)
		case "pass":
			if e.Test == "" {
				packages++
			} else {
				passed++
			}
		case "skip":
			if e.Test == "" {
				continue // a package without tests
			}
			skips = append(skips, key+": "+reason(output[key]))
		case "fail":
			fails = append(fails, key+"\n"+strings.Join(output[key], ""))
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	sort.Strings(skips)
	for _, s := range skips {
		fmt.Fprintln(out, "SKIP", s)
	}
	for _, f := range fails {
		fmt.Fprintln(out, "FAIL", f)
	}
	fmt.Fprintf(out, "%d packages passed, %d tests passed, %d skipped, %d failed\n", packages, passed, len(skips), len(fails))
	if len(fails) > 0 {
		return fmt.Errorf("%d failed", len(fails))
	}
	for _, s := range skips {
		if strings.HasSuffix(s, ": ") {
			return fmt.Errorf("a test skipped without a reason: %s", s)
		}
	}
	return nil
}

// reason is the skip message: the output lines between the test's "=== RUN"
// and its "--- SKIP", file:line prefix kept.
func reason(lines []string) string {
	var r []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		r = append(r, t)
	}
	return strings.Join(r, " | ")
}
