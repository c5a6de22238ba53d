package store

// sqlite3_memory_used is SQLite's own count of the heap memory it holds
// (page caches, prepared statements, schemas), from the SQLite that
// github.com/mattn/go-sqlite3 builds into probed.

/*
extern long long sqlite3_memory_used(void);
*/
import "C"

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// sqliteMemory is the memory SQLite holds now, in bytes, for every
// connection of the process.
func sqliteMemory() int64 { return int64(C.sqlite3_memory_used()) }

// registerSQLiteMemory exports sqliteMemory: resident memory outside Go's
// heap that is SQLite's bounded page caches (the writer's cache_size, the
// readers' defaults), not a leak, and bench/soak tells the two apart by it.
func registerSQLiteMemory(f promauto.Factory) {
	f.NewGaugeFunc(prometheus.GaugeOpts{Name: "probed_store_sqlite_memory_bytes",
		Help: "Heap memory SQLite holds (page caches, statements, schemas; sqlite3_memory_used); 0 on PostgreSQL."},
		func() float64 { return float64(sqliteMemory()) })
}
