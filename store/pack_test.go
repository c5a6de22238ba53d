package store

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// A packed day of hourly rollups reads back what was packed, and a damaged
// one is an error naming the day, never a wrong count.
func TestHourRollupsPack(t *testing.T) {
	const d = 20513
	hs := []hourAgg{
		{d * 24, agg{runs: 120, successes: 120, durSumUS: 36_000_000, durMaxUS: 950_000}},
		{d*24 + 5, agg{runs: 1, successes: 0, durSumUS: 0, durMaxUS: 0}},
		{d*24 + 23, agg{runs: 720, successes: 700, durSumUS: math.MaxInt64, durMaxUS: 1 << 40}},
	}
	b := encodeHours(d, hs)
	got, err := decodeHours(d, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, hs) {
		t.Errorf("decodeHours = %+v, want %+v", got, hs)
	}
	if full := encodeHours(d, nil); len(full) != 4 {
		t.Errorf("an empty day packs into %d bytes, want 4", len(full))
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "0 bytes, too short"},
		{"unknown version", append([]byte{2}, b[1:]...), "unknown version 2"},
		{"truncated", b[:len(b)-1], "hour 23 truncated"},
		{"left over", append(append([]byte{}, b...), 0), "1 bytes left over"},
		{"more failures than runs", []byte{1, 0, 0, 1, 3, 4, 0, 0}, "hour 0 has 4 failures in 3 runs"},
		{"beyond int64", []byte{1, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0}, "hour 0 truncated or out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := decodeHours(d, c.data)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "day 20513") {
				t.Errorf("decodeHours = %v, want an error with %q and the day", err, c.want)
			}
		})
	}
}
