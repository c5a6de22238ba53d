package store

import (
	"fmt"
	"testing"
)

// probed_store_sqlite_memory_bytes is SQLite's own count: more than
// nothing once a database is open, and growing as the writer's page cache
// fills with what a write touched.
func TestSQLiteMemoryMetric(t *testing.T) {
	s, _, reg := testStore(t, Options{})
	gauge := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "probed_store_sqlite_memory_bytes" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no probed_store_sqlite_memory_bytes")
		return 0
	}
	before := gauge()
	if before <= 0 {
		t.Fatalf("probed_store_sqlite_memory_bytes = %v with a database open", before)
	}
	hs := make([]ProbeHealth, 5000)
	for i := range hs {
		hs[i] = ProbeHealth{Probe: fmt.Sprintf("probe-%05d", i), Location: "l", Component: "c"}
	}
	if err := s.SaveProbeHealths(t.Context(), hs); err != nil {
		t.Fatal(err)
	}
	if after := gauge(); after <= before {
		t.Fatalf("probed_store_sqlite_memory_bytes %v after writing 5,000 rows, %v before: want more", after, before)
	}
}
