package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/probed/probed/internal/zoo"
)

// options of one soak; the test runs a short one.
type options struct {
	runs   int // zoo runs to finish
	warmup int // zoo runs before the start is measured
	copies int // probes per kind and mode
	binary string
	keep   bool
	settle time.Duration // how long usage may take to come back
	out    io.Writer     // progress; nil: none
}

// usage is what probed holds at one moment.
type usage struct {
	rss        float64 // bytes, VmRSS
	fds        int     // entries of /proc/PID/fd
	goroutines float64 // go_goroutines
	heap       float64 // go_memstats_heap_inuse_bytes: the Go part of RSS
	// goHeld is what the Go runtime holds from the system and has not
	// given back (go_memstats_sys_bytes - go_memstats_heap_released_bytes):
	// RSS beyond it is memory outside Go (SQLite through cgo, the C
	// allocator, the program's text).
	goHeld float64
	// sqlite is what SQLite holds (probed_store_sqlite_memory_bytes): its
	// page caches, which fill up to their bound as the database grows.
	sqlite float64
}

func (u usage) String() string {
	return fmt.Sprintf("RSS %.1f MB (%.1f MB without SQLite's %.1f MB; Go heap in use %.1f MB, Go runtime holds %.1f MB), %d open files, %.0f goroutines",
		u.rss/1e6, (u.rss-u.sqlite)/1e6, u.sqlite/1e6, u.heap/1e6, u.goHeld/1e6, u.fds, u.goroutines)
}

// sqliteBound is the most SQLite may hold: the writer's 32 MiB page cache,
// SQLite's default 2 MiB for each of the 4 readers, and 8 MiB for
// statements and schemas. Within it, SQLite's growth is its caches filling
// with a growing database, not a leak.
const sqliteBound = (32 + 4*2 + 8) << 20

// result of one soak.
type result struct {
	probes                   int
	runs, failures, internal float64 // internal: other than starved
	starved                  float64 // probed_internal runs cut while probed had no CPU (a loaded host, not a leak)
	took                     time.Duration
	cold                     usage         // before any zoo run
	start, peak, end         usage         // after the warm-up, during and after the soak
	settled                  time.Duration // from the reload that removed the zoo probes to end
	page, metrics            latencies
	openFiles                []string // what probed holds open, when not back
}

// latencies of one URL fetched during the soak.
type latencies struct {
	name   string
	d      []time.Duration
	errors int
}

func (l *latencies) quantile(q float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func (r result) print(out io.Writer) {
	fmt.Fprintf(out, "zoo probes        %d (5 kinds x %d modes x copies), every 1s, timeout 900ms\n", r.probes, len(zoo.Modes()))
	fmt.Fprintf(out, "runs              %.0f in %s: %.0f failed as they should, %.0f probed_internal, %.0f starved of CPU\n", r.runs, r.took.Round(time.Second), r.failures, r.internal, r.starved)
	fmt.Fprintf(out, "cold start        %s\n", r.cold)
	fmt.Fprintf(out, "after warm-up     %s (the start the end is held to)\n", r.start)
	fmt.Fprintf(out, "peak              %s\n", r.peak)
	fmt.Fprintf(out, "after             %s (%s after the zoo probes were removed)\n", r.end, r.settled.Round(time.Second))
	for _, l := range []latencies{r.page, r.metrics} {
		fmt.Fprintf(out, "%-17s %d requests, p50 %s, p99 %s, max %s, %d errors\n", l.name, len(l.d),
			l.quantile(.5).Round(10*time.Microsecond), l.quantile(.99).Round(10*time.Microsecond), l.quantile(1).Round(10*time.Microsecond), l.errors)
	}
	if len(r.openFiles) > 0 {
		fmt.Fprintf(out, "open files after   %s\n", strings.Join(r.openFiles, " "))
	}
}

// within10 says whether now is within 10% of before (and at most 2 above,
// for the smallest counts).
func within10(now, before float64) bool { return now <= max(before*1.1, before+2) }

// back says whether probed's usage came back: resident memory apart from
// SQLite's page caches (which are bounded, and fill as the soak's results
// grow the database: no leak), with SQLite itself within its bound; open
// files and goroutines.
func (r result) back() bool {
	return within10(r.end.rss-r.end.sqlite, r.start.rss-r.start.sqlite) && r.end.sqlite <= sqliteBound &&
		within10(float64(r.end.fds), float64(r.start.fds)) && within10(r.end.goroutines, r.start.goroutines)
}

// misses lists the aims the soak missed.
func (r result) misses() string {
	var bad []string
	if !r.back() {
		bad = append(bad, fmt.Sprintf("not back within 10%% of the start (%s, start %s)", r.end, r.start))
	}
	if r.internal > 0 {
		bad = append(bad, fmt.Sprintf("%.0f probed_internal runs", r.internal))
	}
	for _, l := range []latencies{r.page, r.metrics} {
		if p := l.quantile(.99); p >= 50*time.Millisecond {
			bad = append(bad, fmt.Sprintf("%s p99 %s", l.name, p))
		}
		if l.errors > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d errors", l.name, l.errors))
		}
	}
	return strings.Join(bad, "; ")
}

