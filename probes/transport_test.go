package probes

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readBody returns what arrived up to the limit, says when there was more,
// and sizes its buffer from what arrived: a truthful length costs one
// buffer of that size, a lying one nothing more than the bytes sent.
func TestReadBody(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		body      io.Reader
		announced int64
		limit     int64
		want      string
		tooLarge  bool
		err       error
		maxCap    int
	}{
		{"truthful length", strings.NewReader(strings.Repeat("a", 5000)), 5000, 1 << 20, strings.Repeat("a", 5000), false, nil, 5001},
		{"no length", strings.NewReader("abc"), -1, 10, "abc", false, nil, 512},
		{"lying length", strings.NewReader("abc"), 64 << 20, 1 << 30, "abc", false, nil, 512},
		{"exactly the limit", strings.NewReader("abcd"), -1, 4, "abcd", false, nil, 5},
		{"over the limit", strings.NewReader("abcdef"), -1, 4, "abcd", true, nil, 5},
		{"zero limit", strings.NewReader("a"), -1, 0, "", true, nil, 1},
		{"read error", io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(boom)), -1, 10, "ab", false, boom, 512},
		{"one byte at a time", iotest.OneByteReader(strings.NewReader(strings.Repeat("b", 3000))), 3000, 1 << 20, strings.Repeat("b", 3000), false, nil, 3001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, tooLarge, err := readBody(tc.body, tc.announced, tc.limit)
			if string(got) != tc.want || tooLarge != tc.tooLarge || !errors.Is(err, tc.err) {
				t.Fatalf("got %d bytes, tooLarge %v, err %v; want %d bytes, %v, %v", len(got), tooLarge, err, len(tc.want), tc.tooLarge, tc.err)
			}
			if cap(got) > tc.maxCap {
				t.Errorf("buffer of %d bytes for %d read, want at most %d", cap(got), len(got), tc.maxCap)
			}
		})
	}
}

// limitBodies cuts a body a library reads for itself at the limit.
func TestLimitBodies(t *testing.T) {
	b := &limitedBody{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, 100))), left: 10}
	got, err := io.ReadAll(b)
	if len(got) != 10 || !errors.Is(err, errBodyTooLarge) {
		t.Fatalf("over the limit: %d bytes, %v", len(got), err)
	}
	b = &limitedBody{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, 10))), left: 10}
	if got, err := io.ReadAll(b); len(got) != 10 || err != nil {
		t.Fatalf("exactly the limit: %d bytes, %v", len(got), err)
	}
}
