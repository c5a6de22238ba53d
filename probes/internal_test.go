package probes

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A run that fails because probed itself is out of file descriptors is
// probed's failure: check probed_internal, counted as result="internal"
// and by reason, kept from the sink (so from the store and the incident
// engine) and from the probe's exported series, which keep the last run
// that reached the target. Once files are free again the probe succeeds.
// The limit is lowered in a child process (this test binary run again),
// never in the test process itself.
func TestSchedulerOwnLimitIsProbedsFailure(t *testing.T) {
	if os.Getenv("PROBED_TEST_OUT_OF_FILES") == "1" {
		outOfFilesChild(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSchedulerOwnLimitIsProbedsFailure$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "PROBED_TEST_OUT_OF_FILES=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func outOfFilesChild(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer target.Close()
	reg := prometheus.NewRegistry()
	log := &resultLog{}
	col := NewCollector()
	s := NewScheduler(SchedulerOptions{Registerer: reg, Sink: log, Collector: col})
	if err := s.Apply(rtConfig(t, "", "  - {name: web, component: web, kind: http, interval: 1m, http: {url: "+target.URL+"}}\n"), Env{}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.RunNow(context.Background(), "web"); err != nil || !res.Success {
		t.Fatalf("first run: %+v, %v", res, err)
	}
	before := exposition(t, reg)

	// Fill the descriptor table under a lowered limit.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	low := lim
	low.Cur = uint64(len(ents) + 16)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skipf("cannot lower RLIMIT_NOFILE: %v", err)
	}
	var filler []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		filler = append(filler, f)
	}
	res, err := s.RunNow(context.Background(), "web")
	for _, f := range filler {
		f.Close()
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !res.Internal || res.Success || len(res.Checks) != 1 || res.Checks[0].Name != "probed_internal" ||
		!strings.Contains(res.Checks[0].Message, "file descriptors ran out") || res.Checks[0].Evidence["reason"] != "file_descriptors" {
		t.Fatalf("out of files: got %+v", res)
	}
	if n := len(log.of("web")); n != 1 {
		t.Errorf("the sink got %d results, want only the first run's", n)
	}
	if got := testutil.ToFloat64(s.runs.WithLabelValues("internal")); got != 1 {
		t.Errorf(`probed_probe_runs_total{result="internal"} = %v`, got)
	}
	if got := testutil.ToFloat64(s.internal.WithLabelValues("file_descriptors")); got != 1 {
		t.Errorf(`probed_probe_internal_failures_total{reason="file_descriptors"} = %v`, got)
	}
	if got := testutil.ToFloat64(s.runs.WithLabelValues("failure")); got != 0 {
		t.Errorf(`probed_probe_runs_total{result="failure"} = %v, want 0`, got)
	}
	after := exposition(t, reg)
	for _, line := range strings.Split(before, "\n") {
		if strings.HasPrefix(line, "probe_success{") && !strings.Contains(after, line) {
			t.Errorf("the probe's series changed: %q is gone", line)
		}
	}
	if res, err := s.RunNow(context.Background(), "web"); err != nil || !res.Success {
		t.Fatalf("with files free again: %+v, %v", res, err)
	}
}

// Every errno of probed's own limits that can refuse a dial is named as
// probed's, the target's and the network's errors are not.
func TestOwnLimitNamesProbedsLimits(t *testing.T) {
	dialErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{dialErr(syscall.EMFILE), InternalFileDescriptors},
		{dialErr(syscall.ENFILE), InternalSystemFileDescriptors},
		{dialErr(syscall.ENOBUFS), InternalSocketMemory},
		{dialErr(syscall.ENOMEM), InternalSocketMemory},
		{dialErr(syscall.EADDRNOTAVAIL), InternalLocalPorts},
		{dialErr(syscall.ECONNREFUSED), ""},
		{dialErr(syscall.EHOSTUNREACH), ""},
		{dialErr(syscall.ETIMEDOUT), ""},
		{context.DeadlineExceeded, ""},
	} {
		if got := ownLimit(tc.err); got != tc.want {
			t.Errorf("ownLimit(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A request probed cannot build from its own configuration (here an HTTP
// method no server was asked anything with, which a hand-made config lets
// through) fails the run as probed's, reason request: the run never
// reached the target.
func TestUnbuildableRequestIsProbedsFailure(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	defer target.Close()
	cfg := rtConfig(t, "", "  - {name: web, component: web, kind: http, http: {url: "+target.URL+"}}\n")
	cfg.Probes[0].HTTP.Method = "NOT A METHOD"
	pr, err := Build(&cfg.Probes[0], Env{})
	if err != nil {
		t.Fatal(err)
	}
	r := NewReport(nil, nil)
	pr.Probe(context.Background(), r)
	in := r.Internal()
	if in == nil || in.Reason != InternalRequest || !strings.Contains(in.Err.Error(), "invalid method") {
		t.Fatalf("internal = %+v, want reason request naming the invalid method; checks %v", in, r.Checks())
	}
	if len(r.Failed()) != 0 || reached.Load() != 0 {
		t.Fatalf("failed checks %v, %d requests at the target; want none", r.Failed(), reached.Load())
	}
}

// A run cancelled by whoever asked for it (RunNow's context, as `probed
// probe` on Ctrl-C) fails because probed stopped it, not because of the
// target: probed_internal, reason canceled, kept from the sink.
func TestCanceledRunIsProbedsFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{})
		stubs := map[string]stub{"web": func(ctx context.Context, r *Report) {
			close(started)
			<-ctx.Done()
			r.Fail("stub_connect", "connect: "+ctx.Err().Error(), nil)
		}}
		s, log, _ := startScheduler(t, SchedulerOptions{}, stubs, "  - {name: web, component: web, kind: stub, interval: 1h, timeout: 10s}\n")
		ctx, cancel := context.WithCancel(context.Background())
		go func() { <-started; cancel() }()
		res, err := s.RunNow(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Internal || len(res.Checks) != 1 || res.Checks[0].Name != "probed_internal" || res.Checks[0].Evidence["reason"] != InternalCanceled ||
			!strings.Contains(res.Checks[0].Message, "probed cancelled the run before it finished (context canceled)") {
			t.Fatalf("cancelled run = %+v", res)
		}
		if n := len(log.of("web")); n != 0 {
			t.Errorf("the sink got %d results, want none", n)
		}
		if got := testutil.ToFloat64(s.internal.WithLabelValues(InternalCanceled)); got != 1 {
			t.Errorf(`probed_probe_internal_failures_total{reason="canceled"} = %v, want 1`, got)
		}
	})
}
