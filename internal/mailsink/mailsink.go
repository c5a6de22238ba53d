// Package mailsink is a real SMTP server (emersion/go-smtp) that keeps what
// it accepts in memory: the demo's mailbox, and the SMTP peer of the tests
// and benchmarks of mail delivery. It can be told to answer 4xx or 5xx, to
// hold a transaction (a slow server), to require STARTTLS and AUTH, or to go
// away and come back.
package mailsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	ID       int // 1, 2, ... in order of arrival
	From     string
	To       []string
	Received time.Time
	Raw      []byte // nil when the server discards bodies
}

// Parse reads the message with net/mail.
func (m Message) Parse() (*mail.Message, error) {
	return mail.ReadMessage(bytes.NewReader(m.Raw))
}

// Options tune a server. The zero value accepts everything on a fresh
// loopback port and keeps every message.
type Options struct {
	Addr string // default 127.0.0.1:0
	// Keep is the most messages kept (the oldest are dropped); 0 keeps all.
	// Counts (Received, Total) cover every message either way.
	Keep int
	// Discard keeps only envelopes, not bodies (benchmarks).
	Discard bool
	// TLS, when set, offers STARTTLS with this config.
	TLS *tls.Config
	// Username and Password, when set, are required (AUTH PLAIN); without
	// them any AUTH is accepted.
	Username, Password string
}

// Server is a running SMTP server.
type Server struct {
	opts Options
	srv  *smtp.Server
	addr string

	mu     sync.Mutex
	ln     net.Listener
	msgs   []Message
	lastID int
	count  map[string]int // accepted messages per recipient
	total  int
	last   time.Time // when the last message was accepted
	cond   chan struct{}
	rcpt   func(to string) error
	data   func(from string, to []string) error
	hold   chan struct{}
	conns  int
}

// Start listens and serves.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := &Server{opts: opts, count: map[string]int{}, cond: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.conns++
		s.mu.Unlock()
		return &session{s: s}, nil
	}))
	s.srv.Domain = "localhost"
	// Clients that hang up (a killed worker, a timeout) are expected here.
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.MaxRecipients = 100
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	s.srv.TLSConfig = opts.TLS
	s.srv.AllowInsecureAuth = opts.TLS == nil
	if err := s.listen(opts.Addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen smtp %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln, s.addr = ln, ln.Addr().String()
	s.mu.Unlock()
	go s.srv.Serve(ln)
	return nil
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.addr }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// Down stops listening (connections are refused) until Up.
func (s *Server) Down() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Up listens again on the same address.
func (s *Server) Up() error { return s.listen(s.addr) }

// Close stops the server.
func (s *Server) Close() error {
	s.Release()
	return s.srv.Close()
}

// OnRcpt sets the answer to RCPT TO (nil error: accept). Use Reply for SMTP codes.
func (s *Server) OnRcpt(f func(to string) error) {
	s.mu.Lock()
	s.rcpt = f
	s.mu.Unlock()
}

// OnData sets the answer to the end of DATA (nil error: accept).
func (s *Server) OnData(f func(from string, to []string) error) {
	s.mu.Lock()
	s.data = f
	s.mu.Unlock()
}

// Hold makes every RCPT wait until Release: a server too slow to answer
// (held before the message is taken, so a client that gives up has sent
// nothing).
func (s *Server) Hold() {
	s.mu.Lock()
	if s.hold == nil {
		s.hold = make(chan struct{})
	}
	s.mu.Unlock()
}

// Release lets held transactions go on.
func (s *Server) Release() {
	s.mu.Lock()
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
}

// Reply returns an SMTP error answer such as Reply(451, "try later").
func Reply(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// Messages returns the kept messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Received returns how many messages each recipient got.
func (s *Server) Received() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.count)
}

// Total is the number of accepted messages (per recipient).
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// LastAccepted is when the newest message was accepted.
func (s *Server) LastAccepted() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Connections is how many SMTP sessions were opened.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Wait blocks until cond holds over the total accepted so far, or ctx ends.
func (s *Server) Wait(ctx context.Context, cond func(total int) bool) error {
	return s.WaitFor(ctx, func(total, _ int) bool { return cond(total) })
}

// WaitFor blocks until cond holds over the total accepted so far and the
// number of distinct recipients, or ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func(total, recipients int) bool) error {
	for {
		s.mu.Lock()
		n := s.total
		r := len(s.count)
		ch := s.cond
		s.mu.Unlock()
		if cond(n, r) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for mail (have %d to %d recipients): %w", n, r, ctx.Err())
		}
	}
}

type session struct {
	s      *Server
	from   string
	to     []string
	authed bool
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if ss.s.opts.Username != "" && (username != ss.s.opts.Username || password != ss.s.opts.Password) {
			return errors.New("invalid credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && !ss.authed {
		return Reply(530, "authentication required")
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	hold, f := ss.s.hold, ss.s.rcpt
	ss.s.mu.Unlock()
	if hold != nil {
		<-hold
		return Reply(421, "too slow, closing")
	}
	if f != nil {
		if err := f(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var raw []byte
	var err error
	if ss.s.opts.Discard {
		_, err = io.Copy(io.Discard, r)
	} else {
		raw, err = io.ReadAll(r)
	}
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	f := ss.s.data
	ss.s.mu.Unlock()
	if f != nil {
		if err := f(ss.from, ss.to); err != nil {
			return err
		}
	}
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	s.last = time.Now()
	if !s.opts.Discard {
		s.msgs = append(s.msgs, Message{ID: s.lastID, From: ss.from, To: append([]string(nil), ss.to...), Received: s.last, Raw: raw})
		if s.opts.Keep > 0 && len(s.msgs) > s.opts.Keep {
			s.msgs = slices.Clone(s.msgs[len(s.msgs)-s.opts.Keep:])
		}
	}
	for _, t := range ss.to {
		s.count[strings.ToLower(t)]++
		s.total++
	}
	close(s.cond)
	s.cond = make(chan struct{})
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
