package config_test

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/config"
)

// storage.driver: sqlite (default, at storage.path) or postgres (the DSN from
// storage.dsn_file or storage.dsn_env, never both); each mistake is one error
// at its key's line.
func TestStorageDriver(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	write(t, filepath.Join(dir, "dsn"), "host=127.0.0.1 dbname=status\n")
	write(t, filepath.Join(dir, "empty"), "\n")
	t.Setenv("PROBED_TEST_DSN", "postgres://probed@db.example.com/status")
	t.Setenv("PROBED_TEST_UNSET", "")

	for _, c := range []struct {
		yaml    string
		driver  string
		dsn     string
		wantErr []string
	}{
		{"storage: {retention: 7d}\n", "sqlite", "", nil},
		{"storage: {driver: sqlite}\n", "sqlite", "", nil},
		{"storage: {driver: postgres, dsn_file: dsn}\n", "postgres", "host=127.0.0.1 dbname=status", nil},
		{"storage: {driver: postgres, dsn_env: PROBED_TEST_DSN}\n", "postgres", "postgres://probed@db.example.com/status", nil},
		{"storage:\n  driver: mysql\n", "", "", []string{`2: storage.driver: must be sqlite or postgres, got "mysql"`}},
		{"storage:\n  driver: postgres\n", "", "", []string{"2: storage.driver: postgres needs the DSN (the connection string, a secret): give storage.dsn_file or storage.dsn_env"}},
		{"storage:\n  driver: postgres\n  dsn_file: dsn\n  dsn_env: PROBED_TEST_DSN\n", "", "", []string{"4: storage.dsn_env: give the DSN in storage.dsn_file or storage.dsn_env, not both"}},
		{"storage:\n  driver: postgres\n  dsn_file: empty\n", "", "", []string{"3: storage.dsn_file: empty is empty"}},
		{"storage:\n  driver: postgres\n  dsn_file: missing\n", "", "", []string{"3: storage.dsn_file: cannot read the DSN file missing: no such file or directory"}},
		{"storage:\n  driver: postgres\n  dsn_env: PROBED_TEST_UNSET\n", "", "", []string{"3: storage.dsn_env: environment variable PROBED_TEST_UNSET is not set"}},
		{"storage:\n  dsn_file: dsn\n  dsn_env: PROBED_TEST_DSN\n", "", "", []string{
			"2: storage.dsn_file: is for driver postgres; driver sqlite keeps the database at storage.path",
			"3: storage.dsn_env: is for driver postgres; driver sqlite keeps the database at storage.path"}},
	} {
		write(t, file, c.yaml)
		cfg, err := config.Load(file, kinds)
		if c.wantErr == nil {
			if err != nil {
				t.Errorf("%q: %v", c.yaml, err)
				continue
			}
			if cfg.Storage.Driver != c.driver || cfg.Storage.DSN != c.dsn {
				t.Errorf("%q: driver %q, dsn %q; want %q, %q", c.yaml, cfg.Storage.Driver, cfg.Storage.DSN, c.driver, c.dsn)
			}
			continue
		}
		wantLoadErrors(t, file, c.yaml, err, c.wantErr)
	}
}

// storage.holder and storage.lease_ttl name this holder and size the leader
// lease among several holders on one PostgreSQL database: for driver
// postgres only, lease_ttl 10s by default and within 1s-5m.
func TestStorageHolderAndLease(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "probes.yaml")
	t.Setenv("PROBED_TEST_DSN", "postgres://probed@db.example.com/status")
	pgc := "storage:\n  driver: postgres\n  dsn_env: PROBED_TEST_DSN\n"
	for _, c := range []struct {
		yaml    string
		holder  string
		ttl     time.Duration
		wantErr []string
	}{
		{pgc, "", 10 * time.Second, nil},
		{pgc + "  holder: tokyo-a\n  lease_ttl: 30s\n", "tokyo-a", 30 * time.Second, nil},
		{pgc + "  lease_ttl: 1s\n", "", time.Second, nil},
		{pgc + "  lease_ttl: 500ms\n", "", 0, []string{"4: storage.lease_ttl: must be between 1s and 5m, got 500ms"}},
		{pgc + "  lease_ttl: 6m\n", "", 0, []string{"4: storage.lease_ttl: must be between 1s and 5m, got 6m"}},
		{pgc + "  holder: \" a\"\n", "", 0, []string{`4: storage.holder: must be a name of at most 200 characters without control characters or surrounding spaces, got " a"`}},
		{"role: prober\n" + pgc, "", 0, []string{"3: storage.driver: postgres is for holders sharing one database; role prober keeps its results in its own SQLite file (driver sqlite)"}},
		{"storage:\n  holder: a\n  lease_ttl: 10s\n", "", 0, []string{
			"2: storage.holder: is for driver postgres (several holders on one database); driver sqlite has one",
			"3: storage.lease_ttl: is for driver postgres (several holders on one database); driver sqlite has one"}},
	} {
		write(t, file, c.yaml)
		cfg, err := config.Load(file, kinds)
		if c.wantErr == nil {
			if err != nil {
				t.Errorf("%q: %v", c.yaml, err)
				continue
			}
			if cfg.Storage.Holder != c.holder || cfg.Storage.LeaseTTL.D() != c.ttl {
				t.Errorf("%q: holder %q, lease_ttl %s; want %q, %s", c.yaml, cfg.Storage.Holder, cfg.Storage.LeaseTTL, c.holder, c.ttl)
			}
			continue
		}
		wantLoadErrors(t, file, c.yaml, err, c.wantErr)
	}
}

// wantLoadErrors checks that loading yaml from file failed with exactly
// want, each error without the file name.
func wantLoadErrors(t *testing.T, file, yaml string, err error, want []string) {
	t.Helper()
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Errorf("%q: error %v, want config.Errors", yaml, err)
		return
	}
	var got []string
	for _, e := range errs {
		got = append(got, strings.TrimPrefix(e.Error(), file+":"))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q:\n got %q\nwant %q", yaml, got, want)
	}
}
