// Package ocspwire holds the RFC 6960 OCSP structures in their DER form, with
// every field a strict checker needs (x/crypto/ocsp hides the CertID hashes,
// the response extensions and the raw ResponderID, and answers for one serial
// only). The probe parses with it and pkisim encodes with it; both are also
// checked against openssl, so a shared mistake would not go unseen.
package ocspwire

import (
	"crypto"
	"crypto/sha1" //nolint:gosec // SHA-1 is what RFC 6960 CertIDs and ResponderID keyHash use
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// OIDs used in OCSP messages and responder certificates.
var (
	OIDBasicResponse  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}
	OIDNonce          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	OIDCRLID          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 3}
	OIDArchiveCutoff  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 6}
	OIDNoCheck        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	OIDExtendedRevoke = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 9}
	OIDInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}
	OIDSHA1           = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	OIDSHA256         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	OIDSHA384         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	OIDSHA512         = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

// ResponseStatus is OCSPResponseStatus.
type ResponseStatus int

// The response statuses of RFC 6960 §4.2.1 (4 is not used).
const (
	Successful       ResponseStatus = 0
	MalformedRequest ResponseStatus = 1
	InternalError    ResponseStatus = 2
	TryLater         ResponseStatus = 3
	SigRequired      ResponseStatus = 5
	Unauthorized     ResponseStatus = 6
)

// String names the status as RFC 6960 does.
func (s ResponseStatus) String() string {
	switch s {
	case Successful:
		return "successful"
	case MalformedRequest:
		return "malformedRequest"
	case InternalError:
		return "internalError"
	case TryLater:
		return "tryLater"
	case SigRequired:
		return "sigRequired"
	case Unauthorized:
		return "unauthorized"
	}
	return fmt.Sprintf("unknown status %d", int(s))
}

// CertID identifies a certificate in requests and responses.
type CertID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// Request is one entry of a request list.
type Request struct {
	CertID     CertID
	Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
}

// TBSRequest is the request body.
type TBSRequest struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []Request
	Extensions    []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

