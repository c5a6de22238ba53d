package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/probed/probed/config"
)

// sendClass says what a failed send means for the message.
type sendClass int

const (
	sendOK        sendClass = iota
	sendTemporary           // 4xx: the server asks to retry later
	sendPermanent           // 5xx: the server will not take it
	sendConnLost            // no answer to judge by: the connection failed
)

// smtpConn is one open SMTP connection that sends several messages.
type smtpConn struct {
	client *gomail.Client
	sc     *gosmtp.Client
}

// dialSMTP connects and authenticates as notify.smtp says.
func dialSMTP(ctx context.Context, s config.SMTP, tlsConfig *tls.Config) (*smtpConn, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.Port),
		gomail.WithTimeout(s.Timeout.D()),
		// Each message is its own transaction; NOOP before and RSET after a
		// successful one only cost round trips.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
	}
	switch s.TLS {
	case "tls":
		opts = append(opts, gomail.WithSSL(), gomail.WithTLSPolicy(gomail.NoTLS))
	case "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if tlsConfig == nil {
		tlsConfig = &tls.Config{ServerName: s.Host, MinVersion: tls.VersionTLS12}
	}
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	if s.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.Username), gomail.WithPassword(s.Password))
	}
	client, err := gomail.NewClient(s.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client for %s: %w", s.Host, err)
	}
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("dial smtp %s:%d: %w", s.Host, s.Port, err)
	}
	return &smtpConn{client: client, sc: sc}, nil
}

// send transmits one message and classifies the outcome.
func (c *smtpConn) send(m *gomail.Msg) (sendClass, error) {
	err := c.client.SendWithSMTPClient(c.sc, m)
	if err == nil {
		return sendOK, nil
	}
	return classify(err), err
}

// close says QUIT, or just drops a broken connection.
func (c *smtpConn) close() {
	if err := c.client.CloseWithSMTPClient(c.sc); err != nil {
		c.sc.Close()
	}
}

// classify reads the SMTP reply code out of a send error: 4xx temporary,
// 5xx permanent, none at all a lost connection (the message may or may not
// have been taken, so it is retried).
func classify(err error) sendClass {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		switch {
		case code >= 500 && code < 600:
			return sendPermanent
		case code >= 400 && code < 500:
			return sendTemporary
		}
	}
	return sendConnLost
}
