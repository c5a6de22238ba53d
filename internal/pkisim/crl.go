package pkisim

import (
	"crypto"
	"crypto/rand"
	_ "crypto/sha1" // the SHA-1 CRL fault
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"
)

var (
	oidCRLNumber       = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidReasonCode      = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidDeltaCRL        = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP       = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
)

// IssuingDistributionPoint is the RFC 5280 §5.2.5 extension value, as far as
// CRL checks need it.
type IssuingDistributionPoint struct {
	DistributionPoint     DistributionPointName `asn1:"optional,tag:0"`
	OnlyContainsUserCerts bool                  `asn1:"optional,tag:1"`
	OnlyContainsCACerts   bool                  `asn1:"optional,tag:2"`
	OnlySomeReasons       asn1.BitString        `asn1:"optional,tag:3"`
	IndirectCRL           bool                  `asn1:"optional,tag:4"`
	OnlyContainsAttrCerts bool                  `asn1:"optional,tag:5"`
}

// DistributionPointName holds the fullName GeneralNames (URIs are tag 6).
type DistributionPointName struct {
	FullName     []asn1.RawValue  `asn1:"optional,tag:0"`
	RelativeName pkix.RDNSequence `asn1:"optional,tag:1"`
}

// IDPExtension builds a critical issuingDistributionPoint naming uri, for
// CRLs that hold end-entity certificates only.
func IDPExtension(uri string) (pkix.Extension, error) {
	return idpExtension(IssuingDistributionPoint{
		DistributionPoint:     DistributionPointName{FullName: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(uri)}}},
		OnlyContainsUserCerts: true,
	})
}

func idpExtension(idp IssuingDistributionPoint) (pkix.Extension, error) {
	v, err := asn1.Marshal(idp)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("marshal issuingDistributionPoint: %w", err)
	}
	return pkix.Extension{Id: oidIssuingDP, Critical: true, Value: v}, nil
}

func (s *Sim) serveCRL(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	case s.on(CRLNotFound):
		http.NotFound(w, r)
		return
	case s.on(CRLSlow):
		holdUntilGone(r)
		return
	case s.on(CRLDown):
		hijackClose(w)
		return
	case s.on(CRLHuge):
		writeHuge(w, "application/pkix-crl", s.huge)
		return
	case s.on(CRLGarbage):
		w.Header().Set("Content-Type", "application/pkix-crl")
		_, _ = io.WriteString(w, garbage)
		return
	}
	der, err := s.CRL()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Content-Length", fmt.Sprint(len(der)))
	_, _ = w.Write(der)
}

// CRL returns the current CRL as served (faults applied). thisUpdate is the
// clock's minute; each CRL that differs from the one before (a new minute, a
// fault turned on or off) gets the next CRL number, so numbers only ever go
// up unless CRLNumberBack is on.
func (s *Sim) CRL() ([]byte, error) {
	now := s.now()
	thisUpdate := now.Truncate(time.Minute)
	validity := 7 * 24 * time.Hour
	if s.on(CRLExpired) {
		thisUpdate, validity = now.Add(-3*24*time.Hour), 3*24*time.Hour-time.Hour
	}
	faults := s.Faults()
	var key strings.Builder
	fmt.Fprintf(&key, "%d", thisUpdate.Unix())
	for _, f := range KnownFaults() {
		if faults[f] && strings.HasPrefix(string(f), "crl_") {
			key.WriteString("/" + string(f))
		}
	}
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	if s.crlCache.key == key.String() {
		return s.crlCache.der, nil
	}
	if s.crlNumber == 0 {
		s.crlNumber = now.Unix() / 60
	}
	s.crlNumber++
	number := big.NewInt(s.crlNumber)
	if faults[CRLNumberBack] {
		number.Sub(number, big.NewInt(10))
	}
	der, err := s.buildCRL(thisUpdate, thisUpdate.Add(validity), number, faults)
	if err != nil {
		return nil, err
	}
	s.crlCache.key, s.crlCache.der = key.String(), der
	return der, nil
}

