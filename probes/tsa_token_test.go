package probes

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/probed/probed/config"
)

// Tokens openssl will not make and the sim has no fault for: built here with
// digitorus/pkcs7 (signer CA, extra EKU, ESSCertID naming another
// certificate or missing) and digitorus/timestamp (error responses), checked
// with checkTSAResponse directly.

type tokenPKI struct {
	root    *x509.Certificate
	rootKey crypto.Signer
	cfg     *config.TSAProbe
}

func newTokenPKI(t *testing.T) *tokenPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "token test root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &tokenPKI{root: root, rootKey: key, cfg: &config.TSAProbe{HashFunc: crypto.SHA256, RootPool: pool, CertReq: true,
		MaxSkew: config.Duration(time.Second), MaxAccuracy: config.Duration(time.Second), SignerExpiryWarning: config.Duration(time.Hour)}}
}

// signer issues a TSA signer; ekus are the EKU OIDs, marked critical.
func (p *tokenPKI) signer(t *testing.T, cn string, isCA bool, ekus ...asn1.ObjectIdentifier) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku, _ := asn1.Marshal(ekus)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: p.root.NotBefore, NotAfter: p.root.NotAfter,
		IsCA: isCA, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root, key.Public(), p.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

var oidKPTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}

type tokenOpts struct {
	essCert     *x509.Certificate // certificate ESSCertIDv2 names (default: the signer)
	noESS       bool
	contentType asn1.ObjectIdentifier
}

