package probes

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// A large CRL is parsed in two parts. x509.ParseRevocationList reads and
// validates everything but the entries, from a copy of the CRL with the
// revokedCertificates list cut out; the entries are walked in place. x509
// would build two structures per entry (RevokedCertificateEntries and the
// deprecated RevokedCertificates, with a big.Int and extension slices each,
// over 1 KB an entry with garbage): 240 MB of heap for a 10 MB CRL, against
// about 40 bytes an entry here.

// parsedCRL is a CRL whose header x509 has parsed and whose entries were
// walked once into the compact form the checks use.
type parsedCRL struct {
	*x509.RevocationList
	serials     []serialEntry // in CRL order
	holds       []serialKey   // entries with reason certificateHold
	unspecified []serialKey   // entries with an explicit reason unspecified
	// otherReasons are entries whose reason is neither of the above nor one
	// the BRs allow for every CRL (§7.2.2): cACompromise, removeFromCRL,
	// aACompromise and undefined codes. Whether cACompromise is allowed
	// depends on the CRL's kind, which the checks know.
	otherReasons []reasonEntry
	// criticalReason are entries whose reasonCode is marked critical.
	criticalReason []serialKey
	// unknownCritical are critical entry extensions probed does not know
	// (RFC 5280 §5.3: such a CRL must not be used).
	unknownCritical []entryExtension
}

// reasonEntry is an entry's serial with its reason code.
type reasonEntry struct {
	key    serialKey
	reason int
}

// entryExtension is an entry's serial with an extension OID (dotted).
type entryExtension struct {
	key serialKey
	oid string
}

// DER content bytes of the CRL entry extension OIDs of RFC 5280 §5.3.
var (
	derReasonCodeOID        = []byte{0x55, 0x1d, 0x15} // 2.5.29.21
	derHoldInstructionOID   = []byte{0x55, 0x1d, 0x17} // 2.5.29.23
	derInvalidityDateOID    = []byte{0x55, 0x1d, 0x18} // 2.5.29.24
	derCertificateIssuerOID = []byte{0x55, 0x1d, 0x1d} // 2.5.29.29
)

// knownEntryExtension reports whether probed processes an entry extension
// (RFC 5280 §5.3.1–§5.3.3, and the holdInstructionCode of X.509).
func knownEntryExtension(oid []byte) bool {
	for _, k := range [][]byte{derReasonCodeOID, derHoldInstructionOID, derInvalidityDateOID, derCertificateIssuerOID} {
		if bytes.Equal(oid, k) {
			return true
		}
	}
	return false
}

// Reason codes every CRL may carry (BR §7.2.2): keyCompromise,
// affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn.
func alwaysAllowedReason(code int) bool {
	switch code {
	case 1, 3, 4, 5, 9:
		return true
	}
	return false
}

