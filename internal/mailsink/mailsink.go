// Package mailsink is a small SMTP server that keeps every message it
// accepts in memory: the demo's mailbox, and a real SMTP peer for tests.
package mailsink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	ID       int
	From     string
	To       []string
	Received time.Time
	Raw      []byte
}

// Header parses the message's header.
func (m Message) Header() (mail.Header, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return nil, fmt.Errorf("parse message %d: %w", m.ID, err)
	}
	return msg.Header, nil
}

// Sink is a running SMTP server.
type Sink struct {
	srv  *smtp.Server
	ln   net.Listener
	mu   sync.Mutex
	msgs []Message
	cond chan struct{} // closed and replaced on every new message
	// Max is the most messages kept (oldest dropped); 0 keeps all.
	max int
}

// Start listens on addr (use 127.0.0.1:0 for any port) and serves.
func Start(addr string, max int) (*Sink, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen smtp %s: %w", addr, err)
	}
	s := &Sink{ln: ln, cond: make(chan struct{}), max: max}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{sink: s}, nil }))
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.ReadTimeout = time.Minute
	s.srv.WriteTimeout = time.Minute
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the listening address.
func (s *Sink) Addr() string { return s.ln.Addr().String() }

// Port is the listening port.
func (s *Sink) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server.
func (s *Sink) Close() error { return s.srv.Close() }

// Messages returns a copy of the kept messages, oldest first.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait blocks until cond holds for the messages or ctx ends.
func (s *Sink) Wait(ctx context.Context, cond func([]Message) bool) error {
	for {
		s.mu.Lock()
		ok := cond(s.msgs)
		ch := s.cond
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for mail: %w", ctx.Err())
		}
	}
}

func (s *Sink) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m.ID = len(s.msgs) + 1
	if n := len(s.msgs); n > 0 {
		m.ID = s.msgs[n-1].ID + 1
	}
	s.msgs = append(s.msgs, m)
	if s.max > 0 && len(s.msgs) > s.max {
		s.msgs = s.msgs[len(s.msgs)-s.max:]
	}
	close(s.cond)
	s.cond = make(chan struct{})
}

type session struct {
	sink *Sink
	from string
	to   []string
}

func (s *session) Reset()                                      { s.from, s.to = "", nil }
func (s *session) Logout() error                               { return nil }
func (s *session) AuthPlain(username, password string) error   { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = append(s.to, to); return nil }
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.add(Message{From: s.from, To: append([]string(nil), s.to...), Received: time.Now(), Raw: raw})
	return nil
}
