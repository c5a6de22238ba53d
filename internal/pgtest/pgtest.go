// Package pgtest starts a real PostgreSQL server for tests: Debian's
// postgresql package (initdb and postgres from /usr/lib/postgresql/*/bin or
// PATH) in a temporary directory, listening on a loopback port with its unix
// sockets in that directory, and gives each test a fresh database.
//
// One server serves a whole test package; it starts on the first test that
// asks for a database, so packages whose PostgreSQL tests are filtered out
// pay nothing. The package's TestMain stops it:
//
//	var pg = new(pgtest.Server)
//
//	func TestMain(m *testing.M) { pgtest.Main(m, pg) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pg.DSN(t) // a new, empty database, dropped when t ends
//		...
//	}
//
// Run as root, the server runs as the unprivileged user nobody (PostgreSQL
// refuses to run as root) and its directory belongs to that user. The server
// is a child of the test binary and is told to die with it (a parent-death
// signal), so a killed test run leaves no server behind.
//
// When PostgreSQL is missing, DSN skips the test with a message naming the
// package, or fails it when PROBED_REQUIRE_TOOLS=1 (internal/testtool).
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/probed/probed/internal/testtool"
)

// Server is one PostgreSQL server for a test package. The zero value is
// ready to use; the server starts on the first call to DSN.
type Server struct {
	once    sync.Once
	err     error // why the server could not start
	missing bool  // err is "PostgreSQL is not installed"

	dir    string // temporary directory: data/, sockets, log
	port   int
	bin    string              // the directory of initdb and postgres
	cred   *syscall.Credential // the user the server runs as (nil: ourselves)
	cmd    *exec.Cmd
	exited chan struct{} // closed when the postgres process has exited
	admin  *sql.DB       // connection to the postgres database, for CREATE/DROP DATABASE
	seq    atomic.Int64
}

// startTimeout bounds initdb plus the server's start-up.
const startTimeout = 60 * time.Second

// Main runs the package's tests, stops s, and exits with the tests' code.
func Main(m *testing.M, s *Server) {
	code := m.Run()
	s.Stop()
	os.Exit(code)
}

// DSN creates a new, empty database for t on the package's server (starting
// the server on first use) and returns its connection string, in the
// key=value form pgx and libpq read. The database is dropped when t ends.
func (s *Server) DSN(t testing.TB) string {
	t.Helper()
	s.started(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// FILE_COPY: copying the tiny template0 beats writing it through the WAL.
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 STRATEGY FILE_COPY"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if s.cmd == nil {
			return // stopped for good (a failover test): it goes with its directory
		}
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		// FORCE closes connections a test left open.
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// started starts the server on first use, and skips or fails t when it
// cannot run.
func (s *Server) started(t testing.TB) {
	t.Helper()
	s.once.Do(func() { s.err = s.start() })
	if s.missing {
		// Let testtool skip or fail with its usual words.
		testtool.Missing(t, "postgresql", "initdb not found in /usr/lib/postgresql/*/bin or on PATH")
	}
	if s.err != nil {
		t.Fatalf("pgtest: %v", s.err)
	}
}

// Port is the loopback TCP port the server listens on (0 before it started).
func (s *Server) Port() int { return s.port }

// Dir is the server's temporary directory: data/ (the cluster), the unix
// sockets and postgres.log.
func (s *Server) Dir() string { return s.dir }

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable connect_timeout=10", s.port, db)
}

// Bin finds the directory holding initdb and postgres: the newest
// /usr/lib/postgresql/N/bin (where Debian's postgresql package puts them), else
// the directory of initdb on PATH. It returns "" when there is none.
// PROBED_PGTEST_BIN overrides the search: a directory is used as it is, and
// "none" means PostgreSQL is missing (bench/notools.sh uses it to run the
// tests as a machine without PostgreSQL would).
func Bin() string {
	if d := os.Getenv("PROBED_PGTEST_BIN"); d != "" {
		if d == "none" || !isExec(filepath.Join(d, "initdb")) {
			return ""
		}
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func (s *Server) start() error {
	bin := Bin()
	if bin == "" {
		s.missing = true
		return errors.New("PostgreSQL not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return err
	}
	s.dir = dir
	cred, err := unprivileged()
	if err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("give %s to the unprivileged user: %w", dir, err)
		}
	}
	s.bin, s.cred = bin, cred
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}

	// A free port may be taken between choosing and binding it: try a few.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return err
		}
		if lastErr = s.run(ctx, port); lastErr == nil {
			return nil
		}
	}
	return lastErr
}

