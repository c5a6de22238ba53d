// Command soak runs probed against the hostile-target zoo: every kind
// (http, acme, ocsp, tsa, crl) against every zoo mode (stalled TLS and
// plaintext, 1 byte/s, lying and huge Content-Length, garbage, redirect
// loop, gzip bomb, deep ASN.1 and JSON), each combination twice, every
// second, until at least -runs runs have finished, while / and /metrics
// are fetched every 50 ms. Then the zoo probes are removed by a reload and
// probed's resident memory, open files and goroutines must come back
// within 10% of what they were before the soak: resident memory apart from
// SQLite's page caches (probed_store_sqlite_memory_bytes), which fill up to
// their bound as the soak's results grow the database, SQLite staying
// within that bound (both figures are printed).
//
//	go run ./bench/soak                 # 10,000 runs, about two minutes
//	go run ./bench/soak -runs 1000      # a quick look
//
// It exits 1 when a figure misses its aim (resources not back within 10%,
// a p99 of 50 ms or more, a probed_internal run other than starved: a run
// starved of CPU is counted and shown apart, as a loaded host, not a miss).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.IntVar(&o.runs, "runs", 10000, "runs of the zoo probes to finish")
	fs.IntVar(&o.copies, "copies", 2, "probes per kind and mode")
	fs.IntVar(&o.warmup, "warmup", 1000, "zoo runs before the start is measured (fills SQLite's page cache and the heap's high-water mark)")
	fs.StringVar(&o.binary, "binary", "", "probed binary to run (default: go build ./cmd/probed)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (config, database, probed's log)")
	fs.DurationVar(&o.settle, "settle", 4*time.Minute, "how long probed's usage may take to come back after the soak")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.out = out
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration((o.runs+o.warmup)/(25*o.copies)+300)*time.Second+2*o.settle)
	defer cancel()
	res, err := soak(ctx, o)
	if err != nil {
		return err
	}
	res.print(out)
	if bad := res.misses(); bad != "" {
		return fmt.Errorf("missed: %s", bad)
	}
	return nil
}
