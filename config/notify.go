package config

import (
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Retry says how a temporary delivery failure (an SMTP 4xx, a dropped
// connection, a webhook 5xx) is retried: the wait starts at Initial and
// doubles up to Max; a delivery still failing GiveUpAfter its first
// attempt fails for good.
type Retry struct {
	Initial     Duration `yaml:"initial"`
	Max         Duration `yaml:"max"`
	GiveUpAfter Duration `yaml:"give_up_after"`
}

// RateLimit is a token bucket: Burst at once, refilled PerHour an hour.
type RateLimit struct {
	Burst   int     `yaml:"burst"`
	PerHour float64 `yaml:"per_hour"`
}

// Subscribe tunes the public subscription form's abuse controls.
type Subscribe struct {
	// ChallengeBits is the proof-of-work difficulty: leading zero bits of
	// SHA-256(challenge ":" counter) the browser must find.
	ChallengeBits int `yaml:"challenge_bits"`
	// NoJSWait is how old a challenge must be before a browser without
	// JavaScript may submit it unsolved (the slower fallback).
	NoJSWait Duration `yaml:"nojs_wait"`
	// ChallengeTTL is how long a challenge stays usable.
	ChallengeTTL Duration `yaml:"challenge_ttl"`
	// PerIP limits subscription requests per client address; PerAddress per
	// e-mail address (besides the one confirmation mail per address per hour).
	PerIP      RateLimit `yaml:"per_ip"`
	PerAddress RateLimit `yaml:"per_address"`
	// TrustedProxies are CIDRs whose X-Forwarded-For is believed when
	// finding the client address.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// PendingTTL is how long an unconfirmed subscription (and its
	// confirmation link) lives.
	PendingTTL Duration `yaml:"pending_ttl"`

	// Proxies is TrustedProxies parsed.
	Proxies []netip.Prefix `yaml:"-"`
}

// DefaultNotify returns the notify: settings of an empty file.
func DefaultNotify() Notify {
	return Notify{
		SMTP:                DefaultSMTP,
		Concurrency:         4,
		PerConnection:       100,
		Retry:               Retry{Initial: Duration(30 * time.Second), Max: Duration(30 * time.Minute), GiveUpAfter: Duration(24 * time.Hour)},
		QuarantineAfter:     3,
		WebhookTimeout:      Duration(10 * time.Second),
		MaintenanceReminder: Duration(time.Hour),
		Subscribe: Subscribe{
			ChallengeBits: 18,
			NoJSWait:      Duration(20 * time.Second),
			ChallengeTTL:  Duration(30 * time.Minute),
			PerIP:         RateLimit{Burst: 5, PerHour: 20},
			PerAddress:    RateLimit{Burst: 3, PerHour: 3},
			PendingTTL:    Duration(7 * 24 * time.Hour),
		},
	}
}

// UnmarshalYAML sets defaults, then decodes.
func (n *Notify) UnmarshalYAML(unmarshal func(any) error) error {
	*n = DefaultNotify()
	type plain Notify
	return unmarshal((*plain)(n))
}

// validateDelivery checks the delivery and subscription keys (validateNotify
// checks from and smtp; an empty from is filled in by the notify package).
func (c *Config) validateDelivery(p *problems) {
	n := &c.Notify
	s := &n.SMTP
	if s.Timeout < Duration(time.Second) {
		p.add("notify.smtp.timeout", "must be at least 1s, got %s", s.Timeout)
	}
	if n.Concurrency < 1 || n.Concurrency > 64 {
		p.add("notify.concurrency", "must be 1-64, got %d", n.Concurrency)
	}
	if n.Rate < 0 {
		p.add("notify.rate", "must be 0 (no cap) or more messages per second, got %v", n.Rate)
	}
	if n.PerConnection < 1 {
		p.add("notify.per_connection", "must be at least 1, got %d", n.PerConnection)
	}
	r := &n.Retry
	if r.Initial < Duration(time.Second) {
		p.add("notify.retry.initial", "must be at least 1s, got %s", r.Initial)
	}
	if r.Max < r.Initial {
		p.add("notify.retry.max", "must be at least notify.retry.initial (%s), got %s", r.Initial, r.Max)
	}
	if r.GiveUpAfter < r.Initial {
		p.add("notify.retry.give_up_after", "must be at least notify.retry.initial (%s), got %s", r.Initial, r.GiveUpAfter)
	}
	if n.QuarantineAfter < 1 {
		p.add("notify.quarantine_after", "must be at least 1, got %d", n.QuarantineAfter)
	}
	if n.WebhookTimeout < Duration(time.Second) {
		p.add("notify.webhook_timeout", "must be at least 1s, got %s", n.WebhookTimeout)
	}
	if r := n.MaintenanceReminder; r != 0 && (r < Duration(time.Minute) || r > Duration(30*24*time.Hour)) {
		p.add("notify.maintenance_reminder", "must be 0 (no reminder) or between 1m and 30d, got %s", r)
	}
	sub := &n.Subscribe
	if sub.ChallengeBits < 0 || sub.ChallengeBits > 32 {
		p.add("notify.subscribe.challenge_bits", "must be 0-32, got %d", sub.ChallengeBits)
	}
	if sub.NoJSWait < 0 {
		p.add("notify.subscribe.nojs_wait", "must not be negative")
	}
	if sub.ChallengeTTL <= sub.NoJSWait {
		p.add("notify.subscribe.challenge_ttl", "must be longer than notify.subscribe.nojs_wait (%s), got %s", sub.NoJSWait, sub.ChallengeTTL)
	}
	for key, rl := range map[string]RateLimit{"notify.subscribe.per_ip": sub.PerIP, "notify.subscribe.per_address": sub.PerAddress} {
		if rl.Burst < 1 {
			p.add(key+".burst", "must be at least 1, got %d", rl.Burst)
		}
		if rl.PerHour <= 0 {
			p.add(key+".per_hour", "must be more than 0, got %v", rl.PerHour)
		}
	}
	sub.Proxies = nil
	for i, cidr := range sub.TrustedProxies {
		pfx, err := netip.ParsePrefix(cidr)
		if err != nil {
			if ip := net.ParseIP(cidr); ip != nil {
				a, _ := netip.AddrFromSlice(ip)
				pfx = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
			} else {
				p.add(fmt.Sprintf("notify.subscribe.trusted_proxies[%d]", i), "must be an address or CIDR such as 10.0.0.0/8, got %q", cidr)
				continue
			}
		}
		sub.Proxies = append(sub.Proxies, pfx.Masked())
	}
	if sub.PendingTTL < Duration(time.Hour) {
		p.add("notify.subscribe.pending_ttl", "must be at least 1h, got %s", sub.PendingTTL)
	}
	c.validateOperatorWebhooks(p)
}
