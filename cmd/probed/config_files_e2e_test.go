package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// refuseWithin bounds each refusal below (a check-config process, or a
// reload): one that read a device or waited on a FIFO would run into it.
// Each takes about 10 ms on a loaded 2-core machine.
const refuseWithin = time.Second

// TestConfigFilesReadSafely: /dev/urandom, /dev/zero and a FIFO named as a
// certificate, a secret and a header file. `probed check-config` refuses each
// with file:line: key:, and so does a reload of the running daemon (POST
// /-/reload and SIGHUP), which keeps running its previous configuration.
func TestConfigFilesReadSafely(t *testing.T) {
	bin := buildProbed(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	defer target.Close()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "probes.yaml")
	head := `server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
components:
  - {id: api, name: API}
probes:
  - name: a
    component: api
    kind: http
    interval: 1s
    http:
      url: ` + target.URL + "\n"
	valid := head
	roles := []struct {
		name, yaml, key string
	}{
		{"certificate", "      ca_file: %s\n", ":12: probes[0].http.ca_file: cannot read certificate file %s: "},
		{"header file", "      header_files: {X-Api-Key: %s}\n", ":12: probes[0].http.header_files.X-Api-Key: cannot read %s: "},
		{"secret", "notify:\n  smtp: {username: u, password_file: %s}\n", ":13: notify.smtp.password_file: cannot read the password file: "},
	}
	files := []struct{ path, why string }{
		{"/dev/urandom", "not a regular file (a character device)"},
		{"/dev/zero", "not a regular file (a character device)"},
		{fifo, "not a regular file (a named pipe)"},
	}
	writeFile(t, cfgPath, valid)
	token := operatorToken(t, bin, cfgPath)
	d := startProbed(t, bin, cfgPath)
	m := &scraper{t: t, url: "http://" + d.addr + "/metrics"}
	eventually(t, "probe a to succeed", func() (bool, string) {
		v := m.value("probe_success", "probe", "a")
		return v == 1, fmt.Sprint("probe_success ", v)
	})

	for _, r := range roles {
		for _, f := range files {
			t.Run(r.name+" "+filepath.Base(f.path), func(t *testing.T) {
				writeFile(t, cfgPath, head+fmt.Sprintf(r.yaml, f.path))
				want := cfgPath + r.key
				if strings.Contains(want, "%s") {
					want = fmt.Sprintf(want, f.path)
				}
				want += f.why

				ctx, cancel := context.WithTimeout(context.Background(), refuseWithin)
				defer cancel()
				out, err := exec.CommandContext(ctx, bin, "check-config", "-config", cfgPath).CombinedOutput()
				if ctx.Err() != nil {
					t.Fatalf("check-config still running after %s: %s", refuseWithin, out)
				}
				if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 1 {
					t.Errorf("check-config: %v, want exit status 1\n%s", err, out)
				}
				if !strings.Contains(string(out), want+"\n") {
					t.Errorf("check-config output lacks\n%s\ngot\n%s", want, out)
				}

				code, body := postReloadWithin(t, ctx, d.addr, token)
				if code != http.StatusBadRequest || !strings.Contains(body, want) {
					t.Errorf("POST /-/reload: %d\n%s\nwant 400 with\n%s", code, body, want)
				}
				if v := m.value("probed_config_last_reload_successful"); v != 0 {
					t.Errorf("probed_config_last_reload_successful = %v after a refused reload", v)
				}
			})
		}
	}

	// SIGHUP, as in the report that started this: /dev/urandom as a header
	// file. Refused and logged; the daemon lives on.
	writeFile(t, cfgPath, head+fmt.Sprintf(roles[1].yaml, "/dev/urandom"))
	d.signal(syscall.SIGHUP)
	d.waitLog(`level=ERROR msg="config error" error="` + cfgPath + `:12: probes[0].http.header_files.X-Api-Key: cannot read /dev/urandom: not a regular file (a character device)"`)
	d.waitLog(`msg="config reload refused; the previous configuration keeps running"`)

	// Still the previous configuration, still probing; fixed, it reloads.
	before := m.value("probed_probe_runs_total", "result", "success")
	eventually(t, "probe a to keep running", func() (bool, string) {
		v := m.value("probed_probe_runs_total", "result", "success")
		return v > before, fmt.Sprintf("successful runs %v, %v before", v, before)
	})
	writeFile(t, cfgPath, valid)
	ctx, cancel := context.WithTimeout(context.Background(), refuseWithin)
	defer cancel()
	if code, body := postReloadWithin(t, ctx, d.addr, token); code != http.StatusOK {
		t.Errorf("POST /-/reload of the fixed file: %d %s", code, body)
	}
	if v := m.value("probed_config_last_reload_successful"); v != 1 {
		t.Errorf("probed_config_last_reload_successful = %v after the fixed file", v)
	}
	select {
	case err := <-d.done:
		d.done <- err
		t.Fatalf("probed exited: %v", err)
	default:
	}
}

// postReloadWithin is postReload bounded by ctx.
func postReloadWithin(t *testing.T, ctx context.Context, addr, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/-/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /-/reload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
