package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorWebhooks: a valid list loads with its URL and secret read
// from their files; each mistake is one error at its file:line and key,
// and never quotes a secret.
func TestOperatorWebhooks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("slack-url", "https://chat.example.com/hooks/T000/B000/XXXXSECRETXXXX\n")
	write("secret", "0123456789abcdef0123\n")
	write("short", "abc\n")
	write("bad-url", "ftp://chat.example.com/hooks/SECRETPATH\n")
	parse := func(doc string) (*Config, error) {
		return Parse([]byte(doc), filepath.Join(dir, "probes.yaml"), nil)
	}
	cfg, err := parse(`notify:
  operator_webhooks:
    - name: oncall
      format: slack
      url_file: slack-url
      events: [draft_created, draft_withdrawn]
      language: ja
    - name: pager
      format: json
      url: https://pager.example.com/probed
      secret_file: secret
      console_url: https://console.example.com
`)
	if err != nil {
		t.Fatal(err)
	}
	ws := cfg.Notify.OperatorWebhooks
	if len(ws) != 2 || ws[0].Target != "https://chat.example.com/hooks/T000/B000/XXXXSECRETXXXX" || ws[0].Secret != "" ||
		ws[1].Target != "https://pager.example.com/probed" || ws[1].Secret != "0123456789abcdef0123" {
		t.Fatalf("loaded %+v", ws)
	}
	if !ws[0].Wants("draft_created") || ws[0].Wants("resolve_proposed") || !ws[1].Wants("resolve_proposed") || ws[1].Wants("incident_updated") {
		t.Error("Wants: events list, or all operator events when none is given")
	}

	for _, tc := range []struct{ doc, want string }{
		{"- {format: json, url: 'https://a.example/x', secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].name: required: a short name for logs and metrics, such as oncall"},
		{"- {name: On Call, format: json, url: 'https://a.example/x', secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].name: must be lower-case letters, digits, _ and - (at most 63), got \"On Call\""},
		{"- {name: a, format: json, url: 'https://a.example/x', secret_file: secret}\n    - {name: a, format: json, url: 'https://a.example/y', secret_file: secret}", "probes.yaml:4: notify.operator_webhooks[1].name: \"a\" is given twice"},
		{"- {name: a, format: teams, url: 'https://a.example/x', secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].format: must be slack (Slack-compatible incoming webhook) or json, got \"teams\""},
		{"- {name: a, format: json, secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].url: required: give url or url_file (a file holding the URL)"},
		{"- {name: a, format: json, url: 'https://a.example/x', url_file: slack-url, secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].url_file: give the URL in url or url_file, not both"},
		{"- {name: a, format: slack, url: 'https://chat.example.com/hooks/T/B/SECRET'}", "probes.yaml:3: notify.operator_webhooks[0].url: a Slack-compatible incoming-webhook URL is its own secret: never written in probes.yaml; put it in a file named by url_file"},
		{"- {name: a, format: json, url: 'https://user:pw@a.example/x', secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].url: must be an http or https URL without user:password@ (it would be sent and could leak), got https://xxxxx@a.example/x"},
		{"- {name: a, format: json, url: 'a.example/x', secret_file: secret}", "probes.yaml:3: notify.operator_webhooks[0].url: must be an absolute http or https URL, got a.example/x"},
		{"- {name: a, format: slack, url_file: missing}", "probes.yaml:3: notify.operator_webhooks[0].url_file: cannot read the URL file: no such file or directory"},
		{"- {name: a, format: slack, url_file: bad-url}", "probes.yaml:3: notify.operator_webhooks[0].url_file: bad-url must hold an absolute http or https URL without user:password@ (its content is not shown: it is a secret)"},
		{"- {name: a, format: slack, url_file: slack-url, events: [draft_created, incident_updated]}", "probes.yaml:3: notify.operator_webhooks[0].events[1]: unknown event \"incident_updated\" (want draft_created, draft_approved, draft_rejected, draft_withdrawn, resolve_proposed)"},
		{"- {name: a, format: slack, url_file: slack-url, events: [draft_created, draft_created]}", "probes.yaml:3: notify.operator_webhooks[0].events[1]: \"draft_created\" is given twice"},
		{"- {name: a, format: json, url: 'https://a.example/x'}", "probes.yaml:3: notify.operator_webhooks[0].secret_file: required for format json: the receiver checks X-Probed-Signature with this secret"},
		{"- {name: a, format: json, url: 'https://a.example/x', secret_file: short}", "probes.yaml:3: notify.operator_webhooks[0].secret_file: short must hold a secret of at least 16 characters, got 3"},
		{"- {name: a, format: json, url: 'https://a.example/x', secret_file: nope}", "probes.yaml:3: notify.operator_webhooks[0].secret_file: cannot read the secret file: no such file or directory"},
		{"- {name: a, format: slack, url_file: slack-url, language: fr}", "probes.yaml:3: notify.operator_webhooks[0].language: must be one of page.languages (en, ja), got \"fr\""},
		{"- {name: a, format: slack, url_file: slack-url, console_url: console}", "probes.yaml:3: notify.operator_webhooks[0].console_url: must be an absolute http or https URL, got console"},
		{"- {name: a, format: slack, url_file: slack-url, channel: '#ops'}", "probes.yaml:3: notify.operator_webhooks[0].channel: unknown key"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := parse("notify:\n  operator_webhooks:\n    " + tc.doc + "\n")
			if err == nil {
				t.Fatal("accepted")
			}
			got := err.Error()
			if strings.Contains(got, "SECRET") {
				t.Errorf("the error quotes a secret URL: %q", got)
			}
			lines := strings.Split(got, "\n")
			if len(lines) != 1 {
				t.Errorf("want one error, got %q", got)
			}
			i := strings.LastIndex(lines[0], "/probes.yaml") + 1
			if i < 1 || !strings.HasPrefix(lines[0][i:], tc.want) {
				t.Errorf("error = %q, want prefix %q", got, tc.want)
			}
		})
	}
}
