package zoo

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The deep ASN.1 is well formed all the way down: asn1 refuses it for its
// depth, not for a length that does not add up.
func TestDeepASN1(t *testing.T) {
	der := deepASN1(3)
	want := []byte{0x30, 0x06, 0x30, 0x04, 0x30, 0x02, 0x05, 0x00}
	if string(der) != string(want) {
		t.Fatalf("deepASN1(3) = % x, want % x", der, want)
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(deepASN1(200000), &raw)
	if err != nil || len(rest) != 0 || raw.Tag != asn1.TagSequence {
		t.Fatalf("outer value: tag %d, %d bytes left, %v", raw.Tag, len(rest), err)
	}
}

// Each mode misbehaves as it says, seen by a plain client.
func TestModes(t *testing.T) {
	z, err := Start(Options{TricklePeriod: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(z.RootPEM())
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(m Mode, secure bool) *http.Response {
		t.Helper()
		resp, err := client.Get(z.URL(m, secure) + "crl")
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for _, secure := range []bool{false, true} {
		if r := get(LyingLength, secure); r.ContentLength != 64<<20 {
			t.Errorf("lying-length announces %d", r.ContentLength)
		}
		if r := get(HugeBody, secure); r.ContentLength != 1<<40 {
			t.Errorf("huge announces %d", r.ContentLength)
		}
		if r := get(RedirectLoop, secure); r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/redirect-loop/crl" {
			t.Errorf("redirect-loop: %d to %q", r.StatusCode, r.Header.Get("Location"))
		}
		r := get(GzipBomb, secure)
		zr, err := gzip.NewReader(r.Body)
		if err != nil || r.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("gzip-bomb: %v, %q", err, r.Header.Get("Content-Encoding"))
		}
		if n, err := io.Copy(io.Discard, zr); n != 256<<20 || err != nil {
			t.Errorf("gzip-bomb inflates to %d bytes, %v", n, err)
		}
		r = get(DeepJSON, secure)
		var v any
		if err := json.NewDecoder(r.Body).Decode(&v); err == nil || !strings.Contains(err.Error(), "depth") {
			t.Errorf("deep-json decodes: %v", err)
		}
		r = get(Trickle, secure)
		if b, err := io.ReadAll(io.LimitReader(r.Body, 5)); string(b) != "xxxxx" || err != nil {
			t.Errorf("trickle: %q, %v", b, err)
		}
	}
	if _, err := client.Get(z.URL(Garbage, false)); err == nil || !strings.Contains(err.Error(), "malformed HTTP") {
		t.Errorf("garbage: %v, want a malformed response", err)
	}
	// The stalls: nothing comes back before the client gives up.
	for _, m := range []Mode{StallTLS, Stall, LyingLength} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, z.URL(m, m == StallTLS)+"crl", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want the client's deadline", m, err)
		}
	}
}
