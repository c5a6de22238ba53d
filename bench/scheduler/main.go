// Command scheduler benchmarks probed's scheduler end to end: it builds the
// probed binary, starts a loopback HTTP target, runs `probed run` with
// thousands of http probes on one interval (a fresh connection per run), lets
// one interval pass so every probe is in its steady state, then measures for
// a window: CPU-seconds per 1,000 runs (probed's process_cpu_seconds_total),
// schedule lag p50/p99 (probed_schedule_lag_seconds), and resident memory
// (process_resident_memory_bytes and the peak VmHWM). Prometheus-like
// scrapes of /metrics every 15 s are part of the measured load.
//
//	go run ./bench/scheduler                       # 10,000 probes, 60s interval, ~3 minutes
//	go run ./bench/scheduler -probes 1000 -warmup 10s -measure 20s   # a quick look
//
// It stops by itself: the whole run is bounded by -warmup + -measure + three
// minutes (starting 10,000 probes and scraping them on a loaded machine is slow), after which probed is killed.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	probes   int
	comps    int
	interval time.Duration
	timeout  time.Duration
	warmup   time.Duration
	measure  time.Duration
	scrape   time.Duration
	binary   string
	keep     bool
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("scheduler", flag.ContinueOnError)
	fs.IntVar(&o.probes, "probes", 10000, "number of http probes")
	fs.IntVar(&o.comps, "components", 100, "components the probes are spread over (leaves of one group)")
	fs.DurationVar(&o.interval, "interval", time.Minute, "every probe's interval")
	fs.DurationVar(&o.timeout, "timeout", 0, "every probe's timeout (default: 10s, or half the interval when shorter)")
	fs.DurationVar(&o.warmup, "warmup", 0, "time before measuring (default: one interval, so every probe has run)")
	fs.DurationVar(&o.measure, "measure", 2*time.Minute, "measured window")
	fs.DurationVar(&o.scrape, "scrape", 15*time.Second, "scrape /metrics this often during the window, as Prometheus would (0: only at both ends)")
	fs.StringVar(&o.binary, "binary", "", "probed binary to run (default: go build ./cmd/probed)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, database, probed's log)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.timeout == 0 {
		o.timeout = min(10*time.Second, o.interval/2)
	}
	if o.warmup == 0 {
		o.warmup = o.interval + 5*time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.warmup+o.measure+3*time.Minute)
	defer cancel()

	dir, err := os.MkdirTemp("", "probed-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(out, "working directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.binary
	if bin == "" {
		bin = filepath.Join(dir, "probed")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/probed")
		build.Dir, err = moduleRoot(ctx)
		if err != nil {
			return err
		}
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build probed: %w", err)
		}
	}

	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen target: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})}
	go srv.Serve(target)
	defer srv.Close()

	cfgPath := filepath.Join(dir, "probes.yaml")
	if err := os.WriteFile(cfgPath, config(o, target.Addr().String(), dir), 0o644); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "probed.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "run", "-config", cfgPath)
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start probed: %w", err)
	}
	// exited delivers Wait's error to every receiver: it is closed after
	// waitErr is set.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); pw.Close(); close(exited) }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	}()
	addrCh := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`msg="probed started" listen=(\S+)`)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrCh <- m[1]:
				default:
				}
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrCh:
	case <-exited:
		return fmt.Errorf("probed exited before serving: %v (log in %s)", waitErr, logFile.Name())
	case <-time.After(time.Minute):
		return errors.New("probed did not start within a minute")
	}
	metricsURL := "http://" + addr + "/metrics"
	started := time.Now()
	fmt.Fprintf(out, "probed pid %d serving %s; %d http probes on %d components every %s against %s; warm-up %s, then measuring %s\n",
		cmd.Process.Pid, addr, o.probes, o.comps, o.interval, target.Addr(), o.warmup, o.measure)

	if err := waitUntil(ctx, started.Add(o.warmup), exited); err != nil {
		return err
	}
	m0, err := scrape(ctx, metricsURL)
	if err != nil {
		return err
	}
	t0 := time.Now()
	end := t0.Add(o.measure)
	scrapes := 1
	var maxRSS float64
	for {
		next := end
		if o.scrape > 0 && time.Now().Add(o.scrape).Before(end) {
			next = time.Now().Add(o.scrape)
		}
		if err := waitUntil(ctx, next, exited); err != nil {
			return err
		}
		m, err := scrape(ctx, metricsURL)
		if err != nil {
			return err
		}
		scrapes++
		maxRSS = max(maxRSS, m.gauge("process_resident_memory_bytes"))
		if !time.Now().Before(end) {
			report(out, o, m0, m, time.Since(t0), scrapes, maxRSS, cmd.Process.Pid)
			break
		}
	}

	// Shut down as an operator would, and check it goes cleanly.
	stopAt := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			return fmt.Errorf("probed exit after SIGTERM: %v (log in %s)", waitErr, logFile.Name())
		}
		fmt.Fprintf(out, "shutdown on SIGTERM: exit 0 after %s\n", time.Since(stopAt).Round(time.Millisecond))
	case <-time.After(o.timeout + 30*time.Second):
		return errors.New("probed did not exit within its timeout after SIGTERM")
	}
	return nil
}

// config writes n http probes against the target, all on one interval.
func config(o options, target, dir string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "server: {listen: 127.0.0.1:0}\nstorage: {path: %q}\nlocation: bench\n", filepath.Join(dir, "probed.db"))
	b.WriteString("components:\n  - id: bench\n    name: Bench\n    components:\n")
	for c := range o.comps {
		fmt.Fprintf(&b, "      - {id: bench-%03d, name: Bench %d}\n", c, c)
	}
	b.WriteString("probes:\n")
	for i := range o.probes {
		fmt.Fprintf(&b, "  - {name: bench-%05d, component: bench-%03d, kind: http, interval: %s, timeout: %s, http: {url: \"http://%s/p/%d\"}}\n",
			i, i%o.comps, model.Duration(o.interval), model.Duration(o.timeout), target, i)
	}
	return []byte(b.String())
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the benchmark from inside the probed module")
	}
	return filepath.Dir(mod), nil
}

