package probes

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/pkisim"
)

// CPU per TSA run. Rerun with:
//
//	go test -run '^$' -bench 'TSA' -benchmem ./probes/
//
// BenchmarkTSACheckResponse is the probe's own work on one reply (parse,
// CMS signature, ESSCertID, EKU, chain); the other two are whole runs over
// loopback, reporting the CPU this process spent per run (cpu-ms/op; for
// openssl the forked signer's CPU is not counted, for pkisim the in-process
// signer's is).

func BenchmarkTSACheckResponse(b *testing.B) {
	sim, srv, err := pkisim.NewServer(pkisim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	dir := b.TempDir()
	if err := sim.WriteFiles(dir); err != nil {
		b.Fatal(err)
	}
	pr := taBuild(b, dir, "tsa", fmt.Sprintf("{url: %s, roots: tsa-root.pem, policy: %s}", sim.TSAURL(), pkisim.TSAPolicy), Env{Clock: clock.Real{}})
	cfg := pr.(*tsaProber).cfg
	req, err := newTSARequest(cfg.HashFunc, cfg.PolicyOID, true)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.Post(sim.TSAURL(), tsaQueryType, bytes.NewReader(req.der))
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sent := time.Now()
	b.ReportAllocs()
	start := cpuTime(b)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		r := NewReport(clock.Real{}, nil)
		checkTSAResponse(r, cfg, req, body, sent.Add(-time.Second), sent.Add(time.Second))
		if !r.Success() {
			b.Fatalf("reply failed:%s", taDescribe(r))
		}
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/1000/float64(n), "cpu-ms/op")
}

func BenchmarkTSAProbeOpenSSL(b *testing.B) {
	ts := newOpenSSLTSA(b, opensslTSAOpts{accuracy: "secs:1"})
	pr := taBuild(b, ts.dir, "tsa", fmt.Sprintf("{url: %s, roots: ca.pem}", ts.url), Env{Clock: clock.Real{}})
	benchRuns(b, pr)
}

func BenchmarkTSAProbePkisim(b *testing.B) {
	sim, srv, err := pkisim.NewServer(pkisim.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	dir := b.TempDir()
	if err := sim.WriteFiles(dir); err != nil {
		b.Fatal(err)
	}
	pr := taBuild(b, dir, "tsa", fmt.Sprintf("{url: %s, roots: tsa-root.pem, policy: %s}", sim.TSAURL(), pkisim.TSAPolicy), Env{Clock: clock.Real{}})
	benchRuns(b, pr)
}

// benchRuns runs the prober b.N times and reports this process's CPU per run.
func benchRuns(b *testing.B, pr Prober) {
	b.ReportAllocs()
	start := cpuTime(b)
	n := 0
	b.ResetTimer()
	for b.Loop() {
		r := taRun(b, pr, clock.Real{})
		if !r.Success() {
			b.Fatalf("run failed:%s", taDescribe(r))
		}
		n++
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/1000/float64(n), "cpu-ms/op")
}

// cpuTime is the user+system CPU this process has used (children excluded).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
