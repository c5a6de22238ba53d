package probes

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/probed/probed/internal/vectors"
)

// crlDiffTrailingData: x509.ParseRevocationList ignores bytes after the
// CertificateList; probed refuses them (crl_parse), as a DER body is one
// CertificateList (RFC 5280 §5.1, X.690 §10) and such a file is not the CRL
// that was signed and published.
const crlDiffTrailingData = "trailing data after the CertificateList"

// crlDiffStructure: x509 stops reading the TBSCertList at an element it
// does not expect (and so ignores the entries and extensions after it, and
// any malformed bytes), and skips an entry's element that is not its
// extensions and whatever follows them; probed refuses a TBSCertList or an
// entry that is not RFC 5280 §5.1's sequence of fields (crl_parse).
const crlDiffStructure = "elements x509 skips in the TBSCertList or an entry"

// compareCRL parses der with the split parser (x509 for the header, the
// walker for the entries) and with x509.ParseRevocationList, and returns
// how they disagree. The walker must refuse what x509 refuses and read the
// same entries; the deliberate differences are crlDiffTrailingData and
// crlDiffStructure.
func compareCRL(der []byte) error {
	mine, mineErr := parseCRL(der)
	theirs, theirErr := x509.ParseRevocationList(der)
	switch {
	case mineErr != nil && theirErr != nil:
		return nil
	case mineErr != nil && strings.Contains(mineErr.Error(), "of trailing data"):
		return nil // crlDiffTrailingData
	case mineErr != nil && (strings.Contains(mineErr.Error(), "tbsCertList") || strings.Contains(mineErr.Error(), "(RFC 5280 §5.1)")):
		return nil // crlDiffStructure
	case mineErr != nil:
		return fmt.Errorf("the walker refuses what x509 parses: %v", mineErr)
	case theirErr != nil:
		return fmt.Errorf("x509 refuses what the walker parses: %v", theirErr)
	}
	var diffs []string
	if !bytes.Equal(mine.RawIssuer, theirs.RawIssuer) || !mine.ThisUpdate.Equal(theirs.ThisUpdate) || !mine.NextUpdate.Equal(theirs.NextUpdate) ||
		(mine.Number == nil) != (theirs.Number == nil) || mine.Number != nil && mine.Number.Cmp(theirs.Number) != 0 ||
		len(mine.Extensions) != len(theirs.Extensions) || !bytes.Equal(mine.Signature, theirs.Signature) {
		diffs = append(diffs, "header fields differ")
	}
	if len(mine.serials) != len(theirs.RevokedCertificateEntries) {
		return fmt.Errorf("the walker reads %d entries, x509 %d", len(mine.serials), len(theirs.RevokedCertificateEntries))
	}
	var holds, unspecified, criticalReason []serialKey
	var others []reasonEntry
	var unknown []entryExtension
	for i, e := range theirs.RevokedCertificateEntries {
		// The key of the serial's DER content bytes, leading zeros gone.
		raw := e.SerialNumber.Bytes()
		if e.SerialNumber.Sign() < 0 {
			raw = twosComplement(e.SerialNumber.Bytes())
		}
		key := keyOfBytes(bytes.TrimLeft(raw, "\x00"))
		if mine.serials[i].key != key {
			diffs = append(diffs, fmt.Sprintf("entry %d: serial key %x, x509 %x", i, mine.serials[i].key, key))
		}
		if mine.serials[i].revoked != e.RevocationTime.Unix() {
			diffs = append(diffs, fmt.Sprintf("entry %d: revoked %d, x509 %d", i, mine.serials[i].revoked, e.RevocationTime.Unix()))
		}
		reason := -1
		for _, x := range e.Extensions {
			oid, _ := asn1.Marshal(x.Id)
			content := oid[2:]
			switch {
			case bytes.Equal(content, derReasonCodeOID):
				reason = e.ReasonCode
				if x.Critical {
					criticalReason = append(criticalReason, key)
				}
			case x.Critical && !knownEntryExtension(content):
				unknown = append(unknown, entryExtension{key, x.Id.String()})
			}
		}
		switch {
		case reason < 0 || alwaysAllowedReason(reason):
		case reason == reasonCertificateHold:
			holds = append(holds, key)
		case reason == reasonUnspecified:
			unspecified = append(unspecified, key)
		default:
			others = append(others, reasonEntry{key, reason})
		}
	}
	for _, d := range []struct {
		what      string
		mine, x50 any
		equal     bool
	}{
		{"certificateHold entries", mine.holds, holds, slices.Equal(mine.holds, holds)},
		{"unspecified entries", mine.unspecified, unspecified, slices.Equal(mine.unspecified, unspecified)},
		{"other reasons", mine.otherReasons, others, slices.Equal(mine.otherReasons, others)},
		{"critical reasonCode", mine.criticalReason, criticalReason, slices.Equal(mine.criticalReason, criticalReason)},
		{"unknown critical extensions", mine.unknownCritical, unknown, slices.Equal(mine.unknownCritical, unknown)},
	} {
		if !d.equal {
			diffs = append(diffs, fmt.Sprintf("%s: walker %v, x509 %v", d.what, d.mine, d.x50))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s", strings.Join(diffs, "; "))
	}
	return nil
}

// twosComplement returns the DER content bytes of -abs.
func twosComplement(abs []byte) []byte {
	out := make([]byte, len(abs)+1)
	copy(out[1:], abs)
	for i := range out {
		out[i] = ^out[i]
	}
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			break
		}
	}
	for len(out) > 1 && out[0] == 0xff && out[1]&0x80 != 0 {
		out = out[1:]
	}
	return out
}