func (s *Sim) buildCRL(thisUpdate, nextUpdate time.Time, number *big.Int, faults map[Fault]bool) ([]byte, error) {
	var entries []x509.RevocationListEntry
	if !faults[CRLDroppedSerial] {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s.revoked.cert.SerialNumber, RevocationTime: s.revokedAt, ReasonCode: RevocationReason})
	}
	for _, e := range s.extra {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: e, RevocationTime: s.revokedAt, ReasonCode: 4})
	}
	if faults[CRLHold] {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(0x401d), RevocationTime: thisUpdate.Add(-time.Hour), ReasonCode: 6})
	}
	unspecifiedSerial := big.NewInt(0x4000)
	if faults[CRLReasonUnspecified] {
		// Given its reasonCode below: x509 refuses to write reason 0.
		entries = append(entries, x509.RevocationListEntry{SerialNumber: unspecifiedSerial, RevocationTime: thisUpdate.Add(-time.Hour)})
	}
	idpURL := s.baseURL + CRLPath
	if faults[CRLIDPMismatch] {
		idpURL = s.baseURL + "/crl/other-shard.crl"
	}
	criticalReasonSerial := big.NewInt(0x4c01)
	if faults[CRLCriticalReason] {
		// Marked critical below: x509 writes reasonCode non-critical.
		entries = append(entries, x509.RevocationListEntry{SerialNumber: criticalReasonSerial, RevocationTime: thisUpdate.Add(-time.Hour), ReasonCode: 4})
	}
	if faults[CRLUnknownCriticalEntry] {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(0x4c02), RevocationTime: thisUpdate.Add(-time.Hour), ReasonCode: 4,
			ExtraExtensions: []pkix.Extension{{Id: oidUnknownCritical, Critical: true, Value: asn1.NullBytes}}})
	}
	if faults[CRLReasonNotAllowed] {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(0x4c03), RevocationTime: thisUpdate.Add(-time.Hour), ReasonCode: 2})
	}
	idpValue := IssuingDistributionPoint{
		DistributionPoint:     DistributionPointName{FullName: []asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(idpURL)}}},
		OnlyContainsUserCerts: true,
		IndirectCRL:           faults[CRLIndirect],
		OnlyContainsAttrCerts: faults[CRLAttributeCerts],
	}
	if faults[CRLAttributeCerts] {
		idpValue.OnlyContainsUserCerts = false // the two exclude each other
	}
	if faults[CRLSomeReasons] {
		idpValue.OnlySomeReasons = asn1.BitString{Bytes: []byte{0x40}, BitLength: 2} // keyCompromise only
	}
	idp, err := idpExtension(idpValue)
	if err != nil {
		return nil, err
	}
	exts := []pkix.Extension{idp}
	if faults[CRLUnknownCritical] {
		exts = append(exts, pkix.Extension{Id: oidUnknownCritical, Critical: true, Value: asn1.NullBytes})
	}
	if faults[CRLDelta] {
		base, err := asn1.Marshal(new(big.Int).Sub(number, big.NewInt(1)))
		if err != nil {
			return nil, fmt.Errorf("marshal delta base: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: oidDeltaCRL, Critical: true, Value: base})
	}
	tmpl := &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
		RevokedCertificateEntries: entries,
		ExtraExtensions:           exts,
	}
	issuer := s.issuer.cert
	if faults[CRLIssuerMismatch] {
		raw, err := utf8Name(issuer.Subject)
		if err != nil {
			return nil, err
		}
		cp := *issuer
		cp.RawSubject = raw
		issuer = &cp
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, s.issuer.key)
	if err != nil {
		return nil, fmt.Errorf("create CRL: %w", err)
	}
	if faults[CRLMissingNumber] {
		der, err = s.resignCRL(der, func(tbs *pkix.TBSCertificateList) {
			var keep []pkix.Extension
			for _, e := range tbs.Extensions {
				if !e.Id.Equal(oidCRLNumber) {
					keep = append(keep, e)
				}
			}
			tbs.Extensions = keep
		})
		if err != nil {
			return nil, err
		}
	}
	if faults[CRLReasonUnspecified] {
		v, err := asn1.Marshal(asn1.Enumerated(0))
		if err != nil {
			return nil, fmt.Errorf("marshal reason: %w", err)
		}
		der, err = s.resignCRL(der, func(tbs *pkix.TBSCertificateList) {
			for i := range tbs.RevokedCertificates {
				if tbs.RevokedCertificates[i].SerialNumber.Cmp(unspecifiedSerial) == 0 {
					tbs.RevokedCertificates[i].Extensions = []pkix.Extension{{Id: oidReasonCode, Value: v}}
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if faults[CRLCriticalReason] {
		der, err = s.resignCRL(der, func(tbs *pkix.TBSCertificateList) {
			for i, e := range tbs.RevokedCertificates {
				if e.SerialNumber.Cmp(criticalReasonSerial) == 0 {
					for j := range e.Extensions {
						tbs.RevokedCertificates[i].Extensions[j].Critical = e.Extensions[j].Id.Equal(oidReasonCode)
					}
				}
			}
		})
		if err != nil {
			return nil, err
		}
	}
	if faults[CRLSHA1] {
		der, err = s.resignCRLWith(der, crypto.SHA1, oidECDSAWithSHA1, func(*pkix.TBSCertificateList) {})
		if err != nil {
			return nil, err
		}
	}
	if faults[CRLBadSignature] {
		// The signature BIT STRING ends the CRL; flip a byte inside it.
		der[len(der)-4] ^= 0x55
	}
	return der, nil
}

// utf8Name encodes a name with UTF8String values where Go would use
// PrintableString: the same name as text, different bytes.
func utf8Name(n pkix.Name) ([]byte, error) {
	var seq []any
	for _, rdn := range n.ToRDNSequence() {
		var set []any
		for _, atv := range rdn {
			set = append(set, struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}{atv.Type, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(fmt.Sprint(atv.Value))}})
		}
		b, err := asn1.MarshalWithParams(set, "set")
		if err != nil {
			return nil, fmt.Errorf("marshal name: %w", err)
		}
		seq = append(seq, asn1.RawValue{FullBytes: b})
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("marshal name: %w", err)
	}
	return b, nil
}

// resignCRL decodes a CRL, lets edit change its TBS, and signs it again with
// the issuer key (for faults x509.CreateRevocationList refuses to make).
func (s *Sim) resignCRL(der []byte, edit func(*pkix.TBSCertificateList)) ([]byte, error) {
	return s.resignCRLWith(der, crypto.SHA256, oidECDSAWithSHA256, edit)
}

// resignCRLWith is resignCRL with another hash (ECDSA with SHA-1 for the
// algorithm-policy fault), written into both signature fields.
func (s *Sim) resignCRLWith(der []byte, h crypto.Hash, alg asn1.ObjectIdentifier, edit func(*pkix.TBSCertificateList)) ([]byte, error) {
	var cl pkix.CertificateList
	if _, err := asn1.Unmarshal(der, &cl); err != nil {
		return nil, fmt.Errorf("resign CRL: %w", err)
	}
	tbs := cl.TBSCertList
	tbs.Raw = nil
	tbs.Signature = pkix.AlgorithmIdentifier{Algorithm: alg}
	edit(&tbs)
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		return nil, fmt.Errorf("resign CRL: %w", err)
	}
	hh := h.New()
	hh.Write(tbsDER)
	sig, err := s.issuer.key.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("resign CRL: %w", err)
	}
	out, err := asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbsDER}, pkix.AlgorithmIdentifier{Algorithm: alg}, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		return nil, fmt.Errorf("resign CRL: %w", err)
	}
	return out, nil
}
