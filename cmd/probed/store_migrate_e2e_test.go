package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
)

// TestStoreMigrateEndToEnd moves a holder from SQLite to PostgreSQL as the
// README says, with the built binary: a daemon on SQLite publishes an
// incident in English and Japanese and gets a subscriber; it is stopped;
// `probed store migrate` copies its file into an empty database and says
// what it copied; a second migrate is refused; the config switches to
// storage.driver: postgres; a daemon started on it serves the incident on
// its page and API, in both languages, honours the subscriber's mailed
// manage link and the operator token made before the move.
func TestStoreMigrateEndToEnd(t *testing.T) {
	bin := buildProbed(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	head := `server: {listen: "127.0.0.1:0"}
page: {name: Example CA, url: "http://status.example.test"}
components:
  - {id: ocsp, name: OCSP}
  - {id: crl, name: CRL}
notify:
  from: "Example CA Status <noreply@example.test>"
  smtp: {host: 127.0.0.1, port: 1, tls: none, timeout: 1s}
`
	writeFile(t, cfgPath, head+"storage: {path: probed.db}\n")
	run := binCLI(t, bin, dir)
	d, env := startWithToken(t, bin, cfgPath, run)
	ok := cliOK(t, run, env) // env[0] follows the daemon when it moves
	ok("incident", "create", "-title", "OCSP responder down", "-title-ja", "OCSP レスポンダ停止",
		"-message", "We are investigating.", "-message-ja", "調査中です。", "-components", "ocsp:major_outage", "-publish")
	ok("subscriber", "add", "-email", "hanako@example.jp", "-components", "ocsp", "-language", "ja")
	d.signal(syscall.SIGTERM)
	if err := d.wait(); err != nil {
		t.Fatalf("probed on SQLite did not stop cleanly: %v\n%s", err, d.stderr())
	}

	// The subscriber's manage link, as the mail carried it.
	src, err := store.Open(context.Background(), store.Options{Path: filepath.Join(dir, "probed.db")})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := src.SubscriberByAddress(context.Background(), store.SubscriberEmail, "hanako@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	links, err := notify.NewLinksFromStore(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	manage := links.Token(notify.PurposeManage, sub, sub.CreatedAt.AddDate(1, 0, 0))
	src.Close()

	// The move. The password is here to be looked for in the output.
	dsn := pg.DSN(t) + " password=never-printed-5e1d"
	dsnFile := filepath.Join(dir, "pg.dsn")
	writeFile(t, dsnFile, dsn+"\n")
	out, stderr, code := run(nil, "store", "migrate", "-from", filepath.Join(dir, "probed.db"), "-to-file", dsnFile)
	if code != 0 {
		t.Fatalf("store migrate = exit %d\n%s%s", code, out, stderr)
	}
	for _, want := range []string{
		"source: " + filepath.Join(dir, "probed.db") + " (at this probed's schema already)\n",
		"target: postgres database ", " on 127.0.0.1:", "(was empty)\n",
		"copied in one transaction:\n",
		"verified: the row count of each of the ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("store migrate output lacks %q:\n%s", want, out)
		}
	}
	for table, n := range map[string]int{"incidents": 1, "incident_texts": 2, "update_texts": 2, "subscribers": 1, "tokens": 1, "signing_keys": 2} {
		if !regexp.MustCompile(`(?m)^ +` + table + ` +` + fmt.Sprint(n) + ` *$`).MatchString(out) {
			t.Errorf("store migrate output does not say %d rows of %s:\n%s", n, table, out)
		}
	}
	if strings.Contains(out+stderr, "never-printed") {
		t.Errorf("store migrate printed the DSN's password:\n%s%s", out, stderr)
	}
	out, stderr, code = run([]string{"PROBED_TEST_DSN=" + dsn}, "store", "migrate", "-from", filepath.Join(dir, "probed.db"), "-to-env", "PROBED_TEST_DSN")
	if code != 1 || !regexp.MustCompile(`^probed: store migrate .*probed.db to postgres database \S+ on 127.0.0.1:\d+: the target database is not empty: table audit_log has \d+ rows?; migrate copies into an empty database only\n$`).MatchString(stderr) {
		t.Fatalf("second migrate = exit %d\n%s%s", code, out, stderr)
	}
	if _, stderr, code = run(nil, "store", "migrate", "-from", filepath.Join(dir, "probed.db")); code != 1 || stderr != "probed: store migrate: give the target in exactly one of -to-file, -to-env and -to\n" {
		t.Fatalf("migrate without a target = exit %d: %q", code, stderr)
	}
	// A FIFO as -to-file is refused at once (no writer would hang a plain read).
	fifo := filepath.Join(dir, "dsn.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code = run(nil, "store", "migrate", "-from", filepath.Join(dir, "probed.db"), "-to-file", fifo); code != 1 || stderr != "probed: store migrate: -to-file: read "+fifo+": not a regular file (a named pipe)\n" {
		t.Fatalf("migrate -to-file FIFO = exit %d: %q", code, stderr)
	}

	// The holder, restarted on PostgreSQL.
	writeFile(t, cfgPath, head+"storage: {driver: postgres, dsn_file: pg.dsn}\n")
	d = startProbed(t, bin, cfgPath)
	// The page's first snapshot is read from the store just after the start.
	eventually(t, "the migrated incident on the page", func() (bool, string) {
		resp, err := http.Get("http://" + d.addr + "/api/v2/incidents.json")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "OCSP responder down"), string(b)
	})
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + d.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %s\n%s", path, resp.Status, b)
		}
		return string(b)
	}
	if body := get("/api/v2/incidents.json"); !strings.Contains(body, "OCSP responder down") || !strings.Contains(body, "We are investigating.") {
		t.Errorf("API v2 on postgres lacks the migrated incident:\n%s", body)
	}
	if body := get("/?lang=ja"); !strings.Contains(body, "OCSP レスポンダ停止") {
		t.Errorf("the Japanese page on postgres lacks the migrated incident's title:\n%s", body)
	}
	if body := get("/incidents/1?lang=ja"); !strings.Contains(body, "調査中です。") {
		t.Errorf("the incident's Japanese page on postgres lacks its update:\n%s", body)
	}
	if body := get("/subscriptions/manage?t=" + manage); !strings.Contains(body, "hanako@example.jp") {
		t.Errorf("the manage link mailed before the move does not open on postgres:\n%s", body)
	}
	env[0] = "PROBED_SERVER=http://" + d.addr
	if out := ok("incident", "list"); !strings.Contains(out, "OCSP responder down") {
		t.Errorf("probed incident list with the token made before the move:\n%s", out)
	}
	if strings.Contains(d.stderr(), "never-printed") {
		t.Error("the daemon logged the DSN's password")
	}
}