// soak runs one soak: probed with a healthy probe, a reload that adds the
// zoo probes, runs until o.runs are done, a reload that removes them, and
// a wait (a minute at most) for probed's usage to come back.
func soak(ctx context.Context, o options) (result, error) {
	logf := func(format string, a ...any) {
		if o.out != nil {
			fmt.Fprintf(o.out, format+"\n", a...)
		}
	}
	dir, err := os.MkdirTemp("", "probed-soak-")
	if err != nil {
		return result{}, err
	}
	if o.keep {
		logf("working directory: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.binary
	if bin == "" {
		if bin, err = build(ctx, dir); err != nil {
			return result{}, err
		}
	}
	z, err := zoo.Start(zoo.Options{TricklePeriod: time.Second})
	if err != nil {
		return result{}, err
	}
	defer z.Close()
	if err := z.WriteFiles(dir); err != nil {
		return result{}, err
	}
	healthy := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status": "ok"}`) })}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	go healthy.Serve(hl)
	defer healthy.Close()

	pub, adm, err := freeAddrs()
	if err != nil {
		return result{}, err
	}
	cfgPath := filepath.Join(dir, "probes.yaml")
	base := fmt.Sprintf("server: {listen: %q, admin_listen: %q}\nstorage: {path: probed.db}\nlocation: soak\ncomponents:\n  - {id: healthy, name: Healthy}\n  - {id: zoo, name: Zoo}\nprobes:\n"+
		"  - {name: healthy, component: healthy, kind: http, interval: 1s, timeout: 900ms, http: {url: \"http://%s/\"}}\n", pub, adm, hl.Addr())
	var zooProbes strings.Builder
	res := result{page: latencies{name: "GET /"}, metrics: latencies{name: "GET /metrics"}}
	for _, kind := range zoo.Kinds() {
		for _, m := range zoo.Modes() {
			for c := range o.copies {
				fmt.Fprintf(&zooProbes, "  - {name: %s-%s-%d, component: zoo, kind: %s, interval: 1s, timeout: 900ms, %s: %s}\n", kind, m, c, kind, kind, z.Section(kind, m))
				res.probes++
			}
		}
	}
	if err := os.WriteFile(cfgPath, []byte(base), 0o644); err != nil {
		return result{}, err
	}
	// An operator token, for the garbage collection (pprof's heap?gc=1)
	// before each measure: the start, the end and the cold figures are
	// all taken right after a collection, not wherever the heap's cycle was.
	tok, err := exec.CommandContext(ctx, bin, "token", "create", "-config", cfgPath, "-name", "soak").Output()
	if err != nil {
		return result{}, fmt.Errorf("probed token create: %w", err)
	}
	p, err := start(bin, cfgPath, filepath.Join(dir, "probed.log"))
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	if _, err := p.waitLog(ctx, "probed started"); err != nil {
		return result{}, err
	}
	metricsURL := "http://" + adm + "/metrics"
	p.gcURL, p.token = "http://"+adm+"/debug/pprof/heap?gc=1", strings.TrimSpace(string(tok))
	// internal leaves out starved runs, counted in starved: a host
	// short of CPU, which probed reports as its own, not a fault of its.
	var starved float64
	runs := func() (total, failed, internal float64, err error) {
		f, err := scrape(ctx, metricsURL)
		if err != nil {
			return 0, 0, 0, err
		}
		starved = f["starved"]
		return f["success"] + f["failure"] + f["internal"], f["failure"], f["internal"] - f["starved"], nil
	}
	// Cold: the healthy probe has run, its first costs are paid.
	if err := poll(ctx, time.Minute, func() (bool, error) { n, _, _, err := runs(); return n >= 3, err }); err != nil {
		return result{}, fmt.Errorf("waiting for the healthy probe: %w", err)
	}
	if res.cold, err = p.usage(ctx, metricsURL, true); err != nil {
		return result{}, err
	}
	logf("cold: %s", res.cold)
	// Warm-up: a short soak fills what is meant to fill once (SQLite's
	// page cache, up to 32 MiB; the heap's high-water mark), so that the
	// start the end is held to is a warm one and growth means a leak.
	if o.warmup > 0 {
		w0, _, _, err := runs()
		if err != nil {
			return result{}, err
		}
		if err := p.reload(ctx, cfgPath, base+zooProbes.String()); err != nil {
			return result{}, err
		}
		if err := poll(ctx, 0, func() (bool, error) { n, _, _, err := runs(); return n-w0 >= float64(o.warmup), err }); err != nil {
			return result{}, err
		}
		if err := p.reload(ctx, cfgPath, base); err != nil {
			return result{}, err
		}
		// Settled: the warm-up's last runs are over when the open files stop moving.
		prev := -1
		if err := poll(ctx, time.Minute, func() (bool, error) {
			u, err := p.usage(ctx, metricsURL, false)
			settled := err == nil && u.fds == prev && u.goroutines <= res.cold.goroutines+2
			prev = u.fds
			return settled, err
		}); err != nil && !errors.Is(err, errPollTimeout) {
			return result{}, err
		}
	}
	if res.start, err = p.usage(ctx, metricsURL, true); err != nil {
		return result{}, err
	}
	logf("start: %s", res.start)

	// The soak, with / and /metrics fetched throughout.
	stopFetch := make(chan struct{})
	var fetchers sync.WaitGroup
	for _, l := range []*latencies{&res.page, &res.metrics} {
		url := "http://" + pub + "/"
		if l == &res.metrics {
			url = metricsURL
		}
		fetchers.Go(func() { fetchLoop(url, l, stopFetch) })
	}
	n0, f0, i0, err := runs()
	s0 := starved
	if err != nil {
		return result{}, err
	}
	began := time.Now()
	if err := p.reload(ctx, cfgPath, base+zooProbes.String()); err != nil {
		return result{}, err
	}
	err = poll(ctx, 0, func() (bool, error) {
		n, _, _, err := runs()
		if err != nil {
			return false, err
		}
		u, err := p.usage(ctx, metricsURL, false)
		if err != nil {
			return false, err
		}
		res.peak = usage{max(res.peak.rss, u.rss), max(res.peak.fds, u.fds), max(res.peak.goroutines, u.goroutines), max(res.peak.heap, u.heap), max(res.peak.goHeld, u.goHeld), max(res.peak.sqlite, u.sqlite)}
		return n-n0 >= float64(o.runs), nil
	})
	if err != nil {
		return result{}, err
	}
	n1, f1, i1, err := runs()
	if err != nil {
		return result{}, err
	}
	res.runs, res.failures, res.internal, res.took = n1-n0, f1-f0, i1-i0, time.Since(began)
	res.starved = starved - s0
	logf("%.0f runs in %s; removing the zoo probes", res.runs, res.took.Round(time.Second))

	// After: the zoo probes removed, their last runs finished, the
	// fetchers' connections closed, usage back. The Go runtime gives freed
	// memory back to the system over minutes (a forced GC every two,
	// then the scavenger), so the wait is long.
	close(stopFetch)
	fetchers.Wait()
	removed := time.Now()
	if err := p.reload(ctx, cfgPath, base); err != nil {
		return result{}, err
	}
	err = poll(ctx, o.settle, func() (bool, error) {
		u, err := p.usage(ctx, metricsURL, true)
		res.end = u
		return err == nil && res.back(), err
	})
	res.settled = time.Since(removed)
	if !res.back() {
		res.openFiles = p.openFiles()
	}
	if err != nil && !errors.Is(err, errPollTimeout) {
		return res, err
	}
	return res, p.term()
}

// fetchLoop GETs url every 50 ms on one keep-alive connection, as a
// browser or Prometheus would, and records each latency.
func fetchLoop(url string, l *latencies, stop <-chan struct{}) {
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		began := time.Now()
		resp, err := c.Get(url)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		if err != nil {
			l.errors++
			continue
		}
		l.d = append(l.d, time.Since(began))
	}
}

var errPollTimeout = errors.New("timed out")

// poll checks cond every 200 ms until it holds, fails, or limit passes
// (0: until ctx ends).
func poll(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil && ctx.Err() == nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return errPollTimeout
		case <-t.C:
		}
	}
}

