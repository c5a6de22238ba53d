//go:build !linux

package store

import (
	"syscall"
	"time"
)

// setUserTimeout does nothing where TCP_USER_TIMEOUT is Linux's alone: the
// keepalives still end a connection to a vanished server.
func setUserTimeout(syscall.RawConn, time.Duration) error { return nil }
