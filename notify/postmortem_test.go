package notify

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/probed/probed/status"
)

// TestPostmortemNotifiesOnlyWhenAsked: publishing a postmortem quietly
// mails nobody; publishing it with notify tells the incident's subscribers
// once — a mail in every language labelled Postmortem with its text, and a
// signed webhook whose incident reads "postmortem" with the postmortem as
// its newest update, as API v2 shows it.
func TestPostmortemNotifiesOnlyWhenAsked(t *testing.T) {
	e := newEnv(t)
	e.add("ops@example.com", "ocsp")
	e.add("other@example.com", "crl")
	var mu sync.Mutex
	var hooks []WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p WebhookPayload
		json.Unmarshal(body, &p)
		mu.Lock()
		if err := VerifyWebhook("s3cret", r.Header.Get(HeaderSignature), body, e.clk.Now(), 5*time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		hooks = append(hooks, p)
		mu.Unlock()
	}))
	defer hook.Close()
	if _, _, err := e.subs.Add(e.ctx, AddRequest{WebhookURL: hook.URL + "/probed", Components: []string{"ocsp"}, Secret: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	inc := e.publish("OCSP down", "ocsp")
	if _, err := e.st.Resolve(e.ctx, "alice", inc.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.drain()
	base := len(e.smtp.Messages())
	mu.Lock()
	hookBase := len(hooks)
	mu.Unlock()
	text := status.Text{"en": "The HSM rebooted.\n\nWe added a second one.", "ja": "HSM が再起動しました。"}
	if _, err := e.st.SavePostmortem(e.ctx, "alice", inc.ID, text); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.PublishPostmortem(e.ctx, "alice", inc.ID, false); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if n := len(e.smtp.Messages()) - base; n != 0 {
		t.Fatalf("a quiet publication sent %d mails", n)
	}
	if _, err := e.st.PublishPostmortem(e.ctx, "alice", inc.ID, true); err != nil {
		t.Fatal(err)
	}
	e.drain()
	if got, total := e.recipients(base); total != base+1 || len(got) != 1 || got["ops@example.com"] != 1 {
		t.Fatalf("notified publication mailed %v (%d mails), want ops@example.com once", got, total-base)
	}
	msgs := e.smtp.Messages()
	p := parse(t, msgs[len(msgs)-1].Raw)
	for _, want := range []string{"Postmortem - The HSM rebooted.", "We added a second one.", "事後報告 - HSM が再起動しました。", "OCSP down"} {
		if !strings.Contains(p.text, want) {
			t.Errorf("postmortem mail lacks %q:\n%s", want, p.text)
		}
	}
	if strings.Contains(p.text, "Major Outage") {
		t.Errorf("postmortem mail gives a resolved incident's component a status:\n%s", p.text)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooks) != hookBase+1 {
		t.Fatalf("webhook called %d times for the postmortem, want 1", len(hooks)-hookBase)
	}
	h := hooks[len(hooks)-1]
	if h.Meta.Event != "postmortem_published" || h.Incident.Status != status.StatusPostmortem || len(h.Incident.IncidentUpdates) == 0 ||
		h.Incident.IncidentUpdates[0].Status != status.StatusPostmortem || h.Incident.IncidentUpdates[0].Body != text["en"] || h.Incident.ResolvedAt == nil {
		t.Fatalf("postmortem webhook: %+v", h)
	}
}
