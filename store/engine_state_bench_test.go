package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkSaveProbeHealth measures the leader's writes of probe health
// (after nearly every result) among 10,000 probes, in batches of 50: on
// PostgreSQL each row is stamped for the followers (migration 0077), and
// the figure, per CPU-second of this process and the server together,
// says what that costs. Run with
//
//	go test ./store/ -run '^$' -bench SaveProbeHealth -benchtime 400x
func BenchmarkSaveProbeHealth(b *testing.B) {
	eachBenchBackend(b, func(b *testing.B, be benchBackend) {
		ctx := context.Background()
		s, err := Open(ctx, be.opts(b, Options{}, ""))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		at := time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC)
		hs := make([]ProbeHealth, 10000)
		for i := range hs {
			hs[i] = ProbeHealth{Probe: fmt.Sprintf("probe-%05d", i), Location: "tokyo-1", Component: fmt.Sprintf("comp-%03d", i%200), OKs: 3, Since: at, Last: at}
		}
		if err := s.SaveProbeHealths(ctx, hs); err != nil {
			b.Fatal(err)
		}
		const batch = 50
		b.ResetTimer()
		self, server := be.cpu(b)
		for i := range b.N {
			part := hs[(i*batch)%len(hs):][:batch]
			for j := range part {
				part[j].Last = at.Add(time.Duration(i+1) * time.Second)
			}
			if err := s.SaveProbeHealths(ctx, part); err != nil {
				b.Fatal(err)
			}
		}
		self1, server1 := be.cpu(b)
		b.ReportMetric(float64(b.N*batch)/(self1-self+server1-server).Seconds(), "rows/cpu-s")
	})
}
