package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/probed/probed/store"
)

// Webhook headers: the signature covers the timestamp and the body, so a
// receiver can refuse replays; the delivery id is the same on every retry
// of one delivery, so a receiver can drop duplicates.
const (
	HeaderSignature = "X-Probed-Signature" // t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>
	HeaderEvent     = "X-Probed-Event"     // the event kind, e.g. incident_updated
	HeaderDelivery  = "X-Probed-Delivery"  // the outbox row id
)

// WebhookPayload is what a webhook subscriber receives: the shape of a
// Statuspage incident webhook (meta, page, incident with its updates).
type WebhookPayload struct {
	Meta     WebhookMeta     `json:"meta"`
	Page     WebhookPage     `json:"page"`
	Incident WebhookIncident `json:"incident"`
}

// WebhookMeta links back to the subscription.
type WebhookMeta struct {
	Unsubscribe   string `json:"unsubscribe"`
	Documentation string `json:"documentation"`
	Event         string `json:"event"`
	GeneratedAt   string `json:"generated_at"`
}

// WebhookPage names the status page.
type WebhookPage struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// WebhookIncident is the incident as Statuspage's API v2 shows one.
type WebhookIncident struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Names           status.Text        `json:"names,omitempty"` // every language (name is the page's first)
	Status          string             `json:"status"`
	Impact          string             `json:"impact"`
	CreatedAt       string             `json:"created_at"`
	UpdatedAt       string             `json:"updated_at"`
	MonitoringAt    *string            `json:"monitoring_at"`
	ResolvedAt      *string            `json:"resolved_at"`
	StartedAt       string             `json:"started_at"`
	ScheduledFor    *string            `json:"scheduled_for"`
	ScheduledUntil  *string            `json:"scheduled_until"`
	Shortlink       string             `json:"shortlink"`
	PageID          string             `json:"page_id"`
	IncidentUpdates []WebhookUpdate    `json:"incident_updates"`
	Components      []WebhookComponent `json:"components"`
}

// WebhookUpdate is one timeline entry, newest first.
type WebhookUpdate struct {
	ID                   string            `json:"id"`
	IncidentID           string            `json:"incident_id"`
	Status               string            `json:"status"`
	Body                 string            `json:"body"`
	Bodies               status.Text       `json:"bodies,omitempty"` // every language (body is the page's first)
	CreatedAt            string            `json:"created_at"`
	UpdatedAt            string            `json:"updated_at"`
	DisplayAt            string            `json:"display_at"`
	AffectedComponents   []WebhookAffected `json:"affected_components"`
	DeliverNotifications bool              `json:"deliver_notifications"`
}

// WebhookAffected is a status change an update made.
type WebhookAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