func waitUntil(ctx context.Context, t time.Time, exited <-chan struct{}) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-exited:
		return errors.New("probed exited during the benchmark")
	case <-ctx.Done():
		return ctx.Err()
	}
}

type families map[string]*dto.MetricFamily

func scrape(ctx context.Context, url string) (families, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: status %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape: parse: %w", err)
	}
	return mf, nil
}

func (f families) gauge(name string) float64 {
	mf := f[name]
	if mf == nil || len(mf.Metric) == 0 {
		return math.NaN()
	}
	m := mf.Metric[0]
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

func (f families) counter(name, label, value string) float64 {
	mf := f[name]
	if mf == nil {
		return 0
	}
	for _, m := range mf.Metric {
		for _, l := range m.Label {
			if l.GetName() == label && l.GetValue() == value {
				return m.Counter.GetValue()
			}
		}
	}
	return 0
}

// bucket is a cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

func (f families) histogram(name string) (buckets []bucket, count float64) {
	mf := f[name]
	if mf == nil || len(mf.Metric) == 0 || mf.Metric[0].Histogram == nil {
		return nil, 0
	}
	h := mf.Metric[0].Histogram
	for _, b := range h.Bucket {
		buckets = append(buckets, bucket{b.GetUpperBound(), float64(b.GetCumulativeCount())})
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].le < buckets[j].le })
	return buckets, float64(h.GetSampleCount())
}

// quantile estimates a quantile from the difference of two cumulative
// histograms, interpolating linearly inside a bucket as histogram_quantile
// does; it also returns the bucket's bounds, the honest resolution.
func quantile(q float64, b0, b1 []bucket, n0, n1 float64) (est, lo, hi float64) {
	total := n1 - n0
	if total <= 0 {
		return math.NaN(), 0, 0
	}
	rank := q * total
	prevLE, prevCount := 0.0, 0.0
	for i := range b1 {
		c := b1[i].count
		if i < len(b0) {
			c -= b0[i].count
		}
		if c >= rank {
			if c == prevCount {
				return b1[i].le, prevLE, b1[i].le
			}
			return prevLE + (b1[i].le-prevLE)*(rank-prevCount)/(c-prevCount), prevLE, b1[i].le
		}
		prevLE, prevCount = b1[i].le, c
	}
	return math.Inf(1), prevLE, math.Inf(1)
}

func report(out io.Writer, o options, m0, m1 families, window time.Duration, scrapes int, maxRSS float64, pid int) {
	runs := func(m families, result string) float64 { return m.counter("probed_probe_runs_total", "result", result) }
	success := runs(m1, "success") - runs(m0, "success")
	failure := runs(m1, "failure") - runs(m0, "failure")
	skipped := runs(m1, "skipped") - runs(m0, "skipped")
	total := success + failure
	cpu := m1.gauge("process_cpu_seconds_total") - m0.gauge("process_cpu_seconds_total")
	b0, n0 := m0.histogram("probed_schedule_lag_seconds")
	b1, n1 := m1.histogram("probed_schedule_lag_seconds")
	p50, lo50, hi50 := quantile(0.50, b0, b1, n0, n1)
	p99, lo99, hi99 := quantile(0.99, b0, b1, n0, n1)
	hwm := peakRSS(pid)
	expected := float64(o.probes) * window.Seconds() / o.interval.Seconds()

	fmt.Fprintf(out, "window            %s (%d scrapes of /metrics, %d series in the last)\n", window.Round(time.Millisecond), scrapes, seriesCount(m1))
	fmt.Fprintf(out, "runs              %.0f (%.1f/s; expected %.0f): %.0f success, %.0f failure, %.0f skipped\n",
		total, total/window.Seconds(), expected, success, failure, skipped)
	fmt.Fprintf(out, "CPU               %.2f s over the window = %.3f CPU-seconds per 1,000 runs (%.1f%% of one core)\n",
		cpu, cpu/total*1000, cpu/window.Seconds()*100)
	fmt.Fprintf(out, "schedule lag      p50 %s (bucket %s-%s), p99 %s (bucket %s-%s), %0.f observations\n",
		secs(p50), secs(lo50), secs(hi50), secs(p99), secs(lo99), secs(hi99), n1-n0)
	fmt.Fprintf(out, "resident memory   %.0f MB now, %.0f MB at most while scraped, %s peak (VmHWM)\n",
		m1.gauge("process_resident_memory_bytes")/1e6, maxRSS/1e6, hwm)
	fmt.Fprintf(out, "Go heap           %.0f MB in use (go_memstats_heap_inuse_bytes)\n", m1.gauge("go_memstats_heap_inuse_bytes")/1e6)
	fmt.Fprintf(out, "goroutines        %.0f\n", m1.gauge("go_goroutines"))
}

func seriesCount(m families) int {
	n := 0
	for _, mf := range m {
		n += len(mf.Metric)
	}
	return n
}

func secs(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	if math.IsNaN(v) {
		return "n/a"
	}
	return time.Duration(v * float64(time.Second)).Round(10 * time.Microsecond).String()
}

// peakRSS reads VmHWM, the process's peak resident set, from /proc.
func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(v)
			if len(f) == 2 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return fmt.Sprintf("%.0f MB", kb*1024/1e6)
			}
		}
	}
	return "n/a"
}
