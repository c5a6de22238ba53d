package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/store"
)

// TestSubscriberCLIAndMailThroughTheDaemon runs the built binary with its
// relay down: publishing an incident queues the mail, the daemon stays
// healthy, and when the relay comes back the mail arrives. The subscribers
// are managed with `probed subscriber add|list|remove`.
func TestSubscriberCLIAndMailThroughTheDaemon(t *testing.T) {
	bin := buildProbed(t)
	relay, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	relay.Down()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
page: {name: Example CA, url: "http://status.example.test"}
components:
  - {id: ocsp, name: OCSP}
  - {id: crl, name: CRL}
notify:
  from: "Example CA Status <noreply@example.test>"
  smtp: {host: 127.0.0.1, port: %d, tls: none, timeout: 5s}
  retry: {initial: 1s, max: 2s, give_up_after: 1h}
`, relay.Port()))
	run := binCLI(t, bin, dir)
	d, env := startWithToken(t, bin, cfgPath, run)
	ok := cliOK(t, run, env)
	if out := ok("subscriber", "add", "-email", "ocsp-team@example.com", "-components", "ocsp"); !strings.Contains(out, "active") {
		t.Errorf("add: %s", out)
	}
	ok("subscriber", "add", "-email", "crl-team@example.com", "-components", "crl", "-language", "ja")
	var list []store.Subscriber
	if err := json.Unmarshal([]byte(ok("subscriber", "list", "-o", "json")), &list); err != nil || len(list) != 2 {
		t.Fatalf("list -o json: %v %+v", err, list)
	}
	for _, sub := range list {
		if want := map[string]string{"crl-team@example.com": "ja"}[sub.Address]; sub.Language != want {
			t.Errorf("%s has language %q, want %q (-language)", sub.Address, sub.Language, want)
		}
	}
	if out := ok("subscriber", "list"); !strings.Contains(out, "ocsp-team@example.com") || !strings.Contains(out, "ADDRESS") {
		t.Errorf("list table:\n%s", out)
	}
	if _, stderr, code := run(env, "subscriber", "add", "-email", "x@example.com", "-components", "nope"); code == 0 || !strings.Contains(stderr, "unknown component") {
		t.Errorf("unknown component: exit %d %s", code, stderr)
	}
	if _, stderr, code := run(env, "subscriber", "add"); code != 2 {
		t.Errorf("add without -email = exit %d %s, want 2 (usage)", code, stderr)
	}
	if _, stderr, code := run(nil, "subscriber", "list", "-server", "http://"+d.addr); code == 0 || !strings.Contains(stderr, "PROBED_TOKEN") {
		t.Errorf("list without a token: exit %d %s", code, stderr)
	}

	ok("incident", "create", "-title", "OCSP responder errors", "-message", "Investigating.", "-components", "ocsp", "-publish")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The relay is down: the daemon keeps serving and counts the failures.
	metric := func(name string) string {
		resp, err := http.Get("http://" + d.addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, name+" ") {
				return strings.TrimPrefix(l, name+" ")
			}
		}
		return ""
	}
	d.waitLog("SMTP relay unreachable")
	if f, p := metric(`probed_notifications_failed_total{reason="connection"}`), metric("probed_notifications_pending"); f == "0" || f == "" || p != "1" {
		t.Errorf("relay down: connection failures %q pending %q, want some and 1", f, p)
	}
	if resp, err := http.Get("http://" + d.addr + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz with the relay down: %v", err)
	}
	if err := relay.Up(); err != nil {
		t.Fatal(err)
	}
	if err := relay.Wait(ctx, func(n int) bool { return n >= 1 }); err != nil {
		t.Fatal(err)
	}
	if got := relay.Received(); got["ocsp-team@example.com"] != 1 || got["crl-team@example.com"] != 0 {
		t.Errorf("received %v: want the OCSP team only", got)
	}
	if out := ok("subscriber", "remove", "-email", "ocsp-team@example.com"); !strings.Contains(out, "removed") {
		t.Errorf("remove: %s", out)
	}
	if _, stderr, code := run(env, "subscriber", "remove", "-email", "ocsp-team@example.com"); code == 0 || !strings.Contains(stderr, "404") {
		t.Errorf("remove twice: exit %d %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(ok("subscriber", "list", "-o", "json")), &list); err != nil || len(list) != 1 || list[0].Address != "crl-team@example.com" {
		t.Errorf("after remove: %+v", list)
	}
}
