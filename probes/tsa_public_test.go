package probes

import (
	"crypto"
	"encoding/hex"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/internal/vectors"
)

// TestTSAPublicReplies judges GlobalSign's real 2017 replies (from
// digitorus/timestamp's tests) against the requests they answered, at
// their genTime, with GlobalSign's issuing CA (embedded in the tokens) as
// the trust anchor.
func TestTSAPublicReplies(t *testing.T) {
	digest, _ := hex.DecodeString("f487d88164bde223b7fd3c71b3e9c624c8a0cb559c853b49558e7e5ef4ce55f0")
	roots := vectors.Path("tsa/globalsign-primary-sha256-ca-for-adobe.pem")
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	doc := "components: [{id: c, name: C}]\nprobes:\n  - {name: p, component: c, kind: tsa, tsa: {url: 'http://tsa.test/', roots: " + roots + ", policy: 1.3.6.1.4.1.4146.2.1}}\n"
	if err := os.WriteFile(cfgPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, Kinds())
	if err != nil {
		t.Fatal(err)
	}
	tcfg := cfg.Probes[0].TSA
	for _, tc := range []struct {
		file    string
		nonce   string // hex, "" for none
		certReq bool
		genTime time.Time
		crit    []string
	}{
		{"digitorus-nonce-2017-04-19.tsr", "092ef19ffb5d2ae8", true, time.Date(2017, 4, 19, 6, 29, 53, 0, time.UTC), nil},
		{"digitorus-nocert-2017-04-19.tsr", "b1fc81dec95749d9", false, time.Date(2017, 4, 19, 6, 32, 43, 0, time.UTC),
			// No certificate embedded (certReq false) and none configured:
			// the signer cannot be found.
			[]string{"tsa_signature"}},
		// The request carried no nonce; probed always sends one, so the
		// reply fails exactly the nonce check.
		{"digitorus-nononce-2017-04-19.tsr", "", true, time.Date(2017, 4, 19, 6, 28, 13, 0, time.UTC), []string{"tsa_nonce"}},
		{"digitorus-rejection.tsr", "01", true, time.Date(2017, 4, 19, 6, 28, 13, 0, time.UTC), []string{"tsa_status"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body, err := os.ReadFile(vectors.Path("tsa/" + tc.file))
			if err != nil {
				t.Fatal(err)
			}
			nonce := new(big.Int)
			if tc.nonce != "" {
				nonce.SetString(tc.nonce, 16)
			} else {
				nonce.SetInt64(42) // what probed would have sent
			}
			req := &tsaRequest{hash: crypto.SHA256, digest: digest, nonce: nonce, certReq: tc.certReq}
			r := NewReport(clock.NewFake(tc.genTime), nil)
			checkTSAResponse(r, tcfg, req, body, tc.genTime, tc.genTime)
			var got []string
			for _, c := range r.Failed() {
				if c.Severity == Critical {
					got = append(got, c.Name)
				}
			}
			slices.Sort(got)
			if testing.Verbose() {
				for _, c := range r.Checks() {
					t.Logf("%-24s ok=%v %s", c.Name, c.OK, c.Message)
				}
			}
			if !slices.Equal(got, tc.crit) {
				for _, c := range r.Checks() {
					t.Logf("%-24s ok=%v %s", c.Name, c.OK, c.Message)
				}
				t.Fatalf("critical failures %v, want %v", got, tc.crit)
			}
		})
	}
}
