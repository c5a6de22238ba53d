package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Go's profiler is on the operator listener, behind the operator token,
// and nowhere on the public one: the index lists the profiles, a heap and
// a goroutine profile download with a token and are refused without one.
func TestPprofBehindOperatorToken(t *testing.T) {
	bin := buildProbed(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: %s, admin_listen: %s}
storage: {path: probed.db}
components:
  - {id: web, name: Web}
probes:
  - {name: web, component: web, kind: http, interval: 1m, http: {url: "http://127.0.0.1:1/"}}
`, freeAddr(t), freeAddr(t)))
	token := operatorToken(t, bin, cfgPath)
	d := startProbed(t, bin, cfgPath)
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(d.waitLog("probed started"))[1]
	get := func(addr, path, tok string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(admin, "/debug/pprof/", token); code != 200 || !strings.Contains(body, "goroutine") || !strings.Contains(body, "heap") {
		t.Fatalf("index with the token: %d %.200q", code, body)
	}
	if code, body := get(admin, "/debug/pprof/goroutine?debug=1", token); code != 200 || !strings.Contains(body, "goroutine profile: total") {
		t.Fatalf("goroutine profile: %d %.200q", code, body)
	}
	if code, body := get(admin, "/debug/pprof/heap", token); code != 200 || len(body) == 0 {
		t.Fatalf("heap profile: %d, %d bytes", code, len(body))
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/debug/pprof/cmdline"} {
		if code, _ := get(admin, path, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", path, code)
		}
		if code, _ := get(admin, path, "probed_wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: %d, want 401", path, code)
		}
		if code, _ := get(d.addr, path, token); code != http.StatusNotFound {
			t.Errorf("%s on the public listener: %d, want 404", path, code)
		}
	}
}
