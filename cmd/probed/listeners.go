package main

import (
	"net"
	"net/http"
	"syscall"

	"github.com/probed/probed/internal/connlimit"
)

// fdReserve is how many file descriptors are kept for everything but the
// listeners' connections: the probes' runs in flight (two each: a dial
// can overlap a closing connection), the database, logs and mail.
const fdReserve = 2*256 + 256

// capListener wraps a listener with the configured connection caps, lowered
// so that every listener at its cap still leaves fdReserve descriptors:
// a flood of clients must never take the descriptors probes need.
func (d *Daemon) capListener(ln net.Listener, name string, listeners int) *connlimit.Listener {
	cfg := d.Config()
	limit, perClient := cfg.Server.MaxConnections, cfg.Server.MaxConnectionsPerClient
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 1<<40 {
		if budget := max(16, (int(lim.Cur)-fdReserve)/listeners); budget < limit {
			d.logger.Warn("connection cap lowered to fit the file descriptor limit", "listener", name, "max_connections", limit, "lowered_to", budget, "nofile", lim.Cur, "reserved_for_probes", fdReserve)
			limit = budget
		}
	}
	return connlimit.Wrap(ln, connlimit.Options{Name: name, Max: limit, PerClient: min(perClient, limit), Exempt: cfg.Notify.Subscribe.Proxies, Registerer: d.registry})
}

// connState lets a capped listener see which of its connections are idle.
func connState(srv *http.Server, ln net.Listener) *http.Server {
	if cl, ok := ln.(*connlimit.Listener); ok {
		srv.ConnState = cl.ConnState
	}
	return srv
}