// proc is a running probed.
type proc struct {
	gcURL, token string // usage collects garbage first (pprof, behind the token)

	cmd    *exec.Cmd
	exited chan struct{}
	err    error

	mu      sync.Mutex
	log     []string
	changed chan struct{}
}

func start(bin, cfgPath, logPath string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: exec.Command(bin, "run", "-config", cfgPath), exited: make(chan struct{}), changed: make(chan struct{})}
	pr, pw := io.Pipe()
	p.cmd.Stderr, p.cmd.Stdout = pw, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start probed: %w", err)
	}
	go func() { p.err = p.cmd.Wait(); pw.Close(); logFile.Close(); close(p.exited) }()
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(logFile, sc.Text())
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	return p, nil
}

// waitLog waits for a log line containing s, after those already seen.
func (p *proc) waitLog(ctx context.Context, s string) (string, error) {
	return p.waitLogFrom(ctx, 0, s)
}

func (p *proc) waitLogFrom(ctx context.Context, from int, s string) (string, error) {
	for {
		p.mu.Lock()
		for _, l := range p.log[min(from, len(p.log)):] {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return l, nil
			}
		}
		from = len(p.log)
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-p.exited:
			return "", fmt.Errorf("probed exited (%v) waiting for %q", p.err, s)
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %q: %w", s, ctx.Err())
		}
	}
}