// TestParseCRLAgreesWithX509OnPKITS: every PKITS CRL in testdata reads the
// same with the split parser and x509.
func TestParseCRLAgreesWithX509OnPKITS(t *testing.T) {
	for name, der := range vectors.Files(t, "pkits/*.crl") {
		if err := compareCRL(der); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzParseCRLAgreesWithX509 is the differential target for the CRL
// walker.
func FuzzParseCRLAgreesWithX509(f *testing.F) {
	for _, der := range vectors.Files(f, "pkits/*.crl") {
		f.Add(der)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		if err := compareCRL(der); err != nil {
			t.Fatal(err)
		}
	})
}

// crlWithEntry builds an unsigned CRL whose one entry is entry (the DER of
// the entry's SEQUENCE contents); the header is valid.
func crlWithEntry(t *testing.T, entry []byte) []byte {
	t.Helper()
	alg := []byte{0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02} // ecdsa-with-SHA256
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(1)
			b.AddBytes(alg)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {}) // empty Name
			b.AddASN1UTCTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(entry) })
			})
		})
		b.AddBytes(alg)
		b.AddASN1BitString([]byte{0})
	})
	der, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestParseCRLEntriesAsStrictAsX509: entries x509 refuses, the walker
// refuses too (inputs a byte-flipping fuzzer rarely makes: they need a
// length to change with the content).
func TestParseCRLEntriesAsStrictAsX509(t *testing.T) {
	date := []byte{0x17, 0x0d, '2', '6', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z'}
	ext := func(oid, critical, value []byte) []byte {
		e := append([]byte{0x06, byte(len(oid))}, oid...)
		e = append(e, critical...)
		e = append(e, 0x04, byte(len(value)))
		e = append(e, value...)
		exts := append([]byte{0x30, byte(len(e))}, e...)
		return append([]byte{0x30, byte(len(exts))}, exts...)
	}
	reason := []byte{0x0a, 0x01, 0x01}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name  string
		entry []byte
	}{
		{"good entry", cat([]byte{0x02, 0x01, 0x05}, date, ext(derReasonCodeOID, nil, reason))},
		{"serial with a needless leading zero", cat([]byte{0x02, 0x02, 0x00, 0x05}, date)},
		{"serial with a needless leading 0xff", cat([]byte{0x02, 0x02, 0xff, 0x85}, date)},
		{"extension OID with a 0x80 padding byte", cat([]byte{0x02, 0x01, 0x05}, date, ext([]byte{0x55, 0x80, 0x1d}, nil, reason))},
		{"extension OID cut short", cat([]byte{0x02, 0x01, 0x05}, date, ext([]byte{0x55, 0x9d}, nil, reason))},
		{"critical flag 0x01 (not DER)", cat([]byte{0x02, 0x01, 0x05}, date, ext([]byte{0x55, 0x1d, 0x18}, []byte{0x01, 0x01, 0x01}, date))},
		{"negative serial", cat([]byte{0x02, 0x01, 0x85}, date)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := compareCRL(crlWithEntry(t, tc.entry)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestParseCRLRefusesWhatX509Skips: elements x509 steps over without a
// word are refused by probed (the deliberate difference crlDiffStructure).
func TestParseCRLRefusesWhatX509Skips(t *testing.T) {
	date := []byte{0x17, 0x0d, '2', '6', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z'}
	for _, tc := range []struct {
		name  string
		entry []byte
		want  string
	}{
		{"an OCTET STRING where the extensions belong", bytes.Join([][]byte{{0x02, 0x01, 0x05}, date, {0x04, 0x00}}, nil), "an element where crlEntryExtensions belongs"},
		{"data after the extensions", bytes.Join([][]byte{{0x02, 0x01, 0x05}, date, {0x30, 0x00}, {0x05, 0x00}}, nil), "data after crlEntryExtensions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := crlWithEntry(t, tc.entry)
			if _, err := x509.ParseRevocationList(der); err != nil {
				t.Fatalf("x509 refuses it too (%v): no longer a difference", err)
			}
			if _, err := parseCRL(der); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseCRL: %v, want %q", err, tc.want)
			}
		})
	}
}