// parseCRL splits the CRL, parses the header with x509 and counts the
// entries (validating their structure). The signature is not checked here:
// RawTBSRevocationList is the original TBS, so CheckSignatureFrom works.
func parseCRL(der []byte) (*parsedCRL, error) {
	in := cryptobyte.String(der)
	var outer, tbsFull cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed CRL: not a DER SEQUENCE")
	}
	if !in.Empty() {
		return nil, fmt.Errorf("malformed CRL: %d bytes of trailing data", len(in))
	}
	if !outer.ReadASN1Element(&tbsFull, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed CRL: no tbsCertList")
	}
	tbs := tbsFull
	var fields cryptobyte.String
	if !tbs.ReadASN1(&fields, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed CRL: no tbsCertList")
	}
	// TBSCertList (RFC 5280 §5.1): version, signature, issuer, thisUpdate,
	// nextUpdate, revokedCertificates, [0] crlExtensions, in that order and
	// nothing else. x509 stops reading at an element it does not expect
	// and ignores the rest, entries and extensions included; probed refuses
	// such a CRL.
	isTag := func(want cbasn1.Tag) func(cbasn1.Tag) bool { return func(t cbasn1.Tag) bool { return t == want } }
	isTime := func(t cbasn1.Tag) bool { return t == cbasn1.UTCTime || t == cbasn1.GeneralizedTime }
	const entriesSlot = 5
	slots := []struct {
		name     string
		is       func(cbasn1.Tag) bool
		optional bool
	}{
		{"version", isTag(cbasn1.INTEGER), true},
		{"signature", isTag(cbasn1.SEQUENCE), false},
		{"issuer", isTag(cbasn1.SEQUENCE), false},
		{"thisUpdate", isTime, false},
		{"nextUpdate", isTime, true},
		{"revokedCertificates", isTag(cbasn1.SEQUENCE), true},
		{"crlExtensions", isTag(cbasn1.Tag(0).Constructed().ContextSpecific()), true},
	}
	var kept [][]byte
	var entries cryptobyte.String
	next := 0
	for !fields.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !fields.ReadAnyASN1Element(&el, &tag) {
			return nil, errors.New("malformed CRL: bad tbsCertList element")
		}
		for next < len(slots) && !slots[next].is(tag) {
			if !slots[next].optional {
				return nil, fmt.Errorf("malformed CRL: tbsCertList has an element with tag %#x where %s belongs (RFC 5280 §5.1)", uint8(tag), slots[next].name)
			}
			next++
		}
		if next == len(slots) {
			return nil, fmt.Errorf("malformed CRL: tbsCertList has an element with tag %#x after its last field (RFC 5280 §5.1)", uint8(tag))
		}
		if next == entriesSlot {
			if !el.ReadASN1(&entries, cbasn1.SEQUENCE) {
				return nil, errors.New("malformed CRL: bad revokedCertificates")
			}
		} else {
			kept = append(kept, el)
		}
		next++
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			for _, el := range kept {
				b.AddBytes(el)
			}
		})
		b.AddBytes(outer)
	})
	header, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("malformed CRL: %w", err)
	}
	rl, err := x509.ParseRevocationList(header)
	if err != nil {
		return nil, err
	}
	rl.RawTBSRevocationList = tbsFull
	rl.Raw = der
	p := &parsedCRL{RevocationList: rl}
	if err := p.walk(entries); err != nil {
		return nil, err
	}
	return p, nil
}

// walk reads every entry of the revokedCertificates list.
func (p *parsedCRL) walk(list cryptobyte.String) error {
	// 48 bytes is about the smallest entry with a 16-byte serial and a reason.
	p.serials = make([]serialEntry, 0, len(list)/48+1)
	for i := 0; !list.Empty(); i++ {
		var entry, serial cryptobyte.String
		if !list.ReadASN1(&entry, cbasn1.SEQUENCE) || !entry.ReadASN1(&serial, cbasn1.INTEGER) {
			return fmt.Errorf("malformed CRL entry %d", i)
		}
		if !minimalInteger(serial) {
			return fmt.Errorf("malformed serial number in CRL entry %d: not a DER INTEGER", i)
		}
		var e serialEntry
		reason := -1
		// Serials are positive (RFC 5280 §4.1.2.2); the sign byte goes.
		for len(serial) > 0 && serial[0] == 0 {
			serial = serial[1:]
		}
		e.key = keyOfBytes(serial)
		var ok bool
		if e.revoked, ok = readTime(&entry); !ok {
			return fmt.Errorf("malformed revocationDate in CRL entry %d", i)
		}
		if !entry.Empty() {
			// x509 skips what is not a SEQUENCE here, and anything after the
			// extensions; probed refuses both.
			if !entry.PeekASN1Tag(cbasn1.SEQUENCE) {
				return fmt.Errorf("malformed CRL entry %d: an element where crlEntryExtensions belongs (RFC 5280 §5.1)", i)
			}
			var exts cryptobyte.String
			if !entry.ReadASN1(&exts, cbasn1.SEQUENCE) {
				return fmt.Errorf("malformed extensions in CRL entry %d", i)
			}
			if !entry.Empty() {
				return fmt.Errorf("malformed CRL entry %d: data after crlEntryExtensions (RFC 5280 §5.1)", i)
			}
			for !exts.Empty() {
				var ext, oid, val cryptobyte.String
				// Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT
				// FALSE, extnValue OCTET STRING }: critical is a plain,
				// optional BOOLEAN, not an explicitly tagged one.
				var critical bool
				if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
					!validOID(oid) || ext.PeekASN1Tag(cbasn1.BOOLEAN) && !ext.ReadASN1Boolean(&critical) || !ext.ReadASN1(&val, cbasn1.OCTET_STRING) {
					return fmt.Errorf("malformed extension in CRL entry %d", i)
				}
				switch {
				case bytes.Equal(oid, derReasonCodeOID):
					if !val.ReadASN1Enum(&reason) {
						return fmt.Errorf("malformed reasonCode in CRL entry %d", i)
					}
					if critical {
						p.criticalReason = append(p.criticalReason, e.key)
					}
				case critical && !knownEntryExtension(oid):
					p.unknownCritical = append(p.unknownCritical, entryExtension{e.key, oidString(oid)})
				}
			}
		}
		switch {
		case reason < 0 || alwaysAllowedReason(reason):
		case reason == reasonCertificateHold:
			p.holds = append(p.holds, e.key)
		case reason == reasonUnspecified:
			p.unspecified = append(p.unspecified, e.key)
		default:
			p.otherReasons = append(p.otherReasons, reasonEntry{e.key, reason})
		}
		p.serials = append(p.serials, e)
	}
	return nil
}

