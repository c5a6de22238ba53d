package zoo

import (
	"encoding/asn1"
	"testing"
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
