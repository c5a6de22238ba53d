package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNotifyDefaults(t *testing.T) {
	cfg, err := Parse([]byte("page: {name: Example CA, url: https://status.example.com}\n"), filepath.Join(t.TempDir(), "probes.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notify
	if n.SMTP != DefaultSMTP || n.Concurrency != 4 || n.PerConnection != 100 || n.QuarantineAfter != 3 ||
		n.Retry.Initial.D() != 30*time.Second || n.Subscribe.ChallengeBits != 18 || n.Subscribe.PerIP.Burst != 5 {
		t.Errorf("defaults = %+v", n)
	}
	cfg, err = Parse([]byte("notify:\n  from: noreply@example.com\n  concurrency: 2\n  smtp: {port: 2525, tls: none}\n  subscribe: {trusted_proxies: [10.0.0.0/8, 192.0.2.1]}\n"), filepath.Join(t.TempDir(), "probes.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	n = cfg.Notify
	if n.Concurrency != 2 || n.SMTP.Port != 2525 || n.SMTP.Host != "127.0.0.1" || n.SMTP.Timeout.D() != 30*time.Second || n.PerConnection != 100 {
		t.Errorf("partial notify = %+v: defaults must fill what is left out", n)
	}
	if len(n.Subscribe.Proxies) != 2 || n.Subscribe.Proxies[1].String() != "192.0.2.1/32" {
		t.Errorf("proxies = %v", n.Subscribe.Proxies)
	}
}

func TestNotifyInvalid(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"notify: {from: 'not an address'}", "probes.yaml:1: notify.from: not a mail address"},
		{"notify:\n  smtp: {tls: ssl}", "probes.yaml:2: notify.smtp.tls: must be starttls, tls or none, got \"ssl\""},
		{"notify:\n  smtp: {port: 0}", "probes.yaml:2: notify.smtp.port: must be a TCP port (1-65535), got 0"},
		{"notify:\n  concurrency: 0", "probes.yaml:2: notify.concurrency: must be 1-64, got 0"},
		{"notify:\n  rate: -1", "probes.yaml:2: notify.rate: must be 0 (no cap) or more messages per second, got -1"},
		{"notify:\n  retry: {initial: 1m, max: 30s}", "probes.yaml:2: notify.retry.max: must be at least notify.retry.initial (1m), got 30s"},
		{"notify:\n  quarantine_after: 0", "probes.yaml:2: notify.quarantine_after: must be at least 1, got 0"},
		{"notify:\n  subscribe:\n    challenge_bits: 40", "probes.yaml:3: notify.subscribe.challenge_bits: must be 0-32, got 40"},
		{"notify:\n  subscribe:\n    per_ip: {burst: 0}", "probes.yaml:3: notify.subscribe.per_ip.burst: must be at least 1, got 0"},
		{"notify:\n  subscribe:\n    trusted_proxies: [nope]", "probes.yaml:3: notify.subscribe.trusted_proxies[0]: must be an address or CIDR"},
		{"notify:\n  smtp: {password_file: missing.txt, username: u}", "probes.yaml:2: notify.smtp.password_file: cannot read the password file"},
		{"notify:\n  smtp: {hots: x}", "probes.yaml:2: notify.smtp.hots: unknown key (did you mean host?)"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc+"\n"), filepath.Join(t.TempDir(), "probes.yaml"), nil)
			if err == nil {
				t.Fatal("accepted")
			}
			got := err.Error()
			i := strings.LastIndex(got, "/probes.yaml") + 1
			if i < 1 || !strings.HasPrefix(got[i:], tc.want) {
				t.Errorf("error = %q, want prefix %q", got, tc.want)
			}
		})
	}
}
