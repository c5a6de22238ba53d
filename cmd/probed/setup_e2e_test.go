package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/probed/probed/internal/pgtest"
	"github.com/probed/probed/status"
	"github.com/probed/probed/store"
)

// The set-ups several end-to-end tests share: a daemon with an operator
// token and the CLI pointed at it; two built holders' configs on the
// package's PostgreSQL; a primary with a standby under two in-process
// holders; and the check that a database outage lost nothing.

// cliFunc runs the built binary (binCLI).
type cliFunc = func(env []string, args ...string) (stdout, stderr string, code int)

// startWithToken makes an operator token as an operator would (`probed
// token create -name alice` on the config's database, before the start),
// starts the daemon on cfgPath and returns it with the environment that
// points the CLI at it as that operator.
func startWithToken(t *testing.T, bin, cfgPath string, run cliFunc) (*daemon, []string) {
	t.Helper()
	tok, stderr, code := run(nil, "token", "create", "-config", cfgPath, "-name", "alice")
	if code != 0 {
		t.Fatalf("token create = %d %s", code, stderr)
	}
	d := startProbed(t, bin, cfgPath)
	return d, []string{"PROBED_SERVER=http://" + d.addr, "PROBED_TOKEN=" + strings.TrimSpace(tok)}
}

// cliOK returns a runner of the CLI with env that fails the test unless
// the command exits 0, and returns its stdout.
func cliOK(t *testing.T, run cliFunc, env []string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		out, stderr, code := run(env, args...)
		if code != 0 {
			t.Fatalf("probed %s = exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
}

// holderToken makes an operator token on h's database (in process, as
// `probed token create` would).
func holderToken(t *testing.T, h *holder) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := tokenCreate(context.Background(), []string{"-config", h.d.path, "-name", "e2e"}, &out, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	return strings.TrimSpace(out.String())
}

// holderPair is two built holders' configs, a and b (holderConfig), on the
// package's PostgreSQL with its DSN in a file, probing one faultyTarget,
// and an operator token; the test starts them.
type holderPair struct {
	bin, dsn   string
	cfgA, cfgB string
	tok        string
	broken     *atomic.Bool
}

// newHolderPair writes the two configs, mail going to the relay on
// smtpPort.
func newHolderPair(t *testing.T, smtpPort int) holderPair {
	t.Helper()
	p := holderPair{bin: buildProbed(t), dsn: pg.DSN(t)}
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	writeFile(t, dsnFile, p.dsn+"\n")
	var target string
	target, p.broken = faultyTarget(t)
	p.cfgA = holderConfig(t, dir, dsnFile, "a", target, smtpPort)
	p.cfgB = holderConfig(t, dir, dsnFile, "b", target, smtpPort)
	p.tok = operatorToken(t, p.bin, p.cfgA)
	return p
}

// standbyPair is a PostgreSQL primary and its streaming standby with two
// in-process holders (tokyo, osaka) on a DSN naming both and asking for
// the writable one, probing an okTarget.
type standbyPair struct {
	primary, standby *pgtest.Server
	dsn, multi       string // the primary's DSN; the multi-host one
	hits             *atomic.Int64
	hs               []*holder
	ms               []*scraper // each holder's /metrics
}

// startStandbyPair starts the servers and the holders; the holders read
// the multi-host DSN from the environment variable dsnEnv.
func startStandbyPair(t *testing.T, dsnEnv string) *standbyPair {
	t.Helper()
	p := &standbyPair{primary: new(pgtest.Server)} // not the package's: the test stops or changes it
	t.Cleanup(p.primary.Stop)
	target, hits := okTarget(t)
	p.hits = hits
	p.dsn = p.primary.DSN(t)
	p.standby = p.primary.Standby(t)
	p1, p2 := strconv.Itoa(p.primary.Port()), strconv.Itoa(p.standby.Port())
	p.multi = strings.Replace(p.dsn, "host=127.0.0.1 port="+p1, "host=127.0.0.1,127.0.0.1 port="+p1+","+p2, 1)
	if p.multi == p.dsn {
		t.Fatalf("cannot make a multi-host DSN of %q", p.dsn)
	}
	p.multi += " target_session_attrs=read-write"
	t.Setenv(dsnEnv, p.multi)
	p.hs = []*holder{
		startHolder(t, dsnEnv, "tokyo", target.URL),
		startHolder(t, dsnEnv, "osaka", target.URL),
	}
	p.ms = []*scraper{{t: t, url: p.hs[0].base + "/metrics"}, {t: t, url: p.hs[1].base + "/metrics"}}
	return p
}

// leaders is how many of the two holders say they lead.
func (p *standbyPair) leaders() float64 {
	return p.ms[0].value("probed_leader") + p.ms[1].value("probed_leader")
}

// waitRecovered waits until both holders are ready on the new primary,
// their queues written, and one leads.
func (p *standbyPair) waitRecovered(t *testing.T) {
	t.Helper()
	eventually(t, "both ready on the new primary, queues written, one holder leading", func() (bool, string) {
		var got []string
		ok := true
		for i, h := range p.hs {
			code, _ := getStatus(t, h.base+"/readyz")
			q, hl := p.ms[i].value("probed_store_queue_length"), p.ms[i].value("probed_store_healthy")
			ok = ok && code == http.StatusOK && q == 0 && hl == 1
			got = append(got, fmt.Sprintf("/readyz %d queue %v healthy %v", code, q, hl))
		}
		return ok && p.leaders() == 1, fmt.Sprintf("%s; %v leading", strings.Join(got, ", "), p.leaders())
	})
}

// stop checks that neither holder dropped a result, then stops both.
func (p *standbyPair) stop(t *testing.T) {
	t.Helper()
	for i := range p.hs {
		if v := p.ms[i].value("probed_store_results_dropped_total"); v != 0 {
			t.Errorf("holder %d: %v results dropped", i, v)
		}
	}
	for _, h := range p.hs {
		if err := h.stop(); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
}

// checkNothingLost opens the store at dsn once the holders have stopped:
// probe a has one stored result per target hit since from (none lost),
// and no incident was drafted (an operator's own aside; after names the
// trouble, for the message).
func checkNothingLost(t *testing.T, dsn string, from time.Time, hits int64, after string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: "postgres", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.Results(ctx, "a", from.Add(-time.Hour), time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(rs)) != hits {
		t.Errorf("%d results stored for %d runs: results lost", len(rs), hits)
	}
	all, err := st.ListIncidents(ctx, store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var incs []status.Incident // an operator's own are not drafts
	for _, inc := range all {
		if inc.Origin != status.OriginManual {
			incs = append(incs, inc)
		}
	}
	if len(incs) != 0 {
		t.Errorf("%d incidents %s, want none (no false draft): first %v", len(incs), after, incs[0].Title)
	}
}
