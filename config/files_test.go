package config_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/probed/probed/config"
)

// TestNamedFilesReadSafely: a device or a FIFO named as a certificate, a
// secret or a header file, or a file over the limit, is refused at its key
// (a FIFO without a writer would block a plain read for ever; /dev/zero and
// /dev/urandom would fill memory).
func TestNamedFilesReadSafely(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, config.MaxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	tooLarge := "too large: " + strconv.Itoa(config.MaxFileBytes+1) + " bytes, the limit is " + strconv.Itoa(config.MaxFileBytes)
	for _, f := range []struct{ path, why string }{
		{"/dev/zero", "not a regular file (a character device)"},
		{"/dev/urandom", "not a regular file (a character device)"},
		{fifo, "not a regular file (a named pipe)"},
		{dir, "not a regular file (a directory)"},
		{big, tooLarge},
	} {
		t.Run(filepath.Base(f.path), func(t *testing.T) {
			file := filepath.Join(dir, "probes.yaml")
			write(t, file, `components: [{id: api, name: API}]
probes:
  - name: a
    component: api
    kind: http
    http:
      url: https://127.0.0.1/
      ca_file: `+f.path+`
      header_files: {X-Key: `+f.path+`}
notify:
  smtp: {username: u, password_file: `+f.path+`}
`)
			_, err := config.Load(file, kinds)
			want := []string{
				file + ":8: probes[0].http.ca_file: cannot read certificate file " + f.path + ": " + f.why,
				file + ":9: probes[0].http.header_files.X-Key: cannot read " + f.path + ": " + f.why,
				file + ":11: notify.smtp.password_file: cannot read the password file: " + f.why,
			}
			if got := errString(err); got != strings.Join(want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
	// The configuration file itself.
	for _, f := range []string{"/dev/zero", fifo} {
		_, err := config.Load(f, kinds)
		if want := f + ": read config: read " + f + ": not a regular file"; !strings.HasPrefix(errString(err), want) {
			t.Errorf("Load(%s) = %v, want %s ...", f, err, want)
		}
	}
}
