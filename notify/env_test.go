package notify

import (
	"context"
	"fmt"
	"github.com/probed/probed/status"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/store"
)

// testConfig is the seed's component tree (a group and single components).
const testConfig = `page: {name: Example CA, url: http://status.example.test, time_zone: Asia/Tokyo}
storage: {path: probed.db}
components:
  - id: certcentral
    name: CertCentral
    components:
      - {id: certcentral-api, name: CertCentral API}
      - {id: acme, name: ACME}
  - {id: timestamp, name: Code Signing Timestamp Service}
  - {id: ocsp, name: Online Certificate Status Protocol (OCSP)}
  - {id: crl, name: Certificate Revocation List (CRL)}
notify:
  from: "Example CA Status <noreply@example.test>"
  smtp: {host: 127.0.0.1, port: %d, tls: none, timeout: 2s}
  concurrency: 2
  per_connection: 10
  retry: {initial: 1m, max: 10m, give_up_after: 1h}
  quarantine_after: 2
  webhook_timeout: 2s
  subscribe: {challenge_bits: 8, nojs_wait: 20s}
`

type env struct {
	t      *testing.T
	ctx    context.Context
	clk    *clock.Fake
	st     *store.Store
	cfg    *config.Config
	smtp   *mailsink.Server
	links  *Links
	worker *Worker
	subs   *Subscriptions
	reg    *prometheus.Registry
}

func newEnv(t *testing.T, extra ...string) *env {
	t.Helper()
	srv, err := mailsink.Start(mailsink.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return newEnvWith(t, srv, extra...)
}

func newEnvWith(t *testing.T, srv *mailsink.Server, extra ...string) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	doc := fmt.Sprintf(testConfig, srv.Port()) + strings.Join(extra, "\n")
	file := filepath.Join(dir, "probes.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC))
	st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, clk: clk, st: st, cfg: cfg, smtp: srv, reg: prometheus.NewRegistry()}
	if e.links, err = NewLinksFromStore(ctx, st); err != nil {
		t.Fatal(err)
	}
	e.worker, err = NewWorker(WorkerOptions{Store: st, Config: func() *config.Config { return e.cfg }, Links: e.links, Clock: clk, Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	e.subs, err = NewSubscriptions(ctx, SubscriptionsOptions{Store: st, Config: func() *config.Config { return e.cfg }, Clock: clk, Links: e.links,
		Registerer: e.reg, Wake: e.worker.Wake})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) drain() {
	e.t.Helper()
	if err := e.worker.Drain(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) add(address string, comps ...string) store.Subscriber {
	e.t.Helper()
	sub, _, err := e.subs.Add(e.ctx, AddRequest{Email: address, Components: comps})
	if err != nil {
		e.t.Fatal(err)
	}
	return sub
}

// publish creates an incident through the incidents store, as an operator
// approving a draft does, so its event is written in the same transaction.
func (e *env) publish(title string, comps ...string) *status.Incident {
	e.t.Helper()
	var ci []status.ComponentImpact
	for _, c := range comps {
		ci = append(ci, status.ComponentImpact{ID: c, Status: status.MajorOutage})
	}
	inc, err := e.st.CreateDraft(e.ctx, "alice", status.NewIncident{Title: status.Text{"en": title}, Body: status.Text{"en": "We are investigating failures of " + strings.Join(comps, ", ") + ".",
		"ja": "現在、障害を調査しています。"}, Components: ci, Origin: status.OriginManual, Publish: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return inc
}

// recipients returns who got mail since the last call, by lower-case address.
func (e *env) recipients(since int) (map[string]int, int) {
	msgs := e.smtp.Messages()
	out := map[string]int{}
	for _, m := range msgs[since:] {
		for _, to := range m.To {
			out[strings.ToLower(to)]++
		}
	}
	return out, len(msgs)
}
