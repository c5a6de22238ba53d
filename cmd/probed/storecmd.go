package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/probed/probed/config"
	"github.com/probed/probed/store"
)

const storeHelp = `usage: probed store migrate -from probed.db (-to-file FILE | -to-env VAR | -to DSN)

Copies the SQLite store in -from into an empty PostgreSQL database: every
table (history, rollups, incidents and their texts in every language,
maintenances, subscribers with their secrets, deliveries, audit log,
tokens, signing keys, engine state), ids kept, in one transaction; then
checks every table's row count. Stop the probed that holds -from first.
The source is brought to this probed's schema first, as starting it would.
The DSN is a secret: give it in a file (-to-file) or an environment
variable (-to-env) rather than on the command line; it is never printed.
`

func cmdStore() func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands("store", map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"migrate": storeMigrate,
	}, storeHelp)
}

func storeMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("store migrate", "store migrate -from probed.db (-to-file FILE | -to-env VAR | -to DSN)", stderr)
	from := fs.String("from", "", "the SQLite database to copy (storage.path); its probed must be stopped")
	to := fs.String("to", "", "the PostgreSQL connection string (visible to other users in ps: prefer -to-file or -to-env)")
	toFile := fs.String("to-file", "", "a file holding the connection string (like storage.dsn_file)")
	toEnv := fs.String("to-env", "", "an environment variable holding the connection string (like storage.dsn_env)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	dsn, err := targetDSN(*to, *toFile, *toEnv)
	if err != nil {
		return err
	}
	rep, err := store.Copy(ctx, store.CopyOptions{From: *from, To: dsn})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "source: %s", rep.From)
	if len(rep.Migrated) > 0 {
		fmt.Fprintf(stdout, " (migrated to this probed's schema first: %s)", strings.Join(rep.Migrated, ", "))
	} else {
		fmt.Fprint(stdout, " (at this probed's schema already)")
	}
	fmt.Fprintf(stdout, "\ntarget: %s (was empty)\nschema: %s on both\ncopied in one transaction:\n", rep.To, rep.Schema)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, t := range rep.Tables {
		fmt.Fprintf(tw, "  %s\t%d\t\n", t.Table, t.Rows)
	}
	fmt.Fprintf(tw, "  total\t%d\t\n", rep.Rows())
	tw.Flush()
	fmt.Fprintf(stdout, "verified: the row count of each of the %d tables on the target equals the source's\n", len(rep.Tables))
	fmt.Fprintln(stdout, "next: set storage.driver: postgres and storage.dsn_file (or dsn_env) in the config, then start probed")
	return nil
}

// targetDSN reads the connection string from exactly one of -to, -to-file
// and -to-env.
func targetDSN(to, file, env string) (string, error) {
	n := 0
	for _, s := range []string{to, file, env} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return "", errors.New("store migrate: give the target in exactly one of -to-file, -to-env and -to")
	}
	switch {
	case file != "":
		b, err := config.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("store migrate: -to-file: %w", err)
		}
		dsn := strings.TrimSpace(string(b))
		if dsn == "" {
			return "", fmt.Errorf("store migrate: -to-file: %s is empty", file)
		}
		return dsn, nil
	case env != "":
		dsn := strings.TrimSpace(os.Getenv(env))
		if dsn == "" {
			return "", fmt.Errorf("store migrate: -to-env: environment variable %s is not set", env)
		}
		return dsn, nil
	}
	return strings.TrimSpace(to), nil
}
