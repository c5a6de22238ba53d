package notify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
	"github.com/probed/probed/store"
)

// ConfirmGap is the least time between two confirmation mails to one
// address, however often it is entered on the form.
const ConfirmGap = time.Hour

// Errors the subscription flow returns; the web layer maps them to pages.
var (
	ErrRateLimited    = errors.New("too many subscription requests: try again later")
	ErrBadAddress     = errors.New("not a valid e-mail address")
	ErrNoComponents   = errors.New("choose at least one component")
	ErrUnknownComp    = errors.New("unknown component")
	ErrAlreadyDone    = errors.New("this subscription is already confirmed")
	ErrBadWebhookURL  = errors.New("a webhook URL must be an absolute http or https URL")
	ErrNotSubscribed  = errors.New("no such subscriber")
	ErrKindOfAddress  = errors.New("give an e-mail address or a webhook URL, not both")
	requestResultKeys = []string{"accepted", "rate_limited_ip", "rate_limited_address", "challenge", "invalid"}
)

// Subscriptions is the subscription flow: the public form's abuse checks,
// double opt-in, the signed links of every mail, and the operator's add,
// list and remove. It keeps no state of its own beyond the in-memory rate
// limits and used challenges; everything else is in the store.
type Subscriptions struct {
	store      *store.Store
	config     func() *config.Config
	clock      clock.Clock
	links      *Links
	challenges *Challenges
	perIP      *Limiter
	perAddress *Limiter
	wake       func()
	requests   *prometheus.CounterVec
}

// SubscriptionsOptions is what Subscriptions needs. Wake, when set, is
// called after a confirmation mail is queued (Worker.Wake).
type SubscriptionsOptions struct {
	Store      *store.Store
	Config     func() *config.Config
	Clock      clock.Clock
	Links      *Links
	Registerer prometheus.Registerer
	Wake       func()
}

// NewLinksFromStore returns the link signer keyed with the database's key
// (made on first start).
func NewLinksFromStore(ctx context.Context, st *store.Store) (*Links, error) {
	key, err := st.SigningKey(ctx, "subscriber-links")
	if err != nil {
		return nil, fmt.Errorf("load link key: %w", err)
	}
	return NewLinks(key)
}

// NewSubscriptions builds the flow; its challenge key is kept in the store.
func NewSubscriptions(ctx context.Context, opts SubscriptionsOptions) (*Subscriptions, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, errors.New("new subscriptions: store and config are required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Wake == nil {
		opts.Wake = func() {}
	}
	if opts.Links == nil {
		l, err := NewLinksFromStore(ctx, opts.Store)
		if err != nil {
			return nil, err
		}
		opts.Links = l
	}
	ckey, err := opts.Store.SigningKey(ctx, "subscribe-challenge")
	if err != nil {
		return nil, fmt.Errorf("load challenge key: %w", err)
	}
	s := &Subscriptions{store: opts.Store, config: opts.Config, clock: opts.Clock, links: opts.Links,
		challenges: NewChallenges(ckey, opts.Clock), perIP: NewLimiter(opts.Clock, 0), perAddress: NewLimiter(opts.Clock, 0), wake: opts.Wake}
	s.requests = promauto.With(opts.Registerer).NewCounterVec(prometheus.CounterOpts{
		Name: "probed_subscription_requests_total",
		Help: "Requests on the public subscription form, by result (accepted, or why refused).",
	}, []string{"result"})
	for _, r := range requestResultKeys {
		s.requests.WithLabelValues(r)
	}
	return s, nil
}

// Links returns the signer of the subscribers' links.
func (s *Subscriptions) Links() *Links { return s.links }

// Config returns the configuration in force.
func (s *Subscriptions) Config() *config.Config { return s.config() }

// Challenge issues a proof-of-work challenge at the configured difficulty.
func (s *Subscriptions) Challenge() (challenge string, difficulty int) {
	bits := s.config().Notify.Subscribe.ChallengeBits
	return s.challenges.Issue(bits), bits
}

