package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/probed/probed/store"
)

// Link purposes: a token made for one never opens another.
const (
	PurposeConfirm     = "confirm"
	PurposeManage      = "manage"
	PurposeUnsubscribe = "unsubscribe"
)

// ErrBadLink is returned for a link token that is malformed, forged,
// expired or names no subscriber.
var ErrBadLink = errors.New("invalid or expired link")

// Links signs and checks the per-subscriber tokens in mailed links:
// id.expiry.HMAC-SHA256(key, purpose|id|expiry|salt) truncated to 128 bits.
// The key lives in the database; the salt is the subscriber's own, so
// removing a subscriber voids every link it was sent.
type Links struct {
	key []byte
}

// NewLinks returns a signer with a key (at least 32 bytes).
func NewLinks(key []byte) (*Links, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("new links: key of %d bytes, want at least 32", len(key))
	}
	return &Links{key: key}, nil
}

func (l *Links) mac(purpose string, id int64, exp int64, salt []byte) []byte {
	h := hmac.New(sha256.New, l.key)
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(id))
	binary.BigEndian.PutUint64(buf[8:], uint64(exp))
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(buf[:])
	h.Write(salt)
	return h.Sum(nil)[:16]
}

// Token makes a token for a subscriber; a zero expires never expires.
func (l *Links) Token(purpose string, sub store.Subscriber, expires time.Time) string {
	var exp int64
	if !expires.IsZero() {
		exp = expires.Unix()
	}
	return strconv.FormatInt(sub.ID, 10) + "." + strconv.FormatInt(exp, 10) + "." +
		base64.RawURLEncoding.EncodeToString(l.mac(purpose, sub.ID, exp, sub.Salt))
}

// ParseToken returns the subscriber id a token claims; Verify checks it
// once the subscriber is loaded.
func ParseToken(token string) (int64, error) {
	idStr, _, ok := strings.Cut(token, ".")
	if !ok {
		return 0, ErrBadLink
	}
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrBadLink
	}
	return id, nil
}

// Verify checks a token against the subscriber it names, for a purpose, at now.
func (l *Links) Verify(purpose, token string, sub store.Subscriber, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ErrBadLink
	}
	id, err1 := strconv.ParseInt(parts[0], 10, 64)
	exp, err2 := strconv.ParseInt(parts[1], 10, 64)
	mac, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || id != sub.ID {
		return ErrBadLink
	}
	if !hmac.Equal(mac, l.mac(purpose, id, exp, sub.Salt)) {
		return ErrBadLink
	}
	if exp != 0 && now.Unix() > exp {
		return ErrBadLink
	}
	return nil
}
