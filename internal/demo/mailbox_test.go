package demo

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A base64 part wrapped at 76 columns with CRLF, as mailers send it, reads
// back whole: the standard decoder skips the line breaks.
func TestBodyPartsWrappedBase64(t *testing.T) {
	want := strings.Repeat("OCSP 応答の遅延を調査しています。", 8)
	enc := base64.StdEncoding.EncodeToString([]byte(want))
	var wrapped strings.Builder
	for len(enc) > 76 {
		wrapped.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	wrapped.WriteString(enc + "\r\n")
	body := "--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapped.String() +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>hi=3D</p>\r\n--b--\r\n"
	text, html, err := bodyParts(`multipart/alternative; boundary="b"`, "", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
	if html != "<p>hi=</p>" {
		t.Errorf("html = %q", html)
	}
}
