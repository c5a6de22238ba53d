// Command probed probes a certificate authority's services, keeps their
// history, drafts incidents for an operator and serves the status page.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
)

// errUsage marks an error whose message is the usage already printed.
var errUsage = errors.New("usage")

// exitError carries an exit status other than 1.
type exitError struct{ code int }

// Error names the exit status.
func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one ends the
	// process at once (the default action, restored here).
	go func() {
		<-ctx.Done()
		stop()
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var ee exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "probed:", err)
		os.Exit(1)
	}
}

// commands maps each subcommand to its function.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"run":          cmdRun,
	"check-config": cmdCheckConfig,
	"probe":        cmdProbe,
	"demo":         cmdDemo,
	"token":        cmdToken(),
	"incident":     cmdIncident(),
	"maintenance":  cmdMaintenance(),
	"template":     cmdTemplate(),
	"subscriber":   cmdSubscriber(),
	"store":        cmdStore(),
}

// run dispatches a command line; `probed` alone or with flags means `probed run`.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			usage(stdout)
			return nil
		}
		return cmdRun(ctx, args, stdout, stderr)
	}
	if args[0] == "help" {
		usage(stdout)
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "probed: unknown command %q\n\n", args[0])
		usage(stderr)
		return errUsage
	}
	return cmd(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: probed <command> [flags]

commands:
  run            the daemon (default): probes, history, status page   -config probes.yaml
  check-config   validate a config; print every error with file:line  -config probes.yaml
  probe          run probes once, print every check and its evidence  -config F [-at TIME] [-o json] [NAME...]
  demo           the whole system on a built-in simulated CA          [-listen 127.0.0.1:8080]
  token          operator API tokens                                   create -config F -name NAME
  incident       list|show|create|approve|reject|update|resolve|postmortem over the operator API
  maintenance    schedule|list|cancel over the operator API
  template       list|show|create|edit|delete incident templates over the operator API
  subscriber     list|add|remove over the operator API
  store          migrate: copy the SQLite store into PostgreSQL      migrate -from probed.db -to-file F

Every command takes -h. CLI clients read -server or PROBED_SERVER, and PROBED_TOKEN.
`)
}

// newLogger builds the process logger from -log.level and -log.format.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad -log.level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad -log.format %q: want text or json", format)
}

// cmdCheckConfig loads a config as the daemon would, builds every prober,
// and prints every problem (file:line: key: message, sorted by line) on
// stderr with exit status 1, or a one-line summary on stdout.
func cmdCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "probes.yaml", "config file to check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, probes.Kinds())
	if err != nil {
		errs, ok := errors.AsType[config.Errors](err)
		if !ok {
			errs = config.Errors{{File: *path, Msg: err.Error()}}
		}
		printErrors(stderr, *path, errs)
		return exitError{1}
	}
	// Building every prober catches what only a kind can judge.
	var errs config.Errors
	for i := range cfg.Probes {
		if _, err := probes.Build(&cfg.Probes[i], probes.Env{}); err != nil {
			errs = append(errs, config.Error{File: cfg.File, Line: cfg.Probes[i].Line, Key: fmt.Sprintf("probes[%d]", i), Msg: err.Error()})
		}
	}
	if len(errs) > 0 {
		printErrors(stderr, *path, errs)
		return exitError{1}
	}
	leaves := len(cfg.Leaves())
	all := 0
	for _, c := range cfg.Components {
		all += 1 + len(c.Components)
	}
	fmt.Fprintf(stdout, "%s: ok: %d components (%d %s, %d leaves), %d probes\n", *path, all, all-leaves, plural(all-leaves, "group", "groups"), leaves, len(cfg.Probes))
	return nil
}

// printErrors writes one error a line, then how many.
func printErrors(w io.Writer, path string, errs config.Errors) {
	for _, e := range errs {
		fmt.Fprintln(w, e.Error())
	}
	fmt.Fprintf(w, "%s: %d %s\n", path, len(errs), plural(len(errs), "error", "errors"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
