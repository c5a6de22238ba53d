package pkisim

// Fault is one way the simulated CA can misbehave. Turn faults on and off
// with Sim.Set; every fault is off after New.
type Fault string

// OCSP faults. Each breaks exactly one check of the ocsp kind (named in the
// comment) and nothing else critical.
const (
	// OCSPStale: nextUpdate passed 2h ago (ocsp_next_update).
	OCSPStale Fault = "ocsp_stale"
	// OCSPTooOld: thisUpdate 5 days old, older than the BR 4-day refresh
	// rule, nextUpdate still ahead (ocsp_this_update_age).
	OCSPTooOld Fault = "ocsp_too_old"
	// OCSPFuture: thisUpdate an hour ahead (ocsp_this_update).
	OCSPFuture Fault = "ocsp_future"
	// OCSPLongValidity: nextUpdate − thisUpdate is 11 days (ocsp_validity).
	OCSPLongValidity Fault = "ocsp_long_validity"
	// OCSPShortValidity: valid for 4 hours, under the BR minimum of 8
	// (ocsp_validity_min).
	OCSPShortValidity Fault = "ocsp_short_validity"
	// OCSPLateRefresh: a 24-hour response still served 4 hours before its
	// nextUpdate; the BRs want it replaced 8 hours before (ocsp_refresh).
	OCSPLateRefresh Fault = "ocsp_late_refresh"
	// OCSPValidity240h: nextUpdate − thisUpdate is exactly 240 hours, one
	// second over 10 days when counted inclusively (ocsp_validity).
	OCSPValidity240h Fault = "ocsp_validity_240h"
	// OCSPSHA1: the response is signed with ECDSA with SHA-1
	// (ocsp_signature_algorithm).
	OCSPSHA1 Fault = "ocsp_sha1"
	// OCSPSignerSHA1: the delegated responder certificate is signed by the
	// issuing CA with ECDSA with SHA-1 (ocsp_signature_algorithm; ocsp_signer
	// still passes: the CA did issue it).
	OCSPSignerSHA1 Fault = "ocsp_signer_sha1"
	// OCSPWeakKey: signed by a delegated responder with a 1024-bit RSA key
	// (ocsp_signature_algorithm).
	OCSPWeakKey Fault = "ocsp_weak_key"
	// OCSPWrongSigner: signed by a responder of an unrelated CA (ocsp_signer).
	OCSPWrongSigner Fault = "ocsp_wrong_signer"
	// OCSPSignerNoEKU: the delegated signer lacks id-kp-OCSPSigning (ocsp_signer_eku).
	OCSPSignerNoEKU Fault = "ocsp_signer_no_eku"
	// OCSPSignerNoCheck: the delegated signer lacks id-pkix-ocsp-nocheck (ocsp_signer_nocheck).
	OCSPSignerNoCheck Fault = "ocsp_signer_no_nocheck"
	// OCSPOtherSerial: the CertID answered has another serial (ocsp_cert_id).
	OCSPOtherSerial Fault = "ocsp_other_serial"
	// OCSPOtherIssuer: the CertID answered has another issuer's hashes (ocsp_cert_id).
	OCSPOtherIssuer Fault = "ocsp_other_issuer"
	// OCSPTryLater: responseStatus tryLater (ocsp_response_status).
	OCSPTryLater Fault = "ocsp_try_later"
	// OCSPUnauthorized: responseStatus unauthorized (ocsp_response_status).
	OCSPUnauthorized Fault = "ocsp_unauthorized"
	// OCSPMalformed: responseStatus malformedRequest (ocsp_response_status).
	OCSPMalformed Fault = "ocsp_malformed"
	// OCSPGoodForRevoked: the revoked certificate is reported good (ocsp_status).
	OCSPGoodForRevoked Fault = "ocsp_good_for_revoked"
	// OCSPUnknownForGood: the good certificate is reported unknown (ocsp_status).
	OCSPUnknownForGood Fault = "ocsp_unknown_for_good"
	// OCSPWrongNonce: the nonce in the response differs from the request's (ocsp_nonce).
	OCSPWrongNonce Fault = "ocsp_wrong_nonce"
	// OCSPCriticalExtension: an unknown critical response extension (ocsp_extensions).
	OCSPCriticalExtension Fault = "ocsp_critical_extension"
	// OCSPBadCacheHeaders: Cache-Control max-age and Expires reach a week
	// past nextUpdate (ocsp_cache_headers, a warning).
	OCSPBadCacheHeaders Fault = "ocsp_bad_cache_headers"
	// OCSPWrongContentType: text/html instead of application/ocsp-response (ocsp_content_type).
	OCSPWrongContentType Fault = "ocsp_wrong_content_type"
	// OCSPNotFound: HTTP 404 (ocsp_http_status).
	OCSPNotFound Fault = "ocsp_404"
	// OCSPSlow: no answer until the client gives up (ocsp_transport).
	OCSPSlow Fault = "ocsp_slow"
	// OCSPDown: the connection is closed without a response (ocsp_transport).
	OCSPDown Fault = "ocsp_down"
	// OCSPGarbage: a 200 whose body is not DER (ocsp_parse).
	OCSPGarbage Fault = "ocsp_garbage"
	// OCSPHuge: a body over the 1 MiB OCSP limit (ocsp_body_size).
	OCSPHuge Fault = "ocsp_huge"
)