// SubscribeRequest is one submission of the public form.
type SubscribeRequest struct {
	Email      string
	Components []string
	Challenge  string
	Solution   string // empty: the browser ran no script (the slower fallback)
	Client     string // the client's address, for the per-IP limit
	// Language is the page language the form was shown in; one of
	// page.languages is kept, and the mailed links carry it.
	Language string
}

// Subscribe checks a form submission (proof of work, per-IP limit, address,
// components, per-address limit) and records it awaiting confirmation; a
// confirmation mail goes out unless one went to the address within the
// hour. The answer never tells whether the address was subscribed already.
//
// The proof of work is checked first: a post without one costs a hash and
// charges no bucket, so a flood of them from many addresses cannot fill the
// per-IP limiter (which forgets its least recently used address when full).
func (s *Subscriptions) Subscribe(ctx context.Context, r SubscribeRequest) error {
	cfg := s.config()
	sc := cfg.Notify.Subscribe
	if err := s.challenges.Check(r.Challenge, r.Solution, sc.ChallengeBits, sc.ChallengeTTL.D(), sc.NoJSWait.D()); err != nil {
		s.requests.WithLabelValues("challenge").Inc()
		return err
	}
	if !s.perIP.Allow(r.Client, sc.PerIP) {
		s.requests.WithLabelValues("rate_limited_ip").Inc()
		return ErrRateLimited
	}
	addr, err := ParseEmail(r.Email, true)
	if err != nil {
		s.requests.WithLabelValues("invalid").Inc()
		return err
	}
	comps, err := ResolveComponents(cfg, r.Components)
	if err != nil {
		s.requests.WithLabelValues("invalid").Inc()
		return err
	}
	if !s.perAddress.Allow(strings.ToLower(addr), sc.PerAddress) {
		s.requests.WithLabelValues("rate_limited_address").Inc()
		return ErrRateLimited
	}
	lang := ""
	if slices.Contains(cfg.Page.Languages, r.Language) {
		lang = r.Language
	}
	req, err := s.store.RequestSubscription(ctx, addr, lang, comps, ConfirmGap)
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	s.requests.WithLabelValues("accepted").Inc()
	if req.Queued {
		s.wake()
	}
	return nil
}

// Resolve returns the subscriber a link token names, if the token is good
// for purpose.
func (s *Subscriptions) Resolve(ctx context.Context, purpose, token string) (store.Subscriber, error) {
	id, err := ParseToken(token)
	if err != nil {
		return store.Subscriber{}, err
	}
	sub, err := s.store.Subscriber(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return sub, ErrBadLink
	}
	if err != nil {
		return sub, fmt.Errorf("resolve link: %w", err)
	}
	if err := s.links.Verify(purpose, token, sub, s.clock.Now()); err != nil {
		return sub, err
	}
	return sub, nil
}

// Confirm applies the choice a confirmation link stands for. A link used
// twice answers ErrAlreadyDone with the subscriber. language is the page's
// (see keepLanguage).
func (s *Subscriptions) Confirm(ctx context.Context, token, language string) (store.Subscriber, error) {
	sub, err := s.Resolve(ctx, PurposeConfirm, token)
	if err != nil {
		return sub, err
	}
	if err := s.keepLanguage(ctx, sub, language); err != nil {
		return sub, err
	}
	out, err := s.store.ConfirmSubscription(ctx, sub.ID)
	if errors.Is(err, store.ErrNothingToConfirm) {
		return sub, ErrAlreadyDone
	}
	return out, err
}

// Update replaces the choice of the subscriber a manage link names; an
// empty choice unsubscribes. language is the page's (see keepLanguage).
func (s *Subscriptions) Update(ctx context.Context, token string, components []string, language string) (store.Subscriber, error) {
	sub, err := s.Resolve(ctx, PurposeManage, token)
	if err != nil {
		return sub, err
	}
	comps, err := ResolveComponents(s.config(), components)
	if err != nil && !errors.Is(err, ErrNoComponents) {
		return sub, err
	}
	if err := s.keepLanguage(ctx, sub, language); err != nil {
		return sub, err
	}
	return s.store.SetSubscriberComponents(ctx, sub.ID, comps)
}

