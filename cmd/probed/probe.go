package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/probes"
)

// cmdProbe runs the named probes of a config once (all of them without
// names) and prints every check with its result, severity, message and
// evidence. Exit status: 0 when every probe passed (warnings allowed), 1
// when one failed, 2 for a usage or config error. -at fixes the clock every
// check judges time by, so a captured response can be judged at the moment
// it was served.
func cmdProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: probed probe [-config probes.yaml] [-at TIME] [-o text|json] [NAME...]

Runs the named probes once (every probe without names) and prints every check
with its result, severity, message and evidence. Exit status 0 when all
probes pass, 1 when one fails, 2 for a usage or config error.

`)
		fs.PrintDefaults()
	}
	path := fs.String("config", "probes.yaml", "config file")
	at := fs.String("at", "", "judge time as if it were `TIME` (RFC 3339, e.g. 2021-11-07T14:25:51Z); default now")
	out := fs.String("o", "text", "output format: text or json")
	logLevel := fs.String("log.level", "warn", "log level on stderr: debug, info, warn or error")
	// Flags may come before, between or after the names.
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "probed probe: "+format+"\n", a...)
		return errUsage
	}
	if *out != "text" && *out != "json" {
		return usageErr("bad -o %q: want text or json", *out)
	}
	var clk clock.Clock = clock.Real{}
	if *at != "" {
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return usageErr("bad -at %q: want an RFC 3339 time such as 2021-11-07T14:25:51Z", *at)
		}
		clk = clock.NewFake(t)
	}
	logger, err := newLogger(stderr, *logLevel, "text")
	if err != nil {
		return usageErr("%v", err)
	}

	cfg, err := config.Load(*path, probes.Kinds())
	if err != nil {
		errs, ok := errors.AsType[config.Errors](err)
		if !ok {
			errs = config.Errors{{File: *path, Msg: err.Error()}}
		}
		printErrors(stderr, *path, errs)
		return errUsage
	}
	selected, err := selectProbes(cfg, names)
	if err != nil {
		return usageErr("%s: %v", *path, err)
	}
	results, err := runOnce(ctx, cfg, selected, clk, logger)
	if err != nil {
		return usageErr("%s: %v", *path, err)
	}

	failed := 0
	for _, r := range results {
		if !r.Success {
			failed++
		}
	}
	if *out == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		doc := probeReport{Success: failed == 0, Results: results}
		if *at != "" {
			doc.At = clk.Now().UTC().Format(time.RFC3339)
		}
		if err := enc.Encode(doc); err != nil {
			return err
		}
	} else {
		printResults(stdout, results, *at != "", clk.Now())
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// probeReport is the -o json document.
type probeReport struct {
	At      string          `json:"at,omitempty"` // the -at time, when given
	Success bool            `json:"success"`
	Results []probes.Result `json:"results"`
}

// selectProbes returns the probes named, in the order named, or every
// probe when names is empty. An unknown name is an error listing the known.
func selectProbes(cfg *config.Config, names []string) ([]config.Probe, error) {
	if len(names) == 0 {
		if len(cfg.Probes) == 0 {
			return nil, errors.New("the config has no probes")
		}
		return slices.Clone(cfg.Probes), nil
	}
	var out []config.Probe
	var unknown []string
	seen := map[string]bool{}
	for _, n := range names {
		p := cfg.Probe(n)
		switch {
		case p == nil:
			unknown = append(unknown, n)
		case !seen[n]:
			seen[n] = true
			out = append(out, *p)
		}
	}
	if len(unknown) > 0 {
		known := make([]string, len(cfg.Probes))
		for i, p := range cfg.Probes {
			known[i] = p.Name
		}
		return nil, fmt.Errorf("no probe named %s (the config has: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}

// runOnce runs each probe once through a scheduler that is never started
// (so runs get the daemon's timeout, panic and overrun handling), all at
// once, and returns the results in the order given. The CRL kind's memory
// of earlier runs is empty: it is the first fetch.
func runOnce(ctx context.Context, cfg *config.Config, selected []config.Probe, clk clock.Clock, logger *slog.Logger) ([]probes.Result, error) {
	sub := *cfg
	sub.Probes = selected
	sched := probes.NewScheduler(probes.SchedulerOptions{Clock: clk, Logger: logger})
	env := probes.Env{Logger: logger, Clock: clk, State: newMemState()}
	if err := sched.Apply(&sub, env); err != nil {
		return nil, err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = sched.Stop(stopCtx)
	}()
	results := make([]probes.Result, len(selected))
	errs := make([]error, len(selected))
	var wg sync.WaitGroup
	for i, p := range selected {
		wg.Go(func() {
			results[i], errs[i] = sched.RunNow(ctx, p.Name)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return results, nil
}

// printResults writes one block per probe: a header line, then each check
// with its verdict, severity, name and message, and the evidence of the
// failed ones, one key=value a line.
func printResults(w io.Writer, results []probes.Result, fixed bool, at time.Time) {
	if fixed {
		fmt.Fprintf(w, "judged at %s (-at)\n\n", at.UTC().Format(time.RFC3339))
	}
	for i, r := range results {
		if i > 0 {
			fmt.Fprintln(w)
		}
		verdict := "PASS"
		if !r.Success {
			verdict = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s (kind %s, component %s) in %s\n", verdict, r.Probe, r.Kind, r.Component, r.Duration.Round(time.Millisecond))
		width := 0
		for _, c := range r.Checks {
			width = max(width, len(c.Name))
		}
		for _, c := range r.Checks {
			mark := "ok  "
			switch {
			case !c.OK && c.Severity == probes.Warning:
				mark = "WARN"
			case !c.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  %s  %-8s  %-*s  %s\n", mark, c.Severity, width, c.Name, c.Message)
			if !c.OK {
				for _, k := range slices.Sorted(maps.Keys(c.Evidence)) {
					fmt.Fprintf(w, "        %s=%s\n", k, c.Evidence[k])
				}
			}
		}
	}
}

// memState is the State of a one-shot run: empty at start, forgotten at exit.
type memState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemState() *memState { return &memState{m: map[string][]byte{}} }

// GetState returns what PutState stored, or nil.
func (s *memState) GetState(_ context.Context, probe, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.m[probe+"\x00"+key]), nil
}

// PutState keeps a copy of value.
func (s *memState) PutState(_ context.Context, probe, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[probe+"\x00"+key] = slices.Clone(value)
	return nil
}
