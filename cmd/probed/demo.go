package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"os"
	"time"

	"github.com/probed/probed/internal/demo"
)

// demoOperator names the demo's operator token in the audit log.
const demoOperator = "demo-operator"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the status page, console and metrics")
	keep := fs.Bool("keep", false, "keep the temporary folder (config, certificates, database) after Ctrl-C")
	interval := fs.Duration("interval", 5*time.Second, "time between probe runs")
	level := fs.String("log.level", "warn", "log level: debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: probed demo [-listen 127.0.0.1:8080] [-keep] [-interval 5s]")
		fmt.Fprintln(stderr, "\nThe whole system on a built-in simulated CA, offline: status page, console, metrics, a mailbox and a fault panel.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *level, "text")
	if err != nil {
		return err
	}
	dm, err := demo.Start(ctx, demo.Options{Listen: *listen, Interval: *interval, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if err := dm.Close(*keep); err != nil {
			fmt.Fprintln(stderr, "probed demo: clean up:", err)
		}
		if *keep {
			fmt.Fprintf(stdout, "kept %s\n", dm.Dir)
		}
	}()
	d, err := NewDaemon(ctx, dm.ConfigPath, logger, DaemonOptions{AdminRoutes: dm.Routes})
	if err != nil {
		return fmt.Errorf("demo daemon: %w", err)
	}
	if err := d.Listen(); err != nil {
		d.store.Close()
		return fmt.Errorf("demo: %w (is another probed demo running? use -listen 127.0.0.1:8081)", err)
	}
	token, err := d.store.CreateToken(ctx, demoOperator)
	if err != nil {
		return fmt.Errorf("demo token: %w", err)
	}
	if err := seedSubscribers(ctx, d); err != nil {
		return err
	}
	dm.Hooks = demo.Hooks{
		Session: func(ctx context.Context) (string, error) {
			secret, _, err := d.store.CreateSession(ctx, demoOperator, 12*time.Hour)
			return secret, err
		},
		ScheduleMaintenance: func(ctx context.Context, actor string, components []string, start time.Time, length time.Duration) (int64, error) {
			inc, err := d.engine.ScheduleMaintenance(ctx, actor, status.NewMaintenance{
				Title: "CRL distribution point maintenance", TitleJA: "CRL 配布ポイントのメンテナンス",
				Components: components, Start: start, End: start.Add(length),
				Body:   fmt.Sprintf("On %s from %s to %s UTC, Demo CA will be performing planned maintenance of the CRL distribution point.", start.UTC().Format("2006-01-02"), start.UTC().Format("15:04"), start.Add(length).UTC().Format("15:04")),
				BodyJA: fmt.Sprintf("%s %s から %s (UTC) まで、CRL 配布ポイントの計画メンテナンスを実施します。", start.UTC().Format("2006-01-02"), start.UTC().Format("15:04"), start.Add(length).UTC().Format("15:04")),
			})
			if err != nil {
				return 0, err
			}
			return inc.ID, nil
		},
	}
	base := "http://" + d.publicLn.Addr().String()
	printTour(stdout, dm, base, token)
	err = d.Serve(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// seedSubscribers adds the demo's subscribers, confirmed at once.
func seedSubscribers(ctx context.Context, d *Daemon) error {
	var all []string
	for _, c := range d.Config().Leaves() {
		all = append(all, c.ID)
	}
	for _, s := range demo.Subscribers {
		comps := s.Components
		if comps == nil {
			comps = all
		}
		if _, err := d.store.AddSubscriber(ctx, "email", s.Email, comps, ""); err != nil {
			return fmt.Errorf("demo subscriber %s: %w", s.Email, err)
		}
	}
	return nil
}

// printTour is what a newcomer reads first; the README's tour quotes it.
func printTour(w io.Writer, dm *demo.Demo, base, token string) {
	fmt.Fprintf(w, `probed demo is running: a simulated CA on loopback, probed watching it.

  Status page   %[1]s/
  Console       %[1]s/demo/login/%[5]s   (one-time login link)
  Fault panel   %[1]s/demo/faults
  Mailbox       %[1]s/demo/mail
  Metrics       %[1]s/metrics
  API v2        %[1]s/api/v2/summary.json

  Operator token (for the console and the CLI):
    export PROBED_SERVER=%[1]s PROBED_TOKEN=%[2]s

  Config        %[3]s   (copy it as a starting point)
  Folder        %[4]s   (removed on Ctrl-C unless -keep)

Try this: log in to the console with the link above, open the fault panel and
switch on ocsp_stale. Within a few probe runs the console shows a draft
incident with its evidence. Approve it: the status page changes and the OCSP
subscribers get mail in the mailbox. Switch the fault off: probed proposes to
resolve; resolve it and the resolved mail follows. Ctrl-C stops everything.
`, base, token, dm.ConfigPath, dm.Dir, dm.LoginKey)
	if f, ok := w.(*os.File); ok {
		f.Sync()
	}
}