// keepLanguage makes the language of the page a subscriber confirms or
// saves on (one of page.languages) the one its mailed links carry from
// then on.
func (s *Subscriptions) keepLanguage(ctx context.Context, sub store.Subscriber, language string) error {
	if language == sub.Language || !slices.Contains(s.config().Page.Languages, language) {
		return nil
	}
	if err := s.store.SetSubscriberLanguage(ctx, sub.ID, language); err != nil {
		return fmt.Errorf("keep the subscriber's language: %w", err)
	}
	return nil
}

// Unsubscribe stops all mail to the subscriber an unsubscribe (or manage)
// link names. Doing it twice is fine.
func (s *Subscriptions) Unsubscribe(ctx context.Context, purpose, token string) (store.Subscriber, error) {
	if purpose != PurposeUnsubscribe && purpose != PurposeManage {
		return store.Subscriber{}, ErrBadLink
	}
	sub, err := s.Resolve(ctx, purpose, token)
	if err != nil {
		return sub, err
	}
	return s.store.Unsubscribe(ctx, sub.ID)
}

// AddRequest is an operator adding a subscriber: Email or WebhookURL.
type AddRequest struct {
	Email      string   `json:"email,omitempty"`
	WebhookURL string   `json:"webhook_url,omitempty"`
	Components []string `json:"components,omitempty"` // empty: every component
	// Secret signs a webhook's posts; empty makes a random one.
	Secret string `json:"secret,omitempty"`
	// Language is the page language the links mailed to an e-mail
	// subscriber carry (one of page.languages); empty: none.
	Language string `json:"language,omitempty"`
}

// Add adds (or re-activates) a subscriber at once, without confirmation. It
// returns the webhook secret (once: listings never show it).
func (s *Subscriptions) Add(ctx context.Context, r AddRequest) (store.Subscriber, string, error) {
	cfg := s.config()
	comps := r.Components
	if len(comps) == 0 {
		for _, l := range cfg.Leaves() {
			comps = append(comps, l.ID)
		}
	}
	comps, err := ResolveComponents(cfg, comps)
	if err != nil {
		return store.Subscriber{}, "", err
	}
	if r.Language != "" && !slices.Contains(cfg.Page.Languages, r.Language) {
		return store.Subscriber{}, "", fmt.Errorf("language %q: want one of page.languages %v: %w", r.Language, cfg.Page.Languages, store.ErrInvalid)
	}
	switch {
	case r.Email != "" && r.WebhookURL != "":
		return store.Subscriber{}, "", ErrKindOfAddress
	case r.Email != "":
		addr, err := ParseEmail(r.Email, false)
		if err != nil {
			return store.Subscriber{}, "", err
		}
		sub, err := s.store.AddSubscriber(ctx, store.SubscriberEmail, addr, comps, "")
		if err == nil && r.Language != "" {
			if err = s.store.SetSubscriberLanguage(ctx, sub.ID, r.Language); err == nil {
				sub.Language = r.Language
			}
		}
		return sub, "", err
	case r.WebhookURL != "":
		u, err := url.Parse(r.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return store.Subscriber{}, "", ErrBadWebhookURL
		}
		secret := r.Secret
		if secret == "" {
			b := make([]byte, 32)
			rand.Read(b)
			secret = hex.EncodeToString(b)
		}
		sub, err := s.store.AddSubscriber(ctx, store.SubscriberWebhook, u.String(), comps, secret)
		return sub, secret, err
	}
	return store.Subscriber{}, "", ErrKindOfAddress
}

// List returns the subscribers, optionally of one state.
func (s *Subscriptions) List(ctx context.Context, state string) ([]store.Subscriber, error) {
	return s.store.Subscribers(ctx, state)
}

// Remove deletes a subscriber by id.
func (s *Subscriptions) Remove(ctx context.Context, id int64) error {
	err := s.store.RemoveSubscriber(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotSubscribed
	}
	return err
}

