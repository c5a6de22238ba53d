package pkisim

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // the SHA-1 faults
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/probed/probed/internal/ocspwire"
)

// oidUnknownCritical is a private-arc extension no client understands.
var oidUnknownCritical = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}

func (s *Sim) serveOCSP(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.on(OCSPNotFound):
		http.NotFound(w, r)
		return
	case s.on(OCSPSlow):
		holdUntilGone(r)
		return
	case s.on(OCSPDown):
		hijackClose(w)
		return
	case s.on(OCSPHuge):
		writeHuge(w, "application/ocsp-response", s.huge)
		return
	case s.on(OCSPGarbage):
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = io.WriteString(w, garbage)
		return
	}
	var der []byte
	switch r.Method {
	case http.MethodPost:
		if r.URL.Path != OCSPPath && r.URL.Path != OCSPPath+"/" {
			http.NotFound(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "read request", http.StatusBadRequest)
			return
		}
		der = b
	case http.MethodGet:
		// RFC 5019 §5: the path is the URL-encoded base64 of the request.
		// EscapedPath keeps %2F apart from a literal '/'; both are accepted.
		enc := strings.TrimPrefix(r.URL.EscapedPath(), OCSPPath+"/")
		unesc, err := url.PathUnescape(enc)
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(unesc)
		}
		if err != nil || enc == r.URL.EscapedPath() {
			s.writeOCSPStatus(w, ocspwire.MalformedRequest)
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	req, err := ocspwire.ParseRequest(der)
	if err != nil {
		s.writeOCSPStatus(w, ocspwire.MalformedRequest)
		return
	}
	switch {
	case s.on(OCSPTryLater):
		s.writeOCSPStatus(w, ocspwire.TryLater)
		return
	case s.on(OCSPUnauthorized):
		s.writeOCSPStatus(w, ocspwire.Unauthorized)
		return
	case s.on(OCSPMalformed):
		s.writeOCSPStatus(w, ocspwire.MalformedRequest)
		return
	}
	resp, nextUpdate, err := s.ocspResponse(req)
	if err != nil {
		s.writeOCSPStatus(w, ocspwire.InternalError)
		return
	}
	if resp == nil {
		s.writeOCSPStatus(w, ocspwire.Unauthorized)
		return
	}
	ct := "application/ocsp-response"
	if s.on(OCSPWrongContentType) {
		ct = "text/html; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	// RFC 5019 §6.2 caching headers, kept within nextUpdate unless broken on purpose.
	now := s.now()
	maxAge := max(nextUpdate.Sub(now)/2, 0)
	expires := nextUpdate
	if s.on(OCSPBadCacheHeaders) {
		maxAge = max(nextUpdate.Sub(now), 0) + 7*24*time.Hour
		expires = nextUpdate.Add(7 * 24 * time.Hour)
	}
	w.Header().Set("Cache-Control", fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", int64(maxAge.Seconds())))
	w.Header().Set("Expires", expires.UTC().Format(http.TimeFormat))
	w.Header().Set("Last-Modified", now.Format(http.TimeFormat))
	w.Header().Set("Content-Length", fmt.Sprint(len(resp)))
	_, _ = w.Write(resp)
}

func (s *Sim) writeOCSPStatus(w http.ResponseWriter, st ocspwire.ResponseStatus) {
	der, _ := asn1.Marshal(struct{ Status asn1.Enumerated }{asn1.Enumerated(st)})
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(der)
}

// ocspResponse answers a parsed request; a nil response means the request
// names an issuer the sim does not serve (answered unauthorized).
func (s *Sim) ocspResponse(req *ocspwire.OCSPRequest) ([]byte, time.Time, error) {
	now := s.now()
	thisUpdate := now.Truncate(time.Minute).Add(-time.Hour)
	validity := 3 * 24 * time.Hour
	switch {
	case s.on(OCSPStale):
		thisUpdate, validity = now.Add(-26*time.Hour), 24*time.Hour
	case s.on(OCSPTooOld):
		thisUpdate, validity = now.Add(-5*24*time.Hour), 7*24*time.Hour
	case s.on(OCSPFuture):
		thisUpdate = now.Add(time.Hour)
	case s.on(OCSPLongValidity):
		validity = 11 * 24 * time.Hour
	case s.on(OCSPShortValidity):
		validity = 4 * time.Hour
	case s.on(OCSPLateRefresh):
		thisUpdate, validity = now.Add(-20*time.Hour), 24*time.Hour
	case s.on(OCSPValidity240h):
		validity = 240 * time.Hour
	}
	nextUpdate := thisUpdate.Add(validity)

	var singles []ocspwire.SingleResponse
	for _, r := range req.TBSRequest.RequestList {
		id := r.CertID
		h, ok := ocspwire.HashFromOID(id.HashAlgorithm.Algorithm)
		if !ok {
			return nil, time.Time{}, nil
		}
		mine, err := ocspwire.NewCertID(h, s.issuer.cert, id.SerialNumber)
		if err != nil {
			return nil, time.Time{}, err
		}
		if !bytes.Equal(mine.IssuerNameHash, id.IssuerNameHash) || !bytes.Equal(mine.IssuerKeyHash, id.IssuerKeyHash) {
			return nil, time.Time{}, nil
		}
		status, err := s.certStatus(id.SerialNumber)
		if err != nil {
			return nil, time.Time{}, err
		}
		if s.on(OCSPOtherSerial) {
			id.SerialNumber = new(big.Int).Add(id.SerialNumber, big.NewInt(1))
		}
		if s.on(OCSPOtherIssuer) {
			other, err := ocspwire.NewCertID(h, s.otherCA.cert, id.SerialNumber)
			if err != nil {
				return nil, time.Time{}, err
			}
			id.IssuerNameHash, id.IssuerKeyHash = other.IssuerNameHash, other.IssuerKeyHash
		}
		singles = append(singles, ocspwire.SingleResponse{CertID: id, CertStatus: status, ThisUpdate: thisUpdate, NextUpdate: nextUpdate})
	}

	signer := s.ocspSigner
	switch {
	case s.on(OCSPWrongSigner):
		signer = s.rogueSigner
	case s.on(OCSPSignerNoEKU):
		signer = s.signerNoEKU
	case s.on(OCSPSignerNoCheck):
		signer = s.signerNoCheck
	case s.on(OCSPSignerSHA1), s.on(OCSPWeakKey):
		var err error
		if signer, err = s.responderVariant(); err != nil {
			return nil, time.Time{}, err
		}
	}
	var exts []pkix.Extension
	nonce, hasNonce := ocspwire.Nonce(req.TBSRequest.Extensions)
	if s.on(OCSPWrongNonce) {
		nonce = make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return nil, time.Time{}, fmt.Errorf("read nonce: %w", err)
		}
		hasNonce = true
	}
	if hasNonce {
		v, err := asn1.Marshal(nonce)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("marshal nonce: %w", err)
		}
		exts = append(exts, pkix.Extension{Id: ocspwire.OIDNonce, Value: v})
	}
	if s.on(OCSPCriticalExtension) {
		exts = append(exts, pkix.Extension{Id: oidUnknownCritical, Critical: true, Value: asn1.NullBytes})
	}
	data := ocspwire.ResponseData{
		ResponderID: ocspwire.ResponderIDByName(signer.cert),
		ProducedAt:  now,
		Responses:   singles,
		Extensions:  exts,
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("marshal response data: %w", err)
	}
	hash, alg := crypto.SHA256, ocspwire.ECDSAWithSHA256
	switch {
	case s.on(OCSPSHA1):
		hash, alg = crypto.SHA1, pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA1}
	case s.on(OCSPWeakKey):
		alg = pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA, Parameters: asn1.NullRawValue}
	}
	h := hash.New()
	h.Write(tbs)
	sig, err := signer.key.Sign(rand.Reader, h.Sum(nil), hash)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sign response: %w", err)
	}
	basic := ocspwire.BasicResponse{
		TBSResponseData:    ocspwire.ResponseData{Raw: tbs},
		SignatureAlgorithm: alg,
		Signature:          asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
		Certificates:       []asn1.RawValue{{FullBytes: signer.cert.Raw}},
	}
	basicDER, err := asn1.Marshal(basic)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("marshal basic response: %w", err)
	}
	out, err := asn1.Marshal(ocspwire.OCSPResponse{
		Status:        asn1.Enumerated(ocspwire.Successful),
		ResponseBytes: ocspwire.ResponseBytes{ResponseType: ocspwire.OIDBasicResponse, Response: basicDER},
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("marshal response: %w", err)
	}
	return out, nextUpdate, nil
}

var oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}

// responderVariant issues, on the spot, the delegated responder the
// algorithm-policy faults sign with: one whose certificate the issuing CA
// signs with ECDSA with SHA-1, or one with a 1024-bit RSA key. Only tests
// and the demo's fault panel turn these on, so nothing is cached.
func (s *Sim) responderVariant() (*issued, error) {
	base := s.ocspSigner.cert
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{Organization: base.Subject.Organization},
		NotBefore:             base.NotBefore,
		NotAfter:              base.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: ocspwire.OIDNoCheck, Value: asn1.NullBytes}},
	}
	var key crypto.Signer
	var err error
	if s.on(OCSPWeakKey) {
		tmpl.Subject.CommonName = "probed sim OCSP Responder, RSA-1024"
		if key, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			return nil, fmt.Errorf("generate RSA-1024 key: %w", err)
		}
	} else {
		tmpl.Subject.CommonName = "probed sim OCSP Responder, SHA-1 signed"
		tmpl.SignatureAlgorithm = x509.ECDSAWithSHA1
	}
	return issueWithKey(tmpl, s.issuer, key)
}

// certStatus is the CertStatus CHOICE for a serial, faults applied.
func (s *Sim) certStatus(serial *big.Int) (asn1.RawValue, error) {
	good := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspwire.StatusGood}
	unknown := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspwire.StatusUnknown}
	revoked := func(at time.Time, reason int) (asn1.RawValue, error) {
		r, err := asn1.Marshal(asn1.Enumerated(reason))
		if err != nil {
			return asn1.RawValue{}, err
		}
		info := ocspwire.RevokedInfo{RevocationTime: at, Reason: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: r}}
		b, err := asn1.Marshal(info)
		if err != nil {
			return asn1.RawValue{}, fmt.Errorf("marshal revoked info: %w", err)
		}
		var seq asn1.RawValue
		if _, err := asn1.Unmarshal(b, &seq); err != nil {
			return asn1.RawValue{}, fmt.Errorf("marshal revoked info: %w", err)
		}
		// [1] IMPLICIT RevokedInfo: the SEQUENCE's contents under tag [1].
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ocspwire.StatusRevoked, IsCompound: true, Bytes: seq.Bytes}, nil
	}
	switch {
	case serial.Cmp(s.good.cert.SerialNumber) == 0:
		if s.on(OCSPUnknownForGood) {
			return unknown, nil
		}
		return good, nil
	case serial.Cmp(s.revoked.cert.SerialNumber) == 0:
		if s.on(OCSPGoodForRevoked) {
			return good, nil
		}
		return revoked(s.revokedAt, RevocationReason)
	}
	if serial.Sign() > 0 && s.extraSet[string(serial.Bytes())] {
		return revoked(s.revokedAt, 4)
	}
	// Never issued: RFC 6960 lets a responder answer unknown.
	return unknown, nil
}
