package config_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
)

// kinds stands in for probes.Kinds(): config must not import probes.
var kinds = []string{"acme", "crl", "http", "ocsp", "tsa"}

// TestInvalid loads each testdata/invalid-*.yml and compares the whole
// report, line by line, with what an operator must see.
func TestInvalid(t *testing.T) {
	cases := map[string][]string{
		"unknown-key": {
			"7: probes[0].intervall: unknown key (did you mean interval?)",
		},
		"duplicate-probe": {
			`8: probes[1].name: duplicate probe name "ocsp-responder" (first at line 4)`,
		},
		"unknown-component": {
			`5: probes[0].component: unknown component "oscp" (did you mean ocsp?)`,
		},
		"group-component": {
			`9: probes[0].component: component "certcentral" is a group: probes attach to leaf components (certcentral-api, acme)`,
		},
		"bad-duration": {
			`7: probes[0].interval: bad duration "7days": want a number and a unit (ms, s, m, h, d, w, y) such as 30s or 7d`,
		},
		"missing-ca-file": {
			"9: probes[0].http.ca_file: cannot read certificate file no-such-root.pem: no such file or directory",
		},
		"bad-ca-file": {
			"9: probes[0].http.ca_file: garbage.pem: no PEM certificate and not a DER certificate",
		},
		"interval-and-schedule": {
			"8: probes[0].schedule: give interval or schedule, not both",
		},
		"timeout-not-shorter": {
			"8: probes[0].timeout: must be shorter than the interval (10s), got 10s",
			// An irregular schedule is judged by its shortest gap (0s → 5s).
			"14: probes[1].timeout: must be shorter than the interval (5s), got 6s",
		},
		"maintenance-reminder": {
			"3: notify.maintenance_reminder: must be 0 (no reminder) or between 1m and 30d, got 30s",
		},
		"storage-check-interval": {
			"3: storage.check_interval: must be between 100ms and 1h (how often the database file is checked for deletion or replacement), got 0s",
		},
		"connection-caps": {
			"4: server.max_connections_per_client: must be between 1 and server.max_connections (10), got 11",
		},
		"bad-cron": {
			`7: probes[0].schedule: bad cron schedule "*/5 * * * *": expected exactly 6 fields, found 5: [*/5 * * * *] (want six fields, seconds first, or @every 30s)`,
		},
		"section-mismatch": {
			"6: probes[0].kind: kind http needs its http: section",
			"7: probes[0].ocsp: ocsp: section given for a probe of kind http",
		},
		"missing-section": {
			"6: probes[0].kind: kind http needs its http: section",
		},
		"unknown-kind": {
			`6: probes[0].kind: unknown kind "htp" (did you mean http?) (known: acme, crl, http, ocsp, tsa)`,
		},
		"duplicate-component": {
			`6: components[1].id: duplicate component id "acme" (first at line 5)`,
		},
		"page-url": {
			`3: page.url: must be an absolute http(s) URL such as https://status.example.com, got "status.example.com"`,
		},
		"time-zone": {
			`3: page.time_zone: unknown time zone "Asia/Tokio": want an IANA name such as UTC or Asia/Tokyo`,
		},
		// Any language with a catalogue (words/LANG.json) is accepted; en and ja ship.
		"page-languages": {
			`3: page.languages[1]: unknown language "fr": probed has words for en, ja (a language is one catalogue file, words/LANG.json)`,
			`3: page.languages[2]: language "ja" given twice`,
		},
		"nested-groups": {
			`7: components[0].components[0].components: "ca-manager" is inside group "digicert-one" and cannot have components of its own (groups nest one level only, as on Statuspage)`,
		},
		"secrets-inline": {
			"9: probes[0].http.headers.Authorization: header Authorization carries a secret: give it in header_files or header_env, never inline",
			"11: notify.smtp.password: unknown key: secrets are never written in probes.yaml; put it in a file named by password_file",
		},
		// Credentials in a probe URL would leak into evidence, logs and
		// metrics: refused in every kind, the URL quoted without them.
		"url-credentials": {
			"8: probes[0].http.url: URL https://xxxxx@api.example.com/health carries credentials (user:password@): they would leak into evidence, logs and metrics; give them as a header (e.g. Authorization) in header_files or header_env, never in headers or the URL",
			"15: probes[1].ocsp.url: URL http://xxxxx@ocsp.example.com/ carries credentials (user:password@): they would leak into evidence, logs and metrics; this kind sends no credentials: remove them",
			"21: probes[2].crl.url: URL http://xxxxx@crl.example.com/ca.crl carries credentials (user:password@): they would leak into evidence, logs and metrics; this kind sends no credentials: remove them",
			"27: probes[3].tsa.url: URL https://xxxxx@tsa.example.com/ carries credentials (user:password@): they would leak into evidence, logs and metrics; give them as a header (e.g. Authorization) in header_files or header_env, never in headers or the URL",
			"32: probes[4].acme.directory: URL https://xxxxx@acme.example.com/directory carries credentials (user:password@): they would leak into evidence, logs and metrics; this kind sends no credentials: remove them",
		},
		"duplicate-key": {
			"8: probes[0]: key interval given twice (first at line 7): the whole mapping is ignored",
		},
		// A word where a probe belongs: one error, not one per empty field.
		"probe-not-mapping": {
			`2: probes[0]: want a mapping, got text "foo"`,
		},
		// Numbers out of range, each at its own key and index: a flow
		// mapping's other keys do not take the error, a bad list element
		// neither hides a later one nor shifts its index.
		"out-of-range": {
			"3: probes[0].http.max_body_bytes: 99999999999999999999999999 is out of range: want a whole number from -9223372036854775808 to 9223372036854775807",
			"9: probes[1].http.status[0]: 1e400 is out of range: want a whole number from -9223372036854775808 to 9223372036854775807",
			"9: probes[1].http.status[1]: -1 is not an HTTP status code",
			"9: probes[1].http.status[2]: 9223372036854775807 is not an HTTP status code",
			"10: notify.concurrency: 99999999999999999999 is out of range: want a whole number from -9223372036854775808 to 9223372036854775807",
			"10: notify.rate: 1e400 is out of range: want a number of at most about 1.8e308",
		},
		"yaml-syntax": {
			"6: YAML syntax: mapping values are not allowed in this context",
		},
		// Everything at once, sorted by line: decode errors (a bad duration
		// in a flow mapping, a word for a number), unknown keys and
		// validation problems, without a bad element shifting later lines.
		"many": {
			`3: page.url: must be an absolute http(s) URL such as https://status.example.com, got "ftp://status.example.com"`,
			"5: storage.retention: must be at least 1h, got 30m",
			`7: components[0].latency_objective: bad duration "fast": want a number and a unit (ms, s, m, h, d, w, y) such as 30s or 7d`,
			`8: components[1].id: must be lower-case letters, digits, - and _, got "API"`,
			`13: probes[0].interval: bad duration "soon": want a number and a unit (ms, s, m, h, d, w, y) such as 30s or 7d`,
			"14: probes[0].http.status[1]: 999 is not an HTTP status code",
			`15: probes[1].name: duplicate probe name "api" (first at line 10)`,
			`16: probes[1].component: unknown component "missing"`,
			"18: probes[1].http.body_matches[0]: bad regular expression: error parsing regexp: missing closing ): `(unclosed`",
			`20: incidents.failures_to_open: want a whole number, got text "three"`,
			"21: incidents.sucesses_to_close: unknown key (did you mean successes_to_close?)",
		},
	}
	files, err := filepath.Glob("testdata/invalid-*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(cases) {
		t.Errorf("%d testdata/invalid-*.yml files but %d cases: every file needs its expected errors", len(files), len(cases))
	}
	for _, file := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "invalid-"), ".yml")
		t.Run(name, func(t *testing.T) {
			want, ok := cases[name]
			if !ok {
				t.Fatalf("no expected errors for %s", file)
			}
			cfg, err := config.Load(file, kinds)
			if err == nil {
				t.Fatalf("Load(%s) accepted the file: %+v", file, cfg)
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want config.Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			for i := range want {
				want[i] = file + ":" + want[i]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// TestValidFull decodes a file that sets every key and checks each value,
// including those the loader derives (paths, location, parsed files).
func TestValidFull(t *testing.T) {
	cfg, err := config.Load("testdata/valid-full.yml", kinds)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := filepath.Abs("testdata")
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", what, got, want)
		}
	}
	check("page.name", cfg.Page.Name, "Example CA")
	check("page.url (trailing / dropped)", cfg.Page.URL, "https://status.example.com")
	check("page.time_zone", cfg.Page.Location.String(), "Asia/Tokyo")
	check("page.languages", cfg.Page.Languages, []string{"ja", "en"})
	check("server", cfg.Server, config.Server{Listen: "127.0.0.1:18080", AdminListen: "127.0.0.1:19115", MaxConnections: 1024, MaxConnectionsPerClient: 64})
	check("storage.path", cfg.Storage.Path, filepath.Join(dir, "probed.db"))
	check("storage.retention", cfg.Storage.Retention.D(), 7*24*time.Hour)
	check("storage.rollup_retention", cfg.Storage.RollupRetention.D(), 2*365*24*time.Hour)
	check("storage.check_interval", cfg.Storage.CheckInterval.D(), 10*time.Second)
	check("location", cfg.Location, "tokyo-1")
	check("components", len(cfg.Components), 2)
	check("leaves", ids(cfg.Leaves()), []string{"certcentral-api", "acme", "website"})
	check("certcentral.description", cfg.Components[0].Description, "Certificate lifecycle management")
	check("certcentral-api.latency_objective", cfg.Component("certcentral-api").LatencyObjective.D(), 2*time.Second)
	check("acme.only_show_if_degraded", cfg.Component("acme").OnlyShowIfDegraded, true)
	check("website.only_show_if_degraded", cfg.Component("website").OnlyShowIfDegraded, false)
	check("incidents", cfg.Incidents, config.Incidents{FailuresToOpen: 5, SuccessesToClose: 3, StaleIntervals: 4})
	check("role", cfg.Role, "prober")
	check("notify.from", cfg.Notify.From, "Example CA Status <noreply@example.com>")
	check("notify.smtp", cfg.Notify.SMTP, config.SMTP{Host: "smtp.example.com", Port: 587, TLS: "tls", Username: "status", PasswordFile: "smtp-password", Password: "smtp-secret", Timeout: config.Duration(30 * time.Second)})

	api := cfg.Probe("api")
	check("api.line", api.Line, 26)
	check("api.interval", api.Interval.D(), 30*time.Second)
	check("api.timeout", api.Timeout.D(), 5*time.Second)
	h := api.HTTP
	check("http.method (upper-cased)", h.Method, "POST")
	check("http.headers", h.Headers, map[string]string{"Accept": "application/json"})
	check("http.secret header (from header_files)", h.SecretHeader, http.Header{"X-Dc-Devkey": {"devkey-123"}})
	check("http.body", h.Body, `{"ping": true}`)
	check("http.status", h.Status, config.List[int]{200, 204})
	check("http.body_matches", h.BodyMatchesRE[0].String(), `"ok"`)
	check("http.body_not_matches", h.BodyNotMatchesRE[0].String(), "maintenance")
	check("http.json", h.JSON, []config.JSONAssertion{{Path: "status", Equal: "ok"}})
	check("http.header_matches", h.HeaderMatchesRE["Content-Type"].String(), "^application/json")
	check("http.max_body_bytes", h.MaxBodyBytes, int64(4096))
	check("http.redirects", h.Redirects, "none")
	check("http.ca_file loaded", h.Roots != nil, true)
	check("http.server_name", h.ServerName, "api.example.com")
	check("http.min_tls_version", h.MinTLSVersion, "1.2")
	check("http.cert_expiry_warning", h.CertExpiryWarning.D(), 30*24*time.Hour)

	// A schedule leaves the interval unset; the timeout defaults to 80% of
	// the period when that is under 10s.
	acme := cfg.Probe("acme-directory")
	check("acme.interval", acme.Interval.D(), time.Duration(0))
	check("acme.period", acme.Period(), 15*time.Second)
	check("acme.timeout", acme.Timeout.D(), 10*time.Second)
	check("acme.http defaults", acme.HTTP.Method == "GET" && acme.HTTP.Redirects == "follow", true)

	// Nothing given: one minute, ten seconds, the http section's defaults.
	web := cfg.Probe("website")
	check("website.interval", web.Interval.D(), time.Minute)
	check("website.timeout", web.Timeout.D(), 10*time.Second)
	check("website.max_body_bytes", web.HTTP.MaxBodyBytes, int64(1<<20))
	check("website.cert_expiry_warning", web.HTTP.CertExpiryWarning.D(), 14*24*time.Hour)
	check("website.status (empty: any 2xx)", len(web.HTTP.Status), 0)
}

// TestDefaults: a file that gives only what it must gets every default.
func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	write(t, file, "components: [{id: api, name: API}]\nprobes: [{name: api, component: api, kind: http, interval: 5s, http: {url: http://127.0.0.1/}}]\n")
	t.Setenv(config.SMTPPasswordEnv, "")
	cfg, err := config.Load(file, kinds)
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	if !reflect.DeepEqual(cfg.Page.Languages, []string{"en", "ja"}) || cfg.Page.Name != "probed" || cfg.Page.URL != "http://127.0.0.1:8080" || cfg.Page.Location != time.UTC {
		t.Errorf("page = %+v", cfg.Page)
	}
	if cfg.Server != want.Server || cfg.Server.Listen != "127.0.0.1:8080" || cfg.Server.AdminListen != "" {
		t.Errorf("server = %+v", cfg.Server)
	}
	if cfg.Storage.Path != filepath.Join(dir, "probed.db") || cfg.Storage.Retention.D() != 14*24*time.Hour || cfg.Storage.RollupRetention.D() != 400*24*time.Hour || cfg.Storage.CheckInterval.D() != 30*time.Second {
		t.Errorf("storage = %+v", cfg.Storage)
	}
	if cfg.Location != "default" || cfg.Role != "holder" || cfg.Prober() {
		t.Errorf("location = %q, role %q", cfg.Location, cfg.Role)
	}
	if cfg.Incidents != (config.Incidents{FailuresToOpen: 3, SuccessesToClose: 2, StaleIntervals: 3}) {
		t.Errorf("incidents = %+v", cfg.Incidents)
	}
	if cfg.Notify.From != "" || cfg.Notify.SMTP != (config.SMTP{Host: "127.0.0.1", Port: 25, TLS: "starttls", Timeout: config.Duration(30 * time.Second)}) {
		t.Errorf("notify = %+v", cfg.Notify)
	}
	// 80% of a 5s interval is under the 10s default timeout.
	if p := cfg.Probe("api"); p.Timeout.D() != 4*time.Second || p.Interval.D() != 5*time.Second {
		t.Errorf("probe timing = %s/%s", p.Interval, p.Timeout)
	}
	// A partly given section keeps the defaults of the keys left out.
	write(t, file, "notify: {smtp: {host: mail.example.com}}\nincidents: {failures_to_open: 4}\n")
	cfg, err = config.Load(file, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.SMTP != (config.SMTP{Host: "mail.example.com", Port: 25, TLS: "starttls", Timeout: config.Duration(30 * time.Second)}) || cfg.Incidents != (config.Incidents{FailuresToOpen: 4, SuccessesToClose: 2, StaleIntervals: 3}) {
		t.Errorf("partial sections: smtp %+v, incidents %+v", cfg.Notify.SMTP, cfg.Incidents)
	}
	// An empty file is the default configuration.
	write(t, file, "")
	if cfg, err = config.Load(file, kinds); err != nil || len(cfg.Probes) != 0 || cfg.Page.Name != "probed" {
		t.Errorf("empty file: %v, %+v", err, cfg)
	}
}

// TestSecretsFromEnv: the SMTP password and header secrets come from the
// environment when no file is named; a variable that is not set fails the
// load rather than a run at 3 a.m.
func TestSecretsFromEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	write(t, file, `components: [{id: api, name: API}]
probes:
  - name: api
    component: api
    kind: http
    http: {url: http://127.0.0.1/, header_env: {X-Api-Key: PROBED_TEST_API_KEY}}
notify: {smtp: {username: status}}
`)
	t.Setenv(config.SMTPPasswordEnv, "from-env")
	t.Setenv("PROBED_TEST_API_KEY", "k-123")
	cfg, err := config.Load(file, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.SMTP.Password != "from-env" {
		t.Errorf("smtp password = %q, want it from %s", cfg.Notify.SMTP.Password, config.SMTPPasswordEnv)
	}
	if got := cfg.Probes[0].HTTP.SecretHeader.Get("X-Api-Key"); got != "k-123" {
		t.Errorf("X-Api-Key = %q", got)
	}
	t.Setenv("PROBED_TEST_API_KEY", "")
	_, err = config.Load(file, kinds)
	want := file + ":6: probes[0].http.header_env.X-Api-Key: environment variable PROBED_TEST_API_KEY is not set"
	if err == nil || err.Error() != want {
		t.Errorf("unset variable: got %v, want %s", err, want)
	}
	// Secrets never appear in errors: a secret header file that exists but
	// is refused elsewhere still only names the file.
	if strings.Contains(errString(err), "k-123") || strings.Contains(errString(err), "from-env") {
		t.Errorf("a secret leaked into the error: %v", err)
	}
}

// TestMergeKeys: YAML anchors and merge keys share settings between probes;
// the keys they bring in are checked like any other.
func TestMergeKeys(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	write(t, file, `components: [{id: api, name: API}]
x-defaults: &defaults
  component: api
  kind: http
  interval: 15s
probes:
  - {<<: *defaults, name: a, http: {url: http://127.0.0.1/a}}
  - {<<: *defaults, name: b, http: {url: http://127.0.0.1/b}}
`)
	_, err := config.Load(file, kinds)
	want := file + ":2: x-defaults: unknown key"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	write(t, file, `components: [{id: api, name: API}]
probes:
  - &a {name: a, component: api, kind: http, interval: 15s, http: {url: http://127.0.0.1/a}}
  - {<<: *a, name: b}
  - {<<: *a, name: c, intervall: 5s}
`)
	_, err = config.Load(file, kinds)
	want = file + ":5: probes[2].intervall: unknown key (did you mean interval?)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	write(t, file, `components: [{id: api, name: API}]
probes:
  - &a {name: a, component: api, kind: http, interval: 15s, http: {url: http://127.0.0.1/a}}
  - {<<: *a, name: b}
`)
	cfg, err := config.Load(file, kinds)
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Probe("b"); b == nil || b.Interval.D() != 15*time.Second || b.HTTP.URL != "http://127.0.0.1/a" {
		t.Errorf("merged probe b = %+v", b)
	}
}

// TestDurations: Prometheus style, as SPEC §3 says.
func TestDurations(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "1y": 365 * 24 * time.Hour} {
		write(t, file, "components: [{id: a, name: A, latency_objective: "+in+"}]\n")
		cfg, err := config.Load(file, kinds)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := cfg.Components[0].LatencyObjective.D(); got != want {
			t.Errorf("%s = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"30", "-5m", "1.5h", "{a: b}"} {
		write(t, file, "storage: {retention: "+in+"}\n")
		if _, err := config.Load(file, kinds); err == nil || !strings.Contains(err.Error(), ":1: storage.retention: ") {
			t.Errorf("%s: got %v, want an error at storage.retention line 1", in, err)
		}
	}
}

// TestReadError: a file that cannot be read is one error naming it.
func TestReadError(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"), kinds)
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Error(), "nope.yaml: read config: open ") {
		t.Errorf("got %v", err)
	}
}

func ids(cs []config.Component) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func write(t *testing.T, file, body string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestAliasBomb: nested aliases ("billion laughs") cost their size, not
// their expansion: the load ends at once with the decoder's refusal.
func TestAliasBomb(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("x0: &a0 {id: a, name: A}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&sb, "x%d: &a%d [", i, i)
		for j := range 10 {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "*a%d", i-1)
		}
		sb.WriteString("]\n")
	}
	sb.WriteString("components: *a12\n")
	_, err := config.Parse([]byte(sb.String()), "bomb.yml", kinds)
	if err == nil || !strings.Contains(err.Error(), "bomb.yml") {
		t.Fatalf("got %v, want a refusal", err)
	}
	t.Log(err)
}