// minimalInteger reports whether b is the content of a DER INTEGER: not
// empty and in its shortest form (X.690 §8.3.2), as x509 reads serials.
func minimalInteger(b []byte) bool {
	switch {
	case len(b) == 0:
		return false
	case len(b) == 1:
		return true
	}
	return !(b[0] == 0 && b[1]&0x80 == 0) && !(b[0] == 0xff && b[1]&0x80 != 0)
}

// validOID reports whether content is a DER OBJECT IDENTIFIER's content as
// x509 (cryptobyte's ReadASN1ObjectIdentifier) accepts it: not empty, each
// subidentifier in its fewest octets (X.690 §8.19.2), at most 5 octets and
// below 2^31, none cut short. It allocates nothing, unlike the reader.
func validOID(content []byte) bool {
	if len(content) == 0 {
		return false
	}
	for len(content) > 0 {
		v := 0
		for i := 0; ; i++ {
			if i == 5 || len(content) == 0 || v >= 1<<(31-7) {
				return false
			}
			b := content[0]
			content = content[1:]
			if i == 0 && b == 0x80 {
				return false
			}
			v = v<<7 | int(b&0x7f)
			if b&0x80 == 0 {
				break
			}
		}
	}
	return true
}

// oidString prints the content bytes of a DER OBJECT IDENTIFIER dotted.
func oidString(content []byte) string {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(content) })
	der, err := b.Bytes()
	if err != nil {
		return hex.EncodeToString(content)
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(der, &oid); err != nil {
		return hex.EncodeToString(content)
	}
	return oid.String()
}

// readTime reads a UTCTime or GeneralizedTime as unix seconds. The DER
// forms RFC 5280 §4.1.2.5 prescribes (YYMMDDHHMMSSZ, YYYYMMDDHHMMSSZ) are
// decoded without allocating; anything else goes through cryptobyte, which
// round-trips each time through time.Parse and Format (a third of the CPU
// of a 10 MB CRL).
func readTime(s *cryptobyte.String) (int64, bool) {
	var raw cryptobyte.String
	var tag cbasn1.Tag
	save := *s
	if !s.ReadAnyASN1(&raw, &tag) {
		return 0, false
	}
	digits := func(b []byte) (int, bool) {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	var year int
	var rest []byte
	switch {
	case tag == cbasn1.UTCTime && len(raw) == 13 && raw[12] == 'Z':
		y, ok := digits(raw[:2])
		if !ok {
			return 0, false
		}
		year, rest = 1900+y, raw[2:12]
		if y < 50 {
			year += 100
		}
	case tag == cbasn1.GeneralizedTime && len(raw) == 15 && raw[14] == 'Z':
		y, ok := digits(raw[:4])
		if !ok {
			return 0, false
		}
		year, rest = y, raw[4:14]
	default:
		var t time.Time
		*s = save
		var ok bool
		switch tag {
		case cbasn1.UTCTime:
			ok = s.ReadASN1UTCTime(&t)
		case cbasn1.GeneralizedTime:
			ok = s.ReadASN1GeneralizedTime(&t)
		}
		return t.Unix(), ok
	}
	var f [5]int
	for i := range f {
		v, ok := digits(rest[2*i : 2*i+2])
		if !ok {
			return 0, false
		}
		f[i] = v
	}
	mon, day, hh, mm, ss := f[0], f[1], f[2], f[3], f[4]
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59 {
		return 0, false
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, 0, time.UTC)
	if t.Day() != day { // 31 February and the like
		return 0, false
	}
	return t.Unix(), true
}

// keyOfBytes is keyOf for the big-endian bytes of a positive serial.
func keyOfBytes(b []byte) serialKey {
	var k serialKey
	if len(b) > 20 {
		b = b[len(b)-20:]
	}
	k[0] = byte(len(b))
	copy(k[1+20-len(b):], b)
	return k
}