// run starts postgres on port and waits until it accepts connections.
func (s *Server) run(ctx context.Context, port int) error {
	bin, data, cred := s.bin, filepath.Join(s.dir, "data"), s.cred
	logPath := filepath.Join(s.dir, "postgres.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-p", strconv.Itoa(port), "-h", "127.0.0.1", "-k", s.dir,
		// A test server keeps nothing across a crash: skip the syncs.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.cmd, s.exited, s.port = cmd, exited, port

	admin, err := sql.Open("pgx", s.dsn("postgres"))
	if err != nil {
		s.Stop()
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := admin.PingContext(ctx)
		if err == nil {
			s.admin = admin
			return nil
		}
		select {
		case <-exited:
			admin.Close()
			log, _ := os.ReadFile(logPath)
			s.cmd = nil
			return fmt.Errorf("postgres exited on port %d: %s", port, tail(log))
		case <-ctx.Done():
			admin.Close()
			s.Stop()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres not ready within %v: %v: %s", startTimeout, err, tail(log))
		case <-tick.C:
		}
	}
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// removes its directory. It is safe to call on a server that never started.
func (s *Server) Stop() {
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	s.halt()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// halt ends the postgres process (fast shutdown), if one runs.
func (s *Server) halt() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Shutdown stops the running server as `pg_ctl stop -m fast` would (open
// sessions are ended, clients' connections refused), keeping its data and
// its port for Start: a database that goes away under its clients. Use it on
// a Server of the test's own, not the package's shared one.
func (s *Server) Shutdown(t testing.TB) {
	t.Helper()
	if s.cmd == nil {
		t.Fatal("pgtest: Shutdown: the server is not running")
	}
	s.halt()
}

// Start starts a server stopped by Shutdown again, on the same data and
// port, and waits until it accepts connections.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if s.cmd != nil || s.dir == "" {
		t.Fatal("pgtest: Start: the server is running, or never started")
	}
	if s.admin != nil {
		s.admin.Close()
		s.admin = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := s.run(ctx, s.port); err != nil {
		t.Fatalf("pgtest: start again: %v", err)
	}
}

// Standby starts a streaming-replication standby of the running server s:
// pg_basebackup -R (a replication connection over loopback, which initdb's
// trust authentication allows) into a temporary directory of its own, then
// postgres on a port of its own, as a child and as the same user as s. It
// holds every database of s, read-only, until Promote. It is stopped and
// removed when t ends.
func (s *Server) Standby(t testing.TB) *Server {
	t.Helper()
	if s.cmd == nil || s.dir == "" {
		t.Fatal("pgtest: Standby: the primary is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "pgtest-standby-")
	if err != nil {
		t.Fatal(err)
	}
	sb := &Server{dir: dir, bin: s.bin, cred: s.cred}
	t.Cleanup(sb.Stop)
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			t.Fatalf("pgtest: give %s to the unprivileged user: %v", dir, err)
		}
	}
	// -R writes standby.signal and primary_conninfo; -X stream copies the
	// WAL written meanwhile; -c fast does not wait for a checkpoint.
	bb := exec.CommandContext(ctx, filepath.Join(s.bin, "pg_basebackup"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres",
		"-D", filepath.Join(dir, "data"), "-R", "-X", "stream", "-c", "fast", "--no-sync")
	bb.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	bb.Dir = dir
	if out, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("pgtest: pg_basebackup: %v\n%s", err, out)
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if lastErr = sb.run(ctx, port); lastErr == nil {
			return sb
		}
	}
	t.Fatalf("pgtest: standby: %v", lastErr)
	return nil
}

// Promote makes a standby the primary (SELECT pg_promote(), which waits until
// the server accepts writes).
func (s *Server) Promote(t testing.TB) {
	t.Helper()
	if s.admin == nil {
		t.Fatal("pgtest: Promote: the standby is not running")
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var ok bool
	if err := s.admin.QueryRowContext(ctx, "SELECT pg_promote(true, 60)").Scan(&ok); err != nil || !ok {
		t.Fatalf("pgtest: promote: %v (done %v)", err, ok)
	}
}

// unprivileged returns the credentials of the user nobody when the test runs
// as root, and nil (run as ourselves) otherwise.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return nil, fmt.Errorf("running as root and no unprivileged user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// CPUTime is the CPU time (user and system) the server has used so far: its
// processes (the postmaster and its children: one backend per connection,
// the background workers) and the children that have exited. Benchmarks add it to their own: on PostgreSQL much of the
// store's work happens in these processes. Linux only (/proc), with the
// kernel's usual 100 clock ticks a second.
func (s *Server) CPUTime() (time.Duration, error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, errors.New("pgtest: the server is not running")
	}
	pm := s.cmd.Process.Pid
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The fields after the command's closing parenthesis: state is
		// the first (field 3), ppid field 4, utime 14, stime 15, cutime
		// 16, cstime 17.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); pid != pm && ppid != pm {
			continue
		}
		for _, k := range []int{11, 12} {
			n, _ := strconv.ParseInt(f[k], 10, 64)
			ticks += n
		}
		if pid == pm { // the backends and workers it has reaped
			for _, k := range []int{13, 14} {
				n, _ := strconv.ParseInt(f[k], 10, 64)
				ticks += n
			}
		}
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// Tablespace is a tablespace of the package's server on a file system of
// its own: a tmpfs of a chosen size, so that a test can fill the server's
// disk (writes then fail with 53100, disk_full, as on a real full disk) and
// make room again.
type Tablespace struct {
	Name string // for ALTER TABLE … SET TABLESPACE
	dir  string
}

// SmallTablespace mounts a tmpfs of size bytes in the server's directory
// and creates a tablespace on it. Mounting needs root: as anyone else the
// test is skipped (root is not a tool make test can install). Call it
// before DSN, so that the database goes first at clean-up; the tablespace
// is then dropped and the file system unmounted.
func (s *Server) SmallTablespace(t testing.TB, size int64) *Tablespace {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("pgtest: a full PostgreSQL disk is staged on a tmpfs mounted for the test, which needs root")
	}
	s.started(t)
	ts := &Tablespace{Name: fmt.Sprintf("small%d_%d", os.Getpid(), s.seq.Add(1))}
	ts.dir = filepath.Join(s.dir, ts.Name)
	if err := os.Mkdir(ts.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("size=%d,mode=0700", size)
	if s.cred != nil {
		opts += fmt.Sprintf(",uid=%d,gid=%d", s.cred.Uid, s.cred.Gid)
	}
	if err := syscall.Mount("tmpfs", ts.dir, "tmpfs", 0, opts); err != nil {
		t.Fatalf("pgtest: mount a %d-byte tmpfs on %s: %v", size, ts.dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE TABLESPACE "+ts.Name+" LOCATION '"+ts.dir+"'"); err != nil {
		syscall.Unmount(ts.dir, syscall.MNT_DETACH)
		t.Fatalf("pgtest: create tablespace on %s: %v", ts.dir, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, "DROP TABLESPACE IF EXISTS "+ts.Name); err != nil {
			t.Errorf("pgtest: drop tablespace %s: %v", ts.Name, err)
		}
		if err := syscall.Unmount(ts.dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("pgtest: unmount %s: %v", ts.dir, err)
		}
	})
	return ts
}

// Used is how many bytes the tablespace's file system holds.
func (ts *Tablespace) Used(t testing.TB) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(ts.dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize
}

// Resize gives the tablespace's file system a new size: the bytes it holds
// (Used) to make it full, more to make room.
func (ts *Tablespace) Resize(t testing.TB, size int64) {
	t.Helper()
	if err := syscall.Mount("tmpfs", ts.dir, "tmpfs", syscall.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		t.Fatalf("pgtest: resize %s to %d bytes: %v", ts.dir, size, err)
	}
}
