package mailsink

import (
	"context"
	"fmt"
	"net/smtp"
	"testing"
	"time"
)

// Keep bounds the messages held (the demo's mailbox keeps 2,000) while the
// counts and IDs go on; without Username any AUTH is accepted, with it only
// the right one.
func TestKeepAndAuth(t *testing.T) {
	s, err := Start(Options{Keep: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	send := func(auth smtp.Auth, to string) error {
		return smtp.SendMail(s.Addr(), auth, "probed@example.test", []string{to}, []byte("Subject: hi\r\n\r\nbody\r\n"))
	}
	for i := range 3 {
		if err := send(smtp.PlainAuth("", "any", "thing", "127.0.0.1"), fmt.Sprintf("u%d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx, func(n int) bool { return n == 3 }); err != nil {
		t.Fatal(err)
	}
	msgs := s.Messages()
	if len(msgs) != 2 || msgs[0].ID != 2 || msgs[1].ID != 3 || msgs[1].To[0] != "u2@example.com" {
		t.Errorf("kept %+v, want messages 2 and 3", msgs)
	}
	if m, err := msgs[1].Parse(); err != nil || m.Header.Get("Subject") != "hi" {
		t.Errorf("parse: %v", err)
	}
	if got := s.Received(); len(got) != 3 || s.Total() != 3 {
		t.Errorf("received %v, total %d, want 3 recipients", got, s.Total())
	}

	strict, err := Start(Options{Username: "probed", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	s = strict
	if err := send(smtp.PlainAuth("", "probed", "wrong", "127.0.0.1"), "a@example.com"); err == nil {
		t.Error("a wrong password was accepted")
	}
	if err := send(nil, "a@example.com"); err == nil {
		t.Error("mail without AUTH was accepted by a server that requires it")
	}
	if err := send(smtp.PlainAuth("", "probed", "secret", "127.0.0.1"), "a@example.com"); err != nil {
		t.Errorf("the right credentials: %v", err)
	}
}
