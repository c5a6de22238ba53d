package store

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
	return appendPacked(nil, hourStart, b)
}

// appendPacked appends to dst what encodePacked wrote for the hour starting
// at hourStart.
func appendPacked(dst []entry, hourStart int64, b []byte) ([]entry, error) {
	err := walkPacked(hourStart, b, func(e entry) { dst = append(dst, e) })
	return dst, err
}

// walkPacked calls f on each result encodePacked wrote for the hour
// starting at hourStart, in order.
func walkPacked(hourStart int64, b []byte, f func(entry)) error {
	if len(b) == 0 {
		return errors.New("decode packed results: empty")
	}
	if b[0] != packVersion {
		return fmt.Errorf("decode packed results: unknown version %d", b[0])
	}
	b = b[1:]
	prev := hourStart
	for n := 0; len(b) > 0; n++ {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			return errors.New("decode packed results: truncated start")
		}
		b = b[k:]
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return errors.New("decode packed results: truncated duration")
		}
		b = b[k:]
		at := prev + int64(d)
		if at >= hourStart+hourMs || (n > 0 && d == 0) {
			return fmt.Errorf("decode packed results: start %d out of order or outside its hour", at)
		}
		f(entry{at: at, durUS: int64(v >> 1), ok: v&1 == 1})
		prev = at
	}
	return nil
}

// mergeEntries returns a and b as one list sorted by start; where both hold
// a start, b's entry wins (a per-row result replaces a packed one). Both are
// usually sorted already (then it is one linear merge).
func mergeEntries(a, b []entry) []entry {
	byAt := func(x, y entry) int { return cmp.Compare(x.at, y.at) }
	if !slices.IsSortedFunc(a, byAt) {
		a = slices.Clone(a)
		slices.SortStableFunc(a, byAt)
	}
	if !slices.IsSortedFunc(b, byAt) {
		b = slices.Clone(b)
		slices.SortStableFunc(b, byAt)
	}
	out := make([]entry, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i].at < b[j].at):
			out = append(out, a[i])
			i++
		case i == len(a) || b[j].at < a[i].at:
			out = append(out, b[j])
			j++
		default: // the same start: b's wins
			out = append(out, b[j])
			i++
			j++
		}
	}
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

// A UTC day of one series' hourly rollups is kept as one packed row
// (rollup_hour_packed) instead of a row an hour: on PostgreSQL a row costs
// ~60 bytes of header, pointer, alignment and index before its values, so
// 24 rows a day were ~2.8 KB where the packed row is ~0.27 KB; on SQLite
// ~620 bytes become ~240. The layout, which migration 0075 also writes in
// SQL: a version byte, a 24-bit map of the hours present (bit i = hour i of
// the day, big-endian), then for each hour present, in order, the uvarints
// runs, runs-successes, duration sum and duration max (microseconds).

const hourPackVersion = 1

// hourAgg is one hour's rollup inside a packed day.
type hourAgg struct {
	hour int64 // Unix hour
	agg
}

// encodeHours packs the rollups of the hours of day d; hs must be sorted by
// hour, distinct, and inside the day.
func encodeHours(d int64, hs []hourAgg) []byte {
	var present uint32
	for _, h := range hs {
		present |= 1 << uint(h.hour-d*24)
	}
	b := make([]byte, 4, 4+len(hs)*10)
	b[0], b[1], b[2], b[3] = hourPackVersion, byte(present>>16), byte(present>>8), byte(present)
	for _, h := range hs {
		for _, v := range []int64{h.runs, h.runs - h.successes, h.durSumUS, h.durMaxUS} {
			b = binary.AppendUvarint(b, uint64(max(v, 0)))
		}
	}
	return b
}

// decodeHours unpacks what encodeHours (or migration 0075) wrote for day d.
func decodeHours(d int64, b []byte) ([]hourAgg, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("decode hourly rollups of day %d: %d bytes, too short", d, len(b))
	}
	if b[0] != hourPackVersion {
		return nil, fmt.Errorf("decode hourly rollups of day %d: unknown version %d", d, b[0])
	}
	present := uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	b = b[4:]
	var out []hourAgg
	for i := range int64(24) {
		if present&(1<<uint(i)) == 0 {
			continue
		}
		var v [4]int64
		for j := range v {
			x, n := binary.Uvarint(b)
			if n <= 0 || x > math.MaxInt64 {
				return nil, fmt.Errorf("decode hourly rollups of day %d: hour %d truncated or out of range", d, i)
			}
			v[j], b = int64(x), b[n:]
		}
		if v[1] > v[0] {
			return nil, fmt.Errorf("decode hourly rollups of day %d: hour %d has %d failures in %d runs", d, i, v[1], v[0])
		}
		out = append(out, hourAgg{hour: d*24 + i, agg: agg{runs: v[0], successes: v[0] - v[1], durSumUS: v[2], durMaxUS: v[3]}})
	}
	if len(b) > 0 {
		return nil, fmt.Errorf("decode hourly rollups of day %d: %d bytes left over", d, len(b))
	}
	return out, nil
}
