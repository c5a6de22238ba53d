package probes_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/internal/ocspwire"
	"github.com/probed/probed/internal/testtool"
)

// opensslCA is a CA made by the openssl command line in a temp dir: a root,
// an issuing CA run with `openssl ca` (index.txt, serial, crlnumber), a
// delegated OCSP responder and leaves. Tests run `openssl ocsp` on it and
// serve its `openssl ca -gencrl` output.
type opensslCA struct {
	t      testing.TB
	dir    string
	port   int // the OCSP port the leaves' AIA names
	crlURL string
}

func (ca *opensslCA) path(name string) string { return filepath.Join(ca.dir, name) }

func (ca *opensslCA) run(args ...string) string {
	ca.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Dir = ca.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		ca.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

const caConf = `[ ca ]
default_ca = issuing

[ issuing ]
dir = .
database = index.txt
new_certs_dir = newcerts
certificate = issuer.pem
private_key = issuer.key
serial = serial
crlnumber = crlnumber
default_md = sha256
default_days = 90
default_crl_days = 7
policy = anything
unique_subject = no
copy_extensions = none
crl_extensions = crl_ext

[ anything ]
commonName = supplied

[ req ]
distinguished_name = dn
[ dn ]

[ root_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ issuer_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ leaf_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = OCSP;URI:http://127.0.0.1:%[1]d/
crlDistributionPoints = URI:%[2]s

[ ocsp_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ crl_ext ]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp

[ idp ]
fullname = URI:%[2]s
onlyuser = TRUE
`

// newOpenSSLCA builds the hierarchy. port is the OCSP responder's port
// (written into the leaves' AIA); crlURL is where the CRL will be served.
func newOpenSSLCA(t testing.TB, port int, crlURL string) *opensslCA {
	t.Helper()
	testtool.OpenSSL(t)
	ca := &opensslCA{t: t, dir: t.TempDir(), port: port, crlURL: crlURL}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(ca.path("ca.cnf"), fmt.Appendf(nil, caConf, port, crlURL), 0o644))
	must(os.Mkdir(ca.path("newcerts"), 0o755))
	must(os.WriteFile(ca.path("index.txt"), nil, 0o644))
	must(os.WriteFile(ca.path("crlnumber"), []byte("1000\n"), 0o644))
	ec := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"}
	ca.run(append([]string{"req", "-x509", "-config", "ca.cnf", "-extensions", "root_ext", "-subj", "/C=JP/O=probed test/CN=openssl Test Root", "-days", "3650", "-keyout", "root.key", "-out", "root.pem"}, ec...)...)
	ca.run(append([]string{"req", "-new", "-config", "ca.cnf", "-subj", "/C=JP/O=probed test/CN=openssl Issuing CA", "-keyout", "issuer.key", "-out", "issuer.csr"}, ec...)...)
	ca.run("x509", "-req", "-in", "issuer.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "1825", "-extfile", "ca.cnf", "-extensions", "issuer_ext", "-out", "issuer.pem")
	must(os.WriteFile(ca.path("serial"), []byte("1001\n"), 0o644))
	ca.issue("ocsp", "ocsp_ext", "")
	return ca
}

// issue makes a key and a certificate for cn with the given extensions; a
// non-empty serial (hex) is used as the certificate's serial.
func (ca *opensslCA) issue(cn, ext, serial string) *x509.Certificate {
	ca.t.Helper()
	if serial != "" {
		if err := os.WriteFile(ca.path("serial"), []byte(serial+"\n"), 0o644); err != nil {
			ca.t.Fatal(err)
		}
	}
	ca.run("req", "-new", "-config", "ca.cnf", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN="+cn, "-keyout", cn+".key", "-out", cn+".csr")
	ca.run("ca", "-batch", "-config", "ca.cnf", "-extensions", ext, "-notext", "-in", cn+".csr", "-out", cn+".pem")
	return ca.cert(cn + ".pem")
}

func (ca *opensslCA) cert(name string) *x509.Certificate {
	ca.t.Helper()
	b, err := os.ReadFile(ca.path(name))
	if err != nil {
		ca.t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		ca.t.Fatalf("%s: no PEM", name)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		ca.t.Fatal(err)
	}
	return c
}

func (ca *opensslCA) revoke(cn, reason string) {
	ca.t.Helper()
	ca.run("ca", "-config", "ca.cnf", "-revoke", cn+".pem", "-crl_reason", reason)
}

// gencrl issues a CRL with the next CRL number and returns it as DER.
func (ca *opensslCA) gencrl() []byte {
	ca.t.Helper()
	ca.run("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem")
	ca.run("crl", "-in", "crl.pem", "-outform", "DER", "-out", "crl.der")
	b, err := os.ReadFile(ca.path("crl.der"))
	if err != nil {
		ca.t.Fatal(err)
	}
	return b
}

// slashPlusSerial finds a serial whose OCSP request, in both CertID hashes,
// has '/' and '+' in its base64: the GET encoding responders get wrong.
func slashPlusSerial(t testing.TB, issuer *x509.Certificate) string {
	t.Helper()
	for i := int64(0x100000); i < 0x100000+200000; i++ {
		serial := big.NewInt(i * 7919)
		ok := true
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			id, err := ocspwire.NewCertID(h, issuer, serial)
			if err != nil {
				t.Fatal(err)
			}
			der, err := ocspwire.MarshalRequest([]ocspwire.CertID{id}, nil)
			if err != nil {
				t.Fatal(err)
			}
			enc := base64.StdEncoding.EncodeToString(der)
			ok = ok && strings.Contains(enc, "/") && strings.Contains(enc, "+")
		}
		if ok {
			s := serial.Text(16)
			if len(s)%2 == 1 {
				s = "0" + s
			}
			return s
		}
	}
	t.Fatal("no serial with / and + in its GET encoding")
	return ""
}

// freePort finds a port `openssl ocsp -port` can bind (it listens on every
// address). It is drawn below the kernel's ephemeral range (32768 and up):
// a port the kernel hands out for :0 can be taken by an outgoing connection
// before openssl binds it, which a machine busy with other tests' thousands
// of loopback connections does within milliseconds.
func freePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := 20000 + mathrand.IntN(12768)
		l, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port in 20000-32767 after 200 tries")
	return 0
}

