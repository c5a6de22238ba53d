package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"os"
	"path/filepath"
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
	caOnly := fs.Bool("ca-only", false, "run the simulated CA alone (no probed) on -ca.listen and -ca.acme-listen; print the probes.yaml fragment that probes it")
	caListen := fs.String("ca.listen", "127.0.0.1:9400", "with -ca-only: HTTP address of OCSP, CRL, TSA, API, portal and /faults (loopback)")
	caACME := fs.String("ca.acme-listen", "127.0.0.1:9443", "with -ca-only: TLS address of the ACME directory (loopback)")
	caDir := fs.String("ca.dir", "probed-ca", "with -ca-only: folder for pki/ (the certificates the fragment names)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: probed demo [-listen 127.0.0.1:8080] [-keep] [-interval 5s]")
		fmt.Fprintln(stderr, "       probed demo -ca-only [-ca.listen 127.0.0.1:9400] [-ca.acme-listen 127.0.0.1:9443] [-ca.dir probed-ca] [-interval 10s]")
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
	if *caOnly {
		return runCAOnly(ctx, demo.CAOptions{Listen: *caListen, ACMEListen: *caACME, Dir: *caDir, Interval: *interval, Logger: logger}, stdout, stderr)
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
	if err := seedTemplates(ctx, d); err != nil {
		return err
	}
	dm.Hooks = demo.Hooks{
		Session: func(ctx context.Context) (string, error) {
			secret, _, err := d.store.CreateSession(ctx, demoOperator, 12*time.Hour)
			return secret, err
		},
		ScheduleMaintenance: func(ctx context.Context, actor string, components []string, start time.Time, length time.Duration) (int64, error) {
			inc, err := d.engine.ScheduleMaintenance(ctx, actor, status.NewMaintenance{
				Title:      status.Text{"en": "CRL distribution point maintenance", "ja": "CRL 配布ポイントのメンテナンス"},
				Components: components, Start: start, End: start.Add(length),
				Body: status.Text{"en": fmt.Sprintf("On %s from %s to %s UTC, Demo CA will be performing planned maintenance of the CRL distribution point.", start.UTC().Format("2006-01-02"), start.UTC().Format("15:04"), start.Add(length).UTC().Format("15:04")),
					"ja": fmt.Sprintf("%s %s から %s (UTC) まで、CRL 配布ポイントの計画メンテナンスを実施します。", start.UTC().Format("2006-01-02"), start.UTC().Format("15:04"), start.Add(length).UTC().Format("15:04"))},
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

// runCAOnly serves the simulated CA until ctx ends: what it serves and how
// to break it on stderr, the probes.yaml fragment that probes it on stdout
// (so `probed demo -ca-only > ca.yaml` captures the fragment alone).
func runCAOnly(ctx context.Context, opts demo.CAOptions, stdout, stderr io.Writer) error {
	ca, err := demo.StartCA(opts)
	if err != nil {
		return err
	}
	defer ca.Close(true)
	fmt.Fprintf(stderr, `probed demo -ca-only: the simulated CA is running on loopback (no probed).

  HTTP          %[1]s   (OCSP, CRL, TSA, REST API, portal)
  ACME (TLS)    %[2]s/acme/directory
  Certificates  %[3]s   (new keys at every start: reload probed after a restart)
  Faults        curl -s %[1]s/faults
                curl -s -H 'Content-Type: application/json' -d '{"fault": "api_bad_body", "on": true}' %[1]s/faults

The probes.yaml fragment (components and probes) that probes it follows on stdout.
Ctrl-C stops the CA.

`, ca.BaseURL(), ca.ACMEURL(), filepath.Join(ca.Dir, "pki"))
	if err := ca.Fragment(stdout); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
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

// seedTemplates adds incident templates an operator of the demo CA would
// keep (the console's Templates page, probed template list).
func seedTemplates(ctx context.Context, d *Daemon) error {
	for _, t := range []status.Template{
		{Name: "Issuance delayed", Title: status.Text{"en": "Certificate issuance is delayed", "ja": "証明書の発行が遅れています"},
			Body: status.Text{"en": "Orders are accepted but certificates take longer than usual to be issued. Issued certificates are not affected.",
				"ja": "注文は受け付けていますが、証明書の発行に通常より時間がかかっています。発行済みの証明書に影響はありません。"},
			Components: []status.ComponentImpact{{ID: "certcentral-api", Status: status.DegradedPerformance}, {ID: "acme", Status: status.DegradedPerformance}}},
		{Name: "Revocation status stale", Title: status.Text{"en": "Revocation information is not current", "ja": "失効情報が最新ではありません"},
			Body: status.Text{"en": "OCSP responses and the CRL are served but not refreshed on time; recently revoked certificates may still show as good.",
				"ja": "OCSP 応答と CRL は提供されていますが、更新が遅れています。最近失効した証明書が有効と表示される場合があります。"},
			Status: status.StatusIdentified, Components: []status.ComponentImpact{{ID: "ocsp", Status: status.PartialOutage}, {ID: "crl", Status: status.PartialOutage}}},
	} {
		if _, err := d.engine.CreateTemplate(ctx, demoOperator, t); err != nil {
			return fmt.Errorf("demo template %q: %w", t.Name, err)
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
  On-call chat  %[1]s/demo/chat
  Metrics       %[1]s/metrics
  API v2        %[1]s/api/v2/summary.json

  Operator token (for the console and the CLI):
    export PROBED_SERVER=%[1]s PROBED_TOKEN=%[2]s

  Config        %[3]s   (copy it as a starting point)
  Folder        %[4]s   (removed on Ctrl-C unless -keep)

Try this: log in to the console with the link above, open the fault panel and
switch on ocsp_stale. Within a few probe runs the console shows a draft
incident with its evidence, and the on-call chat announces it. Approve it: the status page changes and the OCSP
subscribers get mail in the mailbox. Switch the fault off: probed proposes to
resolve; resolve it and the resolved mail follows. Ctrl-C stops everything.
`, base, token, dm.ConfigPath, dm.Dir, dm.LoginKey)
	if f, ok := w.(*os.File); ok {
		f.Sync()
	}
}
