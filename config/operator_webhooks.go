package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Operator webhook formats.
const (
	FormatSlack = "slack" // Slack-compatible incoming webhook: {"text", "blocks"}
	FormatJSON  = "json"  // probed's own JSON (README: Operator webhooks)
)

// OperatorEvents are the events an operator webhook can ask for (the kinds
// of store.OperatorEventKinds), in lifecycle order.
var OperatorEvents = []string{"draft_created", "draft_approved", "draft_rejected", "draft_withdrawn", "resolve_proposed"}

// OperatorWebhook tells an on-call operator (a chat channel, a pager
// bridge) what waits for them: notify.operator_webhooks[].
type OperatorWebhook struct {
	// Name names the webhook in logs and metric labels (the URL never
	// appears: it is often the secret).
	Name   string `yaml:"name"`
	Format string `yaml:"format"` // slack | json
	// URL or URLFile (one line) is where events are posted.
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// Events are the kinds posted; empty: all of OperatorEvents.
	Events []string `yaml:"events"`
	// SecretFile holds the HMAC key of X-Probed-Signature (required for
	// json, optional for slack).
	SecretFile string `yaml:"secret_file"`
	// Language of the texts; empty: the page's first language.
	Language string `yaml:"language"`
	// ConsoleURL is the console's address as the operator opens it;
	// empty: http://<server.admin_listen>.
	ConsoleURL string `yaml:"console_url"`

	// Target is URL or the URL read from URLFile; Secret is read from
	// SecretFile. Never log either.
	Target string `yaml:"-"`
	Secret string `yaml:"-"`
}

// Wants reports whether the webhook takes events of a kind.
func (w *OperatorWebhook) Wants(kind string) bool {
	return len(w.Events) == 0 && slices.Contains(OperatorEvents, kind) || slices.Contains(w.Events, kind)
}

var webhookNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// validateOperatorWebhooks checks notify.operator_webhooks and reads their
// URL and secret files.
func (c *Config) validateOperatorWebhooks(p *problems) {
	seen := map[string]bool{}
	for i := range c.Notify.OperatorWebhooks {
		w := &c.Notify.OperatorWebhooks[i]
		key := fmt.Sprintf("notify.operator_webhooks[%d]", i)
		switch {
		case w.Name == "":
			p.add(key+".name", "required: a short name for logs and metrics, such as oncall")
		case !webhookNameRE.MatchString(w.Name):
			p.add(key+".name", "must be lower-case letters, digits, _ and - (at most 63), got %q", w.Name)
		case seen[w.Name]:
			p.add(key+".name", "%q is given twice", w.Name)
		}
		seen[w.Name] = true
		if w.Format != FormatSlack && w.Format != FormatJSON {
			p.add(key+".format", "must be slack (Slack-compatible incoming webhook) or json, got %q", w.Format)
		}
		switch {
		case w.URL != "" && w.URLFile != "":
			p.add(key+".url_file", "give the URL in url or url_file, not both")
		case w.URL == "" && w.URLFile == "":
			p.add(key+".url", "required: give url or url_file (a file holding the URL)")
		case w.URL != "" && w.Format == FormatSlack:
			p.add(key+".url", "a Slack-compatible incoming-webhook URL is its own secret: never written in %s; put it in a file named by url_file", c.baseName())
		case w.URL != "":
			if msg := checkWebhookURL(w.URL); msg != "" {
				p.add(key+".url", "%s, got %s", msg, redactURL(w.URL))
			}
			w.Target = w.URL
		default:
			s, err := c.ReadSecret(w.URLFile)
			switch {
			case err != nil:
				p.add(key+".url_file", "cannot read the URL file: %v", unwrapPathErr(err))
			case checkWebhookURL(s) != "":
				// The file's content is a secret: never quoted.
				p.add(key+".url_file", "%s must hold an absolute http or https URL without user:password@ (its content is not shown: it is a secret)", w.URLFile)
			}
			w.Target = s
		}
		events := map[string]bool{}
		for j, e := range w.Events {
			k := fmt.Sprintf("%s.events[%d]", key, j)
			switch {
			case !slices.Contains(OperatorEvents, e):
				p.add(k, "unknown event %q (want %s)", e, strings.Join(OperatorEvents, ", "))
			case events[e]:
				p.add(k, "%q is given twice", e)
			}
			events[e] = true
		}
		w.Secret = ""
		switch {
		case w.SecretFile != "":
			s, err := c.ReadSecret(w.SecretFile)
			switch {
			case err != nil:
				p.add(key+".secret_file", "cannot read the secret file: %v", unwrapPathErr(err))
			case len(s) < 16:
				p.add(key+".secret_file", "%s must hold a secret of at least 16 characters, got %d", w.SecretFile, len(s))
			}
			w.Secret = s
		case w.Format == FormatJSON:
			p.add(key+".secret_file", "required for format json: the receiver checks X-Probed-Signature with this secret")
		}
		if w.Language != "" && !slices.Contains(c.Page.Languages, w.Language) {
			p.add(key+".language", "must be one of page.languages (%s), got %q", strings.Join(c.Page.Languages, ", "), w.Language)
		}
		if w.ConsoleURL != "" {
			if msg := checkWebhookURL(w.ConsoleURL); msg != "" {
				p.add(key+".console_url", "%s, got %s", msg, redactURL(w.ConsoleURL))
			}
		}
	}
}

// checkWebhookURL returns what is wrong with an operator webhook or console
// URL, or "".
func checkWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "must be an absolute http or https URL"
	}
	if u.User != nil {
		return "must be an http or https URL without user:password@ (it would be sent and could leak)"
	}
	return ""
}

// baseName is the config file's name for messages (probes.yaml).
func (c *Config) baseName() string {
	if c.File == "" {
		return "the config file"
	}
	return c.File[strings.LastIndexAny(c.File, `/\`)+1:]
}