// startOCSP runs `openssl ocsp` as a responder on port with extra flags
// (-nmin or -ndays among them), waits until it listens and stops it when the
// test ends. Readiness is its "ACCEPT" line, not a test connection: an
// openssl 3.0 responder hangs for good on a connection closed without a
// request.
func (ca *opensslCA) startOCSP(port int, signer string, extra ...string) {
	t := ca.t
	t.Helper()
	args := append([]string{"ocsp", "-index", "index.txt", "-port", fmt.Sprint(port), "-rsigner", signer + ".pem", "-rkey", signer + ".key", "-CA", "issuer.pem"}, extra...)
	cmd := exec.Command("openssl", args...)
	cmd.Dir = ca.dir
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	ready := make(chan struct{})
	var mu sync.Mutex
	var log strings.Builder
	go func() {
		// Drain the output for the process's life, so it never blocks on a full pipe.
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !signalled && strings.HasPrefix(sc.Text(), "ACCEPT") {
				close(ready)
				signalled = true
			}
		}
		pr.Close()
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	output := func() string { mu.Lock(); defer mu.Unlock(); return log.String() }
	select {
	case <-ready:
	case err := <-exited:
		exited <- err
		t.Fatalf("openssl ocsp exited before listening: %v\n%s", err, output())
	case <-time.After(15 * time.Second):
		t.Fatalf("openssl ocsp not listening on port %d after 15s:\n%s", port, output())
	}
}