// WebhookComponent is a component of the incident with its status.
type WebhookComponent struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func tsp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// WebhookBody renders a story as a webhook payload for one subscriber.
func (c *Composer) WebhookBody(s *Story, sub store.Subscriber, now time.Time) ([]byte, error) {
	inc := s.Incident
	name := func(id string) string {
		if comp := c.cfg.Component(id); comp != nil {
			return comp.Name
		}
		return id
	}
	st := inc.Status
	impact := inc.Impact
	lang := "en"
	if len(c.cfg.Page.Languages) > 0 {
		lang = c.cfg.Page.Languages[0]
	}
	started := inc.CreatedAt
	if inc.PublishedAt != nil {
		started = *inc.PublishedAt
	}
	p := WebhookPayload{
		Meta: WebhookMeta{Unsubscribe: UnsubscribeURL(c.cfg, c.links, sub), Documentation: c.pageURL("/subscribe"), Event: s.Event.Kind, GeneratedAt: ts(now)},
		Page: WebhookPage{ID: c.host, Name: c.cfg.Page.Name, URL: c.cfg.Page.URL},
		Incident: WebhookIncident{ID: strconv.FormatInt(inc.ID, 10), Name: inc.Title.In(lang), Names: inc.Title.Clean(), Status: st, Impact: impact,
			CreatedAt: ts(inc.CreatedAt), UpdatedAt: ts(inc.UpdatedAt), MonitoringAt: tsp(inc.MonitoringAt), ResolvedAt: tsp(inc.ResolvedAt),
			StartedAt: ts(started), ScheduledFor: tsp(inc.ScheduledFor), ScheduledUntil: tsp(inc.ScheduledUntil), Shortlink: s.URL, PageID: c.host,
			IncidentUpdates: []WebhookUpdate{}, Components: []WebhookComponent{}},
	}
	updates := inc.Updates
	if s.Event.Kind == store.EventPostmortemPublished {
		// As API v2 shows it: status postmortem, the postmortem first.
		p.Incident.Status = status.StatusPostmortem
		updates = append([]status.Update{s.Update}, updates...)
	}
	for _, u := range updates {
		// The timeline as of the update this event announces: later ones
		// have their own events.
		if s.Update.ID != 0 && u.ID > s.Update.ID {
			continue
		}
		wu := WebhookUpdate{ID: strconv.FormatInt(u.ID, 10), IncidentID: p.Incident.ID, Status: u.Status, Body: u.Body.In(lang), Bodies: u.Body.Clean(),
			CreatedAt: ts(u.CreatedAt), UpdatedAt: ts(u.CreatedAt), DisplayAt: ts(u.DisplayAt), DeliverNotifications: u.Notify,
			AffectedComponents: []WebhookAffected{}}
		if u.Status == status.StatusPostmortem && u.ID == 0 {
			wu.ID, wu.UpdatedAt, wu.DeliverNotifications = p.Incident.ID+"-postmortem", ts(u.DisplayAt), true
		}
		for _, a := range u.Affected {
			wu.AffectedComponents = append(wu.AffectedComponents, WebhookAffected{Code: a.ID, Name: name(a.ID), OldStatus: a.OldStatus, NewStatus: a.NewStatus})
		}
		p.Incident.IncidentUpdates = append(p.Incident.IncidentUpdates, wu)
	}
	for _, ci := range inc.Components {
		p.Incident.Components = append(p.Incident.Components, WebhookComponent{ID: ci.ID, Name: name(ci.ID), Status: ci.Status})
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("render webhook of event %d: %w", s.Event.ID, err)
	}
	return b, nil
}

// SignWebhook returns the signature header value for a body sent at t.
func SignWebhook(secret string, t time.Time, body []byte) string {
	unix := strconv.FormatInt(t.Unix(), 10)
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(unix + "."))
	h.Write(body)
	return "t=" + unix + ",v1=" + hex.EncodeToString(h.Sum(nil))
}

// VerifyWebhook checks a signature header against a body, refusing one
// older than maxAge (receivers can use it as it stands).
func VerifyWebhook(secret, header string, body []byte, now time.Time, maxAge time.Duration) error {
	var unix, sig string
	for part := range bytes.SplitSeq([]byte(header), []byte(",")) {
		k, v, _ := bytes.Cut(part, []byte("="))
		switch string(k) {
		case "t":
			unix = string(v)
		case "v1":
			sig = string(v)
		}
	}
	sec, err := strconv.ParseInt(unix, 10, 64)
	if err != nil || sig == "" {
		return errors.New("verify webhook: malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return errors.New("verify webhook: signature too old")
	}
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(unix + "."))
	h.Write(body)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.Sum(nil)) {
		return errors.New("verify webhook: bad signature")
	}
	return nil
}

// postWebhook sends one payload and classifies the answer: 2xx delivered;
// 408, 429, 5xx and network errors temporary; other answers (4xx, and
// redirects, which are not followed) permanent.
//
// Errors never quote the URL (a chat webhook's URL is its secret): the
// client's *url.Error is reduced to its operation and cause. An empty
// secret sends no signature.
func postWebhook(ctx context.Context, client *http.Client, target, secret, event, delivery string, body []byte, now time.Time) (sendClass, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return sendPermanent, errors.New("post webhook: the URL does not parse")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "probed")
	if secret != "" {
		req.Header.Set(HeaderSignature, SignWebhook(secret, now, body))
	}
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderDelivery, delivery)
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s: %w", ue.Op, ue.Err)
		}
		return sendConnLost, fmt.Errorf("post webhook: %w", err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return sendOK, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return sendTemporary, fmt.Errorf("post webhook: %s", resp.Status)
	default:
		return sendPermanent, fmt.Errorf("post webhook: %s", resp.Status)
	}
}

// newWebhookClient returns the client webhooks are posted with: no
// redirects (a moved endpoint is the operator's to fix); each post's
// context carries notify.webhook_timeout, so a reload changes it.
func newWebhookClient(transport http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
