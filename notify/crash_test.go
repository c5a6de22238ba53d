package notify

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/probed/probed/status"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/store"
)

// crashChildEnv names the config a re-executed test binary runs the
// delivery worker on, as the daemon would, until it is killed.
const crashChildEnv = "PROBED_NOTIFY_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild runs the worker until SIGTERM (then prints how many in-doubt
// deliveries it sent again) or until it is SIGKILLed.
func crashChild(path string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(path, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	links, err := NewLinksFromStore(ctx, st)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w, err := NewWorker(WorkerOptions{Store: st, Config: func() *config.Config { return cfg }, Links: links, Logger: logger, Registerer: prometheus.NewRegistry()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("started", w.Lease())
	w.Run(ctx)
	fmt.Println("redelivered", int(testutil.ToFloat64(w.redelivered)))
	return 0
}

type child struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

func startChild(t *testing.T, cfgPath string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$"), done: make(chan error, 1)}
	c.cmd.Env = append(os.Environ(), crashChildEnv+"="+cfgPath)
	c.cmd.Stderr = &c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
		}
		c.done <- c.cmd.Wait()
	}()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("child stderr:\n%s", c.stderr.String())
		}
	})
	return c
}

func (c *child) wait(t *testing.T) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		t.Fatal("worker process did not exit within a minute")
	}
}

// TestCrashMidFanOutLosesNothing kills the delivery worker with SIGKILL
// part-way through a fan-out to thousands of subscribers, restarts it, and
// checks that every subscriber got the mail, with duplicates no more than
// the deliveries in doubt at the kill (claimed, outcome not recorded), and
// each one counted by the restarted worker.
func TestCrashMidFanOutLosesNothing(t *testing.T) {
	const subscribers = 4000
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sink, err := mailsink.Start(mailsink.Options{Discard: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	doc := fmt.Sprintf(testConfig, sink.Port()) + "\n"
	doc = strings.Replace(doc, "concurrency: 2\n  per_connection: 10", "concurrency: 4\n  per_connection: 50", 1)
	if err := os.WriteFile(cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path})
	if err != nil {
		t.Fatal(err)
	}
	if err := addSubscribers(ctx, st, addrs("s", subscribers), []string{"ocsp"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "OCSP down"}, Body: status.Text{"en": "Investigating."}, Origin: status.OriginManual, Publish: true,
		Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	first := startChild(t, cfgPath)
	if err := sink.Wait(ctx, func(n int) bool { return n >= subscribers/4 }); err != nil {
		t.Fatal(err)
	}
	first.cmd.Process.Signal(syscall.SIGKILL)
	first.wait(t)
	atKill := sink.Total()

	st, err = store.Open(ctx, store.Options{Path: cfg.Storage.Path})
	if err != nil {
		t.Fatal(err)
	}
	inDoubt, err := st.InDoubtDeliveries(ctx, "none")
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := st.DeliveryCounts(ctx, 0)
	st.Close()
	t.Logf("killed after %d mails: outbox %v, %d in doubt", atKill, counts, inDoubt)
	if atKill >= subscribers || counts["pending"] == 0 {
		t.Fatalf("the kill came too late to test anything: %d of %d sent, outbox %v", atKill, subscribers, counts)
	}
	// In doubt: begun by the dead run and not recorded. At most the one
	// each of its 4 mail senders was sending (it claims 50 at a time; the
	// ones claimed and not begun are not in doubt).
	if inDoubt > 4 {
		t.Errorf("%d deliveries in doubt, more than one per sender (4)", inDoubt)
	}

	second := startChild(t, cfgPath)
	if err := sink.WaitFor(ctx, func(_, recipients int) bool { return recipients == subscribers }); err != nil {
		t.Fatal(err)
	}
	// Let the restarted worker finish recording, then stop it politely.
	st, err = store.Open(ctx, store.Options{Path: cfg.Storage.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	second.cmd.Process.Signal(syscall.SIGTERM)
	second.wait(t)
	second.mu.Lock()
	out := second.out.String()
	second.mu.Unlock()
	var redelivered int
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "redelivered "); ok {
			redelivered, _ = strconv.Atoi(v)
		}
	}
	counts, _ = st.DeliveryCounts(ctx, 0)
	got := sink.Received()
	dups := 0
	for i := range subscribers {
		n := got[fmt.Sprintf("s%d@example.com", i)]
		if n == 0 {
			t.Errorf("s%d@example.com got no mail", i)
		}
		dups += n - 1
	}
	t.Logf("after restart: %d mails to %d subscribers, %d duplicates, %d in doubt at the kill, %d sent again as in doubt; outbox %v",
		sink.Total(), len(got), dups, inDoubt, redelivered, counts)
	if counts["sent"] != subscribers || counts["pending"] != 0 {
		t.Errorf("outbox %v, want all %d sent and none pending", counts, subscribers)
	}
	if dups > inDoubt {
		t.Errorf("%d duplicates, more than the %d deliveries in doubt at the kill", dups, inDoubt)
	}
	if redelivered != inDoubt {
		t.Errorf("the restarted worker counted %d in-doubt deliveries sent again, want %d", redelivered, inDoubt)
	}
	if dups > redelivered {
		t.Errorf("%d duplicates but only %d counted", dups, redelivered)
	}
}
