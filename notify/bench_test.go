package notify

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/probed/probed/status"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/mailsink"
	"github.com/probed/probed/store"
)

var benchSubscribers = flag.Int("subscribers", 100_000, "subscribers in BenchmarkFanOut")

// BenchmarkFanOut publishes one incident to -subscribers subscribers (default
// 100,000) and delivers it to a loopback SMTP sink with the default
// notify.concurrency (4) and notify.per_connection (100). It reports the
// time from the start of fan-out to the sink accepting the last message,
// the worker's messages per second, and, measured in the same run, the
// sink's own intake rate for the same message sent by a bare client that
// does nothing else.
//
//	go test -run '^$' -bench FanOut -benchtime 1x ./notify/
func BenchmarkFanOut(b *testing.B) {
	n := *benchSubscribers
	for range b.N {
		b.StopTimer()
		ctx := context.Background()
		sink, err := mailsink.Start(mailsink.Options{Discard: true})
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		cfgPath := filepath.Join(dir, "probes.yaml")
		doc := strings.Replace(fmt.Sprintf(testConfig, sink.Port()), "concurrency: 2\n  per_connection: 10", "concurrency: 4\n  per_connection: 100", 1)
		os.WriteFile(cfgPath, []byte(doc), 0o600)
		cfg, err := config.Load(cfgPath, nil)
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(ctx, store.Options{Path: cfg.Storage.Path})
		if err != nil {
			b.Fatal(err)
		}
		if err := addSubscribers(ctx, st, addrs("s", n), []string{"ocsp"}); err != nil {
			b.Fatal(err)
		}
		links, _ := NewLinksFromStore(ctx, st)
		w, err := NewWorker(WorkerOptions{Store: st, Config: func() *config.Config { return cfg }, Links: links, Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		inc, err := st.CreateDraft(ctx, "alice", status.NewIncident{Title: status.Text{"en": "OCSP responder errors"}, Body: status.Text{"en": "We are investigating OCSP failures.", "ja": "OCSP の障害を調査しています。"},
			Origin: status.OriginManual, Publish: true,
			Components: []status.ComponentImpact{{ID: "ocsp", Status: status.MajorOutage}}})
		if err != nil {
			b.Fatal(err)
		}
		sample := sampleMessage(b, cfg, links, inc)
		raw := rawIntake(b, sink.Addr(), sample, min(n, 20_000), cfg.Notify.Concurrency)
		before := sink.Total()

		b.StartTimer()
		start := time.Now()
		if err := w.Drain(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := sink.Total() - before; got != n {
			b.Fatalf("sink got %d messages, want %d", got, n)
		}
		toLast := sink.LastAccepted().Sub(start)
		b.ReportMetric(toLast.Seconds(), "s_to_last_accepted")
		b.ReportMetric(float64(n)/toLast.Seconds(), "msgs/s")
		b.ReportMetric(raw, "sink_raw_msgs/s")
		b.ReportMetric(float64(len(sample)), "bytes/msg")
		st.Close()
		sink.Close()
	}
}

// sampleMessage renders one of the benchmark's mails, for the raw client.
func sampleMessage(b *testing.B, cfg *config.Config, links *Links, inc *status.Incident) []byte {
	c, err := NewComposer(cfg, links)
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.StoryOf(store.Event{ID: 1, Kind: store.EventIncidentPublished, UpdateID: inc.Updates[0].ID, IncidentID: inc.ID}, inc)
	if err != nil {
		b.Fatal(err)
	}
	m, err := c.EventMail(s, store.Subscriber{ID: 1, Address: "raw@example.com", Salt: []byte("x")}, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// rawIntake sends count copies of msg over conns connections, each message
// its own transaction as the worker sends them, and returns messages per second.
func rawIntake(b *testing.B, addr string, msg []byte, count, conns int) float64 {
	var wg sync.WaitGroup
	start := time.Now()
	per := count / conns
	errs := make(chan error, conns)
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer cl.Close()
			if err := cl.Hello("bench"); err != nil {
				errs <- err
				return
			}
			for i := range per {
				if err := cl.Mail("noreply@example.test", nil); err != nil {
					errs <- err
					return
				}
				if err := cl.Rcpt(fmt.Sprintf("raw%d-%d@example.com", c, i), nil); err != nil {
					errs <- err
					return
				}
				wc, err := cl.Data()
				if err != nil {
					errs <- err
					return
				}
				wc.Write(msg)
				if err := wc.Close(); err != nil {
					errs <- err
					return
				}
			}
			cl.Quit()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return float64(per*conns) / time.Since(start).Seconds()
}