// OCSPRequest is an unsigned OCSP request (probes never sign theirs).
type OCSPRequest struct {
	TBSRequest TBSRequest
	Signature  asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// ResponseBytes wraps the typed response.
type ResponseBytes struct {
	ResponseType asn1.ObjectIdentifier
	Response     []byte
}

// OCSPResponse is the outer response.
type OCSPResponse struct {
	Status        asn1.Enumerated
	ResponseBytes ResponseBytes `asn1:"explicit,tag:0,optional"`
}

// SingleResponse is the status of one certificate. CertStatus is kept raw
// (the CHOICE of [0] good, [1] revoked, [2] unknown) so any tag survives
// parsing and can be reported.
type SingleResponse struct {
	CertID     CertID
	CertStatus asn1.RawValue
	ThisUpdate time.Time        `asn1:"generalized"`
	NextUpdate time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	Extensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// RevokedInfo is the body of a revoked CertStatus. Reason stays raw so that
// an explicit unspecified(0) can be told apart from no reason at all.
type RevokedInfo struct {
	RevocationTime time.Time     `asn1:"generalized"`
	Reason         asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// ResponseData is the signed part of a basic response.
type ResponseData struct {
	Raw         asn1.RawContent
	Version     int `asn1:"explicit,tag:0,default:0,optional"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []SingleResponse
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

// BasicResponse is id-pkix-ocsp-basic.
type BasicResponse struct {
	TBSResponseData    ResponseData
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

// Cert statuses as the CertStatus CHOICE tags them.
const (
	StatusGood    = 0
	StatusRevoked = 1
	StatusUnknown = 2
)

// HashOID returns the CertID hash algorithm OID for h.
func HashOID(h crypto.Hash) (asn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA1:
		return OIDSHA1, nil
	case crypto.SHA256:
		return OIDSHA256, nil
	case crypto.SHA384:
		return OIDSHA384, nil
	case crypto.SHA512:
		return OIDSHA512, nil
	}
	return nil, fmt.Errorf("hash %v is not used in CertIDs", h)
}

// HashFromOID is the reverse of HashOID; ok is false for unknown OIDs.
func HashFromOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(OIDSHA1):
		return crypto.SHA1, true
	case oid.Equal(OIDSHA256):
		return crypto.SHA256, true
	case oid.Equal(OIDSHA384):
		return crypto.SHA384, true
	case oid.Equal(OIDSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

// PublicKeyBits returns the subjectPublicKey BIT STRING contents of a
// certificate: what issuerKeyHash and ResponderID byKey hash.
func PublicKeyBits(c *x509.Certificate) ([]byte, error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil, fmt.Errorf("parse subject public key info: %w", err)
	}
	return spki.PublicKey.RightAlign(), nil
}

// KeyHash is the SHA-1 of a certificate's public key bits (ResponderID byKey).
func KeyHash(c *x509.Certificate) ([]byte, error) {
	bits, err := PublicKeyBits(c)
	if err != nil {
		return nil, err
	}
	h := sha1.Sum(bits) //nolint:gosec // defined by RFC 6960
	return h[:], nil
}

// NewCertID builds the CertID of serial under issuer with hash h.
func NewCertID(h crypto.Hash, issuer *x509.Certificate, serial *big.Int) (CertID, error) {
	oid, err := HashOID(h)
	if err != nil {
		return CertID{}, err
	}
	if !h.Available() {
		return CertID{}, fmt.Errorf("hash %v not linked in", h)
	}
	bits, err := PublicKeyBits(issuer)
	if err != nil {
		return CertID{}, err
	}
	nh := h.New()
	nh.Write(issuer.RawSubject)
	kh := h.New()
	kh.Write(bits)
	return CertID{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.NullRawValue},
		IssuerNameHash: nh.Sum(nil),
		IssuerKeyHash:  kh.Sum(nil),
		SerialNumber:   serial,
	}, nil
}

// MarshalRequest encodes a request for the given CertIDs with an optional
// nonce (RFC 9654: the extension value is a DER OCTET STRING).
func MarshalRequest(ids []CertID, nonce []byte) ([]byte, error) {
	var req OCSPRequest
	for _, id := range ids {
		req.TBSRequest.RequestList = append(req.TBSRequest.RequestList, Request{CertID: id})
	}
	if nonce != nil {
		v, err := asn1.Marshal(nonce)
		if err != nil {
			return nil, fmt.Errorf("marshal nonce: %w", err)
		}
		req.TBSRequest.Extensions = []pkix.Extension{{Id: OIDNonce, Value: v}}
	}
	der, err := asn1.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("marshal request: %w", err)
	}
	return der, nil
}

// ParseRequest decodes an OCSP request.
func ParseRequest(der []byte) (*OCSPRequest, error) {
	var req OCSPRequest
	rest, err := asn1.Unmarshal(der, &req)
	if err != nil {
		return nil, fmt.Errorf("parse request: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("parse request: trailing data")
	}
	if len(req.TBSRequest.RequestList) == 0 {
		return nil, errors.New("parse request: empty request list")
	}
	return &req, nil
}

// Nonce returns the nonce of an extension list: the inner OCTET STRING, or
// the raw value when a responder did not wrap it (older servers do that).
func Nonce(exts []pkix.Extension) (nonce []byte, present bool) {
	for _, e := range exts {
		if e.Id.Equal(OIDNonce) {
			var inner []byte
			if rest, err := asn1.Unmarshal(e.Value, &inner); err == nil && len(rest) == 0 {
				return inner, true
			}
			return e.Value, true
		}
	}
	return nil, false
}

// Parsed is a decoded response: the outer status and, when successful, the
// basic response.
type Parsed struct {
	Status ResponseStatus
	Basic  *BasicResponse
	Certs  []*x509.Certificate // the certificates the response carries
}

// ParseResponse decodes a response without judging it.
func ParseResponse(der []byte) (*Parsed, error) {
	var outer OCSPResponse
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil {
		return nil, fmt.Errorf("parse OCSPResponse: %w", err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("parse OCSPResponse: %d bytes of trailing data", len(rest))
	}
	p := &Parsed{Status: ResponseStatus(outer.Status)}
	if p.Status != Successful {
		return p, nil
	}
	if !outer.ResponseBytes.ResponseType.Equal(OIDBasicResponse) {
		return nil, fmt.Errorf("parse OCSPResponse: response type %v is not id-pkix-ocsp-basic", outer.ResponseBytes.ResponseType)
	}
	var basic BasicResponse
	rest, err = asn1.Unmarshal(outer.ResponseBytes.Response, &basic)
	if err != nil {
		return nil, fmt.Errorf("parse BasicOCSPResponse: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("parse BasicOCSPResponse: trailing data")
	}
	for i, raw := range basic.Certificates {
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d in response: %w", i, err)
		}
		p.Certs = append(p.Certs, c)
	}
	p.Basic = &basic
	return p, nil
}

// ResponderID tags: byName [1], byKey [2].
const (
	ResponderByName = 1
	ResponderByKey  = 2
)

// ResponderIDByName encodes ResponderID byName for a certificate.
func ResponderIDByName(c *x509.Certificate) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ResponderByName, IsCompound: true, Bytes: c.RawSubject}
}

// ResponderIDByKey encodes ResponderID byKey for a certificate.
func ResponderIDByKey(c *x509.Certificate) (asn1.RawValue, error) {
	h, err := KeyHash(c)
	if err != nil {
		return asn1.RawValue{}, err
	}
	inner, err := asn1.Marshal(h)
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("marshal key hash: %w", err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: ResponderByKey, IsCompound: true, Bytes: inner}, nil
}

// ResponderKeyHash returns the key hash of a byKey ResponderID.
func ResponderKeyHash(id asn1.RawValue) ([]byte, error) {
	var h []byte
	if _, err := asn1.Unmarshal(id.Bytes, &h); err != nil {
		return nil, fmt.Errorf("parse ResponderID byKey: %w", err)
	}
	return h, nil
}

// Signature algorithms by OID, for checking response signatures with
// x509.Certificate.CheckSignature.
var (
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidRSAPSS          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// SignatureAlgorithm maps a signature AlgorithmIdentifier to x509's enum.
func SignatureAlgorithm(ai pkix.AlgorithmIdentifier) (x509.SignatureAlgorithm, error) {
	oid := ai.Algorithm
	switch {
	case oid.Equal(oidSHA1WithRSA):
		return x509.SHA1WithRSA, nil
	case oid.Equal(oidSHA256WithRSA):
		return x509.SHA256WithRSA, nil
	case oid.Equal(oidSHA384WithRSA):
		return x509.SHA384WithRSA, nil
	case oid.Equal(oidSHA512WithRSA):
		return x509.SHA512WithRSA, nil
	case oid.Equal(oidECDSAWithSHA1):
		return x509.ECDSAWithSHA1, nil
	case oid.Equal(oidECDSAWithSHA256):
		return x509.ECDSAWithSHA256, nil
	case oid.Equal(oidECDSAWithSHA384):
		return x509.ECDSAWithSHA384, nil
	case oid.Equal(oidECDSAWithSHA512):
		return x509.ECDSAWithSHA512, nil
	case oid.Equal(oidEd25519):
		return x509.PureEd25519, nil
	case oid.Equal(oidRSAPSS):
		var params struct {
			Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
		}
		if _, err := asn1.Unmarshal(ai.Parameters.FullBytes, &params); err != nil {
			return 0, fmt.Errorf("parse RSASSA-PSS parameters: %w", err)
		}
		switch h, _ := HashFromOID(params.Hash.Algorithm); h {
		case crypto.SHA256:
			return x509.SHA256WithRSAPSS, nil
		case crypto.SHA384:
			return x509.SHA384WithRSAPSS, nil
		case crypto.SHA512:
			return x509.SHA512WithRSAPSS, nil
		}
		return 0, errors.New("RSASSA-PSS with an unsupported hash")
	}
	return 0, fmt.Errorf("unsupported signature algorithm %v", oid)
}

// ECDSAWithSHA256 is the AlgorithmIdentifier pkisim signs with.
var ECDSAWithSHA256 = pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}