// RemoveAddress deletes the subscriber with an e-mail address or webhook URL.
func (s *Subscriptions) RemoveAddress(ctx context.Context, address string) (store.Subscriber, error) {
	kind := store.SubscriberEmail
	if strings.HasPrefix(address, "http://") || strings.HasPrefix(address, "https://") {
		kind = store.SubscriberWebhook
	}
	sub, err := s.store.SubscriberByAddress(ctx, kind, address)
	if errors.Is(err, store.ErrNotFound) {
		return sub, ErrNotSubscribed
	}
	if err != nil {
		return sub, err
	}
	return sub, s.Remove(ctx, sub.ID)
}

// ParseEmail accepts a bare address (no display name) of at most 254
// characters; public requires a dotted domain, as the public form may.
func ParseEmail(s string, public bool) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n<>") {
		return "", ErrBadAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", ErrBadAddress
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	if public && (!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".")) {
		return "", ErrBadAddress
	}
	return a.Address, nil
}

// ResolveComponents checks component ids against the config and returns
// the leaf ids they stand for (a group stands for its children), sorted.
func ResolveComponents(cfg *config.Config, ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		c := cfg.Component(id)
		if c == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownComp, id)
		}
		if c.IsGroup() {
			for _, ch := range c.Components {
				out = append(out, ch.ID)
			}
		} else {
			out = append(out, c.ID)
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, ErrNoComponents
	}
	return out, nil
}

// Expand returns the ids an event about components concerns: the ids, and
// for a group its children too, so a subscriber of a leaf hears about an
// incident filed against its group.
func Expand(cfg *config.Config, ids []string) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id)
		if c := cfg.Component(id); c != nil {
			for _, ch := range c.Components {
				out = append(out, ch.ID)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// linkURL builds page.url + path + "?t=" + token.
// linkURL is a page link with its token and the subscriber's language (the
// page opens in it; the token check ignores it).
func linkURL(cfg *config.Config, path, token string, sub store.Subscriber) string {
	u := strings.TrimRight(cfg.Page.URL, "/") + path + "?t=" + url.QueryEscape(token)
	if sub.Language != "" {
		u += "&lang=" + url.QueryEscape(sub.Language)
	}
	return u
}

// ConfirmURL is the link of a confirmation mail: it expires PendingTTL
// after the mail was queued.
func ConfirmURL(cfg *config.Config, l *Links, sub store.Subscriber) string {
	sent := sub.ConfirmSentAt
	if sent.IsZero() {
		sent = sub.CreatedAt
	}
	return linkURL(cfg, "/subscribe/confirm", l.Token(PurposeConfirm, sub, sent.Add(cfg.Notify.Subscribe.PendingTTL.D())), sub)
}

// ManageURL is the link that opens a subscriber's choice again; it does not expire.
func ManageURL(cfg *config.Config, l *Links, sub store.Subscriber) string {
	return linkURL(cfg, "/subscriptions/manage", l.Token(PurposeManage, sub, time.Time{}), sub)
}

// UnsubscribeURL is the RFC 8058 one-click link; it does not expire.
func UnsubscribeURL(cfg *config.Config, l *Links, sub store.Subscriber) string {
	return linkURL(cfg, "/unsubscribe", l.Token(PurposeUnsubscribe, sub, time.Time{}), sub)
}

// FormToken is the CSRF token of the public forms for a browser's form
// cookie (a random value the page sets): the pair is checked on every POST
// (double submit, signed so a cookie set by a sibling host cannot be paired
// with a token of the attacker's choosing).
func (s *Subscriptions) FormToken(cookie string) string {
	return base64.RawURLEncoding.EncodeToString(s.challenges.mac("form", cookie))
}

// CheckFormToken reports whether token belongs to cookie.
func (s *Subscriptions) CheckFormToken(cookie, token string) bool {
	if cookie == "" || token == "" {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && hmac.Equal(got, s.challenges.mac("form", cookie))
}
