package store

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// A closed hour of one series' results whose checks all held is kept as one
// packed row instead of ~120 rows: a row costs ~20 bytes of SQLite overhead,
// a packed result 5-6 bytes, which is what keeps a year of 1,000 probes at
// 30 s under a gigabyte. Results with failed checks stay one row each, with
// their messages. Packing is lossless: start to the millisecond, duration to
// the microsecond, success.

const (
	hourMs = int64(3_600_000)
	dayMs  = 24 * hourMs

	packVersion = 1
)

// entry is one result as the rollups and the packed rows see it.
type entry struct {
	at     int64 // start, Unix milliseconds
	durUS  int64 // duration, microseconds
	ok     bool
	failed string // JSON of the failed checks; "" when none (only packable entries)
}

// encodePacked packs the entries of one hour; they must be sorted by at,
// distinct, and inside [hourStart, hourStart+1h).
func encodePacked(hourStart int64, es []entry) []byte {
	b := make([]byte, 1, 1+len(es)*6)
	b[0] = packVersion
	prev := hourStart
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(e.at-prev))
		v := uint64(max(e.durUS, 0)) << 1
		if e.ok {
			v |= 1
		}
		b = binary.AppendUvarint(b, v)
		prev = e.at
	}
	return b
}

// decodePacked unpacks what encodePacked wrote for the hour starting at hourStart.
func decodePacked(hourStart int64, b []byte) ([]entry, error) {
	if len(b) == 0 {
		return nil, errors.New("decode packed results: empty")
	}
	if b[0] != packVersion {
		return nil, fmt.Errorf("decode packed results: unknown version %d", b[0])
	}
	b = b[1:]
	var out []entry
	prev := hourStart
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("decode packed results: truncated start")
		}
		b = b[n:]
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("decode packed results: truncated duration")
		}
		b = b[n:]
		at := prev + int64(d)
		if at >= hourStart+hourMs || (len(out) > 0 && d == 0) {
			return nil, fmt.Errorf("decode packed results: start %d out of order or outside its hour", at)
		}
		out = append(out, entry{at: at, durUS: int64(v >> 1), ok: v&1 == 1})
		prev = at
	}
	return out, nil
}

// mergeEntries returns a and b as one list sorted by start; where both hold
// a start, b's entry wins (a per-row result replaces a packed one).
func mergeEntries(a, b []entry) []entry {
	out := make([]entry, 0, len(a)+len(b))
	out = append(out, b...)
	seen := make(map[int64]struct{}, len(b))
	for _, e := range b {
		seen[e.at] = struct{}{}
	}
	for _, e := range a {
		if _, dup := seen[e.at]; !dup {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y entry) int { return cmp.Compare(x.at, y.at) })
	return out
}

// floorDiv divides rounding towards minus infinity, so that hour and day
// numbers stay right for any time.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// agg is what a rollup row holds.
type agg struct {
	runs, successes int64
	durSumUS        int64
	durMaxUS        int64
}

func (a *agg) add(e entry) {
	a.runs++
	if e.ok {
		a.successes++
	}
	a.durSumUS += e.durUS
	a.durMaxUS = max(a.durMaxUS, e.durUS)
}

func (a *agg) merge(b agg) {
	a.runs += b.runs
	a.successes += b.successes
	a.durSumUS += b.durSumUS
	a.durMaxUS = max(a.durMaxUS, b.durMaxUS)
}
