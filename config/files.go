package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Limits on what Load reads. Every file the configuration names
// (certificates, keys, secrets, header files) is read whole at load, so each
// is bounded, and only regular files are read: a device such as /dev/zero or
// /dev/urandom, or a FIFO, named by mistake or by someone who can edit the
// file, fails the load at once with its key, instead of hanging check-config
// or taking a running daemon's memory on reload.
const (
	// MaxConfigBytes bounds probes.yaml itself (10,000 probes are ~1.5 MB).
	MaxConfigBytes = 32 << 20
	// MaxFileBytes bounds each file the configuration names (a bundle of
	// every root in a browser's store is under 1 MB).
	MaxFileBytes = 4 << 20
)

// errNotRegular and errTooLarge are what readFile refuses, wrapped in an
// *os.PathError like the errors of os.ReadFile.
var (
	errNotRegular = errors.New("not a regular file")
	errTooLarge   = errors.New("too large")
)

// ReadFile reads a file given outside the configuration (a command's
// flag) under the same rules as the files the configuration names: a
// regular file of at most MaxFileBytes, a FIFO or device refused at once.
func ReadFile(path string) ([]byte, error) { return readFile(path, MaxFileBytes) }

// readFile reads a regular file of at most limit bytes. It opens without
// blocking, so that a FIFO is refused rather than waited on.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w (%s)", errNotRegular, fileKind(fi.Mode()))}
	}
	if fi.Size() > limit {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, the limit is %d", errTooLarge, fi.Size(), limit)}
	}
	// The size can change while the file is read: bound the read too.
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: over %d bytes, the limit", errTooLarge, limit)}
	}
	return data, nil
}

// fileKind names what a non-regular file is, for the error.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}
