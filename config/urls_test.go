package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRedactURL: a URL quoted in an error never shows its userinfo, even
// when it does not parse.
func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://api.example.com/x": "https://api.example.com/x",
		"https://u:hunter2@h/x?q=1": "https://xxxxx@h/x?q=1",
		"https://tok3n@h/":          "https://xxxxx@h/",
		"https://u:hunter2%zz@h/x":  "https://xxxxx@h/x",
		"u:hunter2%zz@h/x":          "xxxxx@h/x",
		"https://h/path@with-at%zz": "https://h/path@with-at%zz",
		"":                          "",
	} {
		if got := redactURL(raw); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestURLCredentialsNeverQuoted: a URL that is wrong twice over (bad scheme
// and credentials) is reported twice and neither message holds the password.
func TestURLCredentialsNeverQuoted(t *testing.T) {
	dir := t.TempDir()
	writeTestPKI(t, dir)
	for kind, section := range map[string]string{
		"http": "{url: 'ftp://probe:hunter2@api.example.com/'}",
		"tsa":  "{url: 'https://probe:hunter2%zz@tsa.example.com/', roots: root.pem}",
		"acme": "{directory: 'http://probe:hunter2@acme.example.com/dir'}",
	} {
		_, err := parseSection(t, dir, kind, section)
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("%s: err = %v, want config errors", kind, err)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "probe:") {
			t.Errorf("%s: error quotes the credentials:\n%v", kind, err)
		}
		if !strings.Contains(err.Error(), "xxxxx@") {
			t.Errorf("%s: error does not quote the redacted URL:\n%v", kind, err)
		}
	}
}