// reply makes a granted TimeStampResp for req signed by cert.
func (p *tokenPKI) reply(t *testing.T, req *tsaRequest, cert *x509.Certificate, key crypto.Signer, o tokenOpts) []byte {
	t.Helper()
	info, err := asn1.Marshal(tstInfoASN1{Version: 1, Policy: asn1.ObjectIdentifier{1, 2, 3}, SerialNumber: big.NewInt(7), GenTime: time.Now().UTC().Truncate(time.Millisecond),
		MessageImprint: tsaImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, HashedMessage: req.digest},
		Accuracy:       tsaAccuracy{Seconds: 1}, Nonce: req.nonce})
	if err != nil {
		t.Fatal(err)
	}
	sd, err := pkcs7.NewSignedData(info)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	ct := oidTSTInfo
	if o.contentType != nil {
		ct = o.contentType
	}
	sd.SetContentType(ct)
	var cfg pkcs7.SignerInfoConfig
	if !o.noESS {
		named := cert
		if o.essCert != nil {
			named = o.essCert
		}
		h := sha256.Sum256(named.Raw)
		ess, err := asn1.Marshal(essSigningCertificateV2{Certs: []essCertIDv2{{CertHash: h[:]}}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.ExtraSignedAttributes = []pkcs7.Attribute{{Type: oidSigningCertificate2, Value: asn1.RawValue{FullBytes: ess}}}
	}
	if err := sd.AddSigner(cert, key, cfg); err != nil {
		t.Fatal(err)
	}
	token, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(tsaResponseASN1{Token: asn1.RawValue{FullBytes: token}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestTSATokens(t *testing.T) {
	p := newTokenPKI(t)
	good, goodKey := p.signer(t, "TSA", false, oidKPTimeStamping)
	other, _ := p.signer(t, "other TSA", false, oidKPTimeStamping)
	ca, caKey := p.signer(t, "TSA that is a CA", true, oidKPTimeStamping)
	twoEKU, twoKey := p.signer(t, "TSA with codeSigning too", false, oidKPTimeStamping, asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 3})
	withMods := func(b []byte) []byte {
		var r tsaResponseASN1
		if _, err := asn1.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		r.Status.Status = 1
		out, err := asn1.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	rejection := func(t *testing.T) []byte {
		b, err := timestamp.CreateErrorResponse(timestamp.Rejection, timestamp.SystemFailure)
		if err != nil {
			t.Fatal(err)
		}
		var r tsaResponseASN1
		if _, err := asn1.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		// Add badRequest (bit 2) beside systemFailure, and a statusString
		// (encoding/asn1 cannot marshal the utf8 tag on a slice, so the
		// status is rebuilt with raw UTF8Strings).
		r.Status.FailInfo.Bytes[0] |= 0x20
		type statusOut struct {
			Status       int
			StatusString []asn1.RawValue
			FailInfo     asn1.BitString
		}
		out, err := asn1.Marshal(struct{ Status statusOut }{statusOut{Status: 2,
			StatusString: []asn1.RawValue{{Tag: asn1.TagUTF8String, Bytes: []byte("HSM offline")}}, FailInfo: r.Status.FailInfo}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		reply  func(t *testing.T, req *tsaRequest) []byte
		failed []string
		check  string
		msg    []string
	}{
		{name: "good", reply: func(t *testing.T, req *tsaRequest) []byte { return p.reply(t, req, good, goodKey, tokenOpts{}) },
			check: "tsa_ess_cert_id", msg: []string{"ESSCertIDv2 matches"}},
		{name: "grantedWithMods", reply: func(t *testing.T, req *tsaRequest) []byte {
			return withMods(p.reply(t, req, good, goodKey, tokenOpts{}))
		},
			check: "tsa_status", msg: []string{"grantedWithMods"}},
		{name: "ESS names another certificate", reply: func(t *testing.T, req *tsaRequest) []byte {
			return p.reply(t, req, good, goodKey, tokenOpts{essCert: other})
		}, failed: []string{"tsa_ess_cert_id"}, check: "tsa_ess_cert_id", msg: []string{"does not match the signer certificate"}},
		{name: "no ESS attribute", reply: func(t *testing.T, req *tsaRequest) []byte {
			return p.reply(t, req, good, goodKey, tokenOpts{noESS: true})
		},
			failed: []string{"tsa_ess_cert_id"}, check: "tsa_ess_cert_id", msg: []string{"no signingCertificate"}},
		{name: "signer is a CA", reply: func(t *testing.T, req *tsaRequest) []byte { return p.reply(t, req, ca, caKey, tokenOpts{}) },
			failed: []string{"tsa_signer_not_ca"}, check: "tsa_signer_not_ca", msg: []string{"is a CA certificate"}},
		{name: "extra EKU", reply: func(t *testing.T, req *tsaRequest) []byte { return p.reply(t, req, twoEKU, twoKey, tokenOpts{}) },
			failed: []string{"tsa_signer_eku"}, check: "tsa_signer_eku", msg: []string{"timeStamping,codeSigning"}},
		{name: "content type id-data", reply: func(t *testing.T, req *tsaRequest) []byte {
			return p.reply(t, req, good, goodKey, tokenOpts{contentType: pkcs7.OIDData})
		}, failed: []string{"tsa_token"}, check: "tsa_token", msg: []string{"want id-ct-TSTInfo"}},
		{name: "granted without token", reply: func(t *testing.T, req *tsaRequest) []byte {
			b, _ := asn1.Marshal(tsaResponseASN1{})
			return b
		}, failed: []string{"tsa_token"}, check: "tsa_token", msg: []string{"no timeStampToken"}},
		{name: "rejection with two failInfo bits", reply: func(t *testing.T, req *tsaRequest) []byte { return rejection(t) },
			failed: []string{"tsa_status"}, check: "tsa_status", msg: []string{"rejection, failInfo badRequest,systemFailure", `"HSM offline"`, "internal failure"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := newTSARequest(crypto.SHA256, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			r := NewReport(nil, nil)
			if !checkTSAResponse(r, p.cfg, req, tc.reply(t, req), now.Add(-time.Second), now.Add(time.Second)) {
				t.Fatal("reply did not parse")
			}
			taAssertFailed(t, r, tc.failed...)
			taAssertMessage(t, r, tc.check, tc.msg...)
		})
	}
}