// reload writes the config and sends SIGHUP, and waits for probed to say
// it applied it.
func (p *proc) reload(ctx context.Context, path, body string) error {
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return err
	}
	p.mu.Lock()
	from := len(p.log)
	p.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	_, err := p.waitLogFrom(ctx, from, "config reloaded")
	return err
}

var vmRSS = regexp.MustCompile(`(?m)^VmRSS:\s+(\d+) kB`)

// usage reads probed's resident memory and open files from /proc and its
// goroutines from /metrics, after a garbage collection when gc is set.
func (p *proc) usage(ctx context.Context, metricsURL string, gc bool) (usage, error) {
	if gc {
		if err := p.collect(ctx); err != nil {
			return usage{}, err
		}
	}
	pid := p.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return usage{}, err
	}
	m := vmRSS.FindSubmatch(status)
	if m == nil {
		return usage{}, errors.New("no VmRSS in /proc status")
	}
	kb, _ := strconv.ParseFloat(string(m[1]), 64)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return usage{}, err
	}
	f, err := scrape(ctx, metricsURL)
	if err != nil {
		return usage{}, err
	}
	return usage{rss: kb * 1024, fds: len(fds), goroutines: f["go_goroutines"], heap: f["go_memstats_heap_inuse_bytes"],
		goHeld: f["go_memstats_sys_bytes"] - f["go_memstats_heap_released_bytes"], sqlite: f["probed_store_sqlite_memory_bytes"]}, nil
}

// collect makes probed run a garbage collection (GET
// /debug/pprof/heap?gc=1 on the operator listener, with the token).
func (p *proc) collect(ctx context.Context) error {
	if p.gcURL == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.gcURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("collect garbage: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("collect garbage: %s", resp.Status)
	}
	return nil
}

// openFiles lists what probed's descriptors point at.
func (p *proc) openFiles() []string {
	dir := fmt.Sprintf("/proc/%d/fd", p.cmd.Process.Pid)
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out = append(out, target)
	}
	return out
}

func (p *proc) stop() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// term stops probed as an operator would and wants exit 0.
func (p *proc) term() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(30 * time.Second):
		return errors.New("probed did not exit within 30s of SIGTERM")
	}
}

// scrape returns the few values the soak reads: go_goroutines and
// probed_probe_runs_total by result.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	out := map[string]float64{}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes", "go_memstats_heap_released_bytes", "probed_store_sqlite_memory_bytes"} {
		if f := fams[name]; f != nil && len(f.Metric) > 0 {
			out[name] = f.Metric[0].GetGauge().GetValue()
		}
	}
	if f := fams["probed_probe_internal_failures_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "reason" && l.GetValue() == "starved" {
					out["starved"] = m.GetCounter().GetValue()
				}
			}
		}
	}
	if f := fams["probed_probe_runs_total"]; f != nil {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "result" {
					out[l.GetValue()] = m.GetCounter().GetValue()
				}
			}
		}
	}
	return out, nil
}

func freeAddrs() (string, string, error) {
	var out []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", err
		}
		out = append(out, ln.Addr().String())
		defer ln.Close()
	}
	return out[0], out[1], nil
}

func build(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the soak from inside the probed module")
	}
	bin := filepath.Join(dir, "probed")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/probed")
	cmd.Dir = filepath.Dir(mod)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build probed: %w", err)
	}
	return bin, nil
}