// CRL faults, each breaking the crl_* check named.
const (
	// CRLExpired: nextUpdate passed an hour ago (crl_next_update).
	CRLExpired Fault = "crl_expired"
	// CRLNumberBack: the CRL number is 10 below the current one (crl_number_increasing).
	CRLNumberBack Fault = "crl_number_back"
	// CRLDroppedSerial: the revoked certificate's entry is missing although
	// the certificate has not expired (crl_dropped_serial).
	CRLDroppedSerial Fault = "crl_dropped_serial"
	// CRLBadSignature: one byte of the signature flipped (crl_signature).
	CRLBadSignature Fault = "crl_bad_signature"
	// CRLIssuerMismatch: the issuer name is the CA subject re-encoded as
	// UTF8String: equal as text, not byte-identical (crl_issuer_name).
	CRLIssuerMismatch Fault = "crl_issuer_mismatch"
	// CRLMissingNumber: no CRLNumber extension (crl_number).
	CRLMissingNumber Fault = "crl_missing_number"
	// CRLHold: an entry with reason certificateHold (crl_entry_reasons).
	CRLHold Fault = "crl_hold"
	// CRLReasonUnspecified: an entry with explicit reason unspecified (crl_entry_reasons).
	CRLReasonUnspecified Fault = "crl_reason_unspecified"
	// CRLIDPMismatch: the issuingDistributionPoint names another URL (crl_idp).
	CRLIDPMismatch Fault = "crl_idp_mismatch"
	// CRLUnknownCritical: a critical CRL extension no client knows (crl_extensions).
	CRLUnknownCritical Fault = "crl_unknown_critical"
	// CRLDelta: the CRL carries a deltaCRLIndicator (crl_delta).
	CRLDelta Fault = "crl_delta"
	// CRLIndirect: the issuingDistributionPoint says indirectCRL (crl_idp_scope).
	CRLIndirect Fault = "crl_indirect"
	// CRLAttributeCerts: the issuingDistributionPoint says
	// onlyContainsAttributeCerts (crl_idp_scope).
	CRLAttributeCerts Fault = "crl_attribute_certs"
	// CRLSomeReasons: the issuingDistributionPoint limits the CRL to
	// keyCompromise (onlySomeReasons, crl_idp_scope).
	CRLSomeReasons Fault = "crl_some_reasons"
	// CRLCriticalReason: an entry whose reasonCode is critical (crl_entry_extensions).
	CRLCriticalReason Fault = "crl_critical_reason"
	// CRLUnknownCriticalEntry: an entry with a critical extension no client
	// knows (crl_entry_extensions).
	CRLUnknownCriticalEntry Fault = "crl_unknown_critical_entry"
	// CRLReasonNotAllowed: an entry with reason cACompromise on a CRL of
	// subscriber certificates (crl_entry_reasons).
	CRLReasonNotAllowed Fault = "crl_reason_not_allowed"
	// CRLSHA1: the CRL is signed with ECDSA with SHA-1 (crl_signature_algorithm).
	CRLSHA1 Fault = "crl_sha1"
	// CRLNotFound: HTTP 404 (crl_http_status).
	CRLNotFound Fault = "crl_404"
	// CRLSlow: no answer until the client gives up (crl_transport).
	CRLSlow Fault = "crl_slow"
	// CRLDown: the connection is closed without a response (crl_transport).
	CRLDown Fault = "crl_down"
	// CRLGarbage: a 200 whose body is not a CRL (crl_parse).
	CRLGarbage Fault = "crl_garbage"
	// CRLHuge: a body of Options.HugeBodyBytes (crl_body_size when over max_bytes).
	CRLHuge Fault = "crl_huge"
)

// KnownFaults lists every fault in the order a fault panel shows them.
// TSA and ACME faults are appended to this list where they are defined.
func KnownFaults() []Fault {
	return []Fault{
		OCSPStale, OCSPTooOld, OCSPFuture, OCSPLongValidity,
		OCSPShortValidity, OCSPLateRefresh, OCSPValidity240h, OCSPSHA1, OCSPSignerSHA1, OCSPWeakKey,
		OCSPWrongSigner, OCSPSignerNoEKU, OCSPSignerNoCheck,
		OCSPOtherSerial, OCSPOtherIssuer,
		OCSPTryLater, OCSPUnauthorized, OCSPMalformed,
		OCSPGoodForRevoked, OCSPUnknownForGood, OCSPWrongNonce, OCSPCriticalExtension,
		OCSPBadCacheHeaders, OCSPWrongContentType, OCSPNotFound,
		OCSPSlow, OCSPDown, OCSPGarbage, OCSPHuge,

		CRLExpired, CRLNumberBack, CRLDroppedSerial, CRLBadSignature, CRLIssuerMismatch,
		CRLMissingNumber, CRLHold, CRLReasonUnspecified, CRLIDPMismatch,
		CRLUnknownCritical, CRLDelta, CRLIndirect, CRLAttributeCerts, CRLSomeReasons,
		CRLCriticalReason, CRLUnknownCriticalEntry, CRLReasonNotAllowed, CRLSHA1,
		CRLNotFound, CRLSlow, CRLDown, CRLGarbage, CRLHuge,

		TSARejection, TSAWrongNonce, TSAImprintMismatch, TSAClockSkew, TSAWrongPolicy, TSANoCert,
		TSASignerNoEKU, TSASignerEKUNotCritical, TSASignerExpired, TSABadSignature,
		TSAUnrequestedCerts, TSAWrongName, TSASHA1, TSASlow, TSADown, TSAGarbage,

		ACMEMissingFields, ACMENotHTTPS, ACMENonceMissing, ACMENonceBad, ACMENoCacheHeader, ACMEErrorNotProblem,
		ACMESlow, ACMEDown, ACMEGarbage,
	}
}
