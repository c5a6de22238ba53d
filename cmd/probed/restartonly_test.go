package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/probed/probed/config"
)

// A reload may not move the store (driver, file or server) or the
// listeners: each change is named, and the connection string, a secret,
// is named without its value.
func TestRestartOnlyKeys(t *testing.T) {
	old := &config.Config{}
	old.Storage.Driver, old.Storage.Path, old.Storage.DSN = "sqlite", "probed.db", ""
	same := *old
	if got := restartOnly(old, &same); len(got) != 0 {
		t.Fatalf("unchanged config: %v", got)
	}
	pg := *old
	pg.Storage.Driver, pg.Storage.DSN = "postgres", "postgres://probed:s3cret@127.0.0.1:5432/probed"
	got := restartOnly(old, &pg)
	want := []string{"storage.driver (sqlite → postgres)", "storage.dsn_file/dsn_env (the connection string)"}
	if !slices.Equal(got, want) {
		t.Fatalf("restartOnly = %q, want %q", got, want)
	}
	if strings.Contains(strings.Join(got, " "), "s3cret") {
		t.Fatal("the connection string leaked into the message")
	}
}
