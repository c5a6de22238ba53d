package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
)

// The operator's side of subscriptions: /api/v1/subscribers (bearer token)
// and the console page /admin/subscribers (session + CSRF), both behind the
// same authentication as the incident routes. Every add and remove is
// written to the audit log with the operator's name.

// subscriberAdminRoutes mounts the operator routes (called from Routes).
func (s *Console) subscriberAdminRoutes(mux *http.ServeMux) {
	if s.engine == nil {
		// No token store: refuse rather than serve operator routes unauthenticated.
		refuse := func(w http.ResponseWriter, r *http.Request) {
			apiError(w, http.StatusServiceUnavailable, "operator routes need the incident engine (tokens); not available on this server")
		}
		for _, p := range []string{"/api/v1/subscribers", "/api/v1/subscribers/", "/admin/subscribers", "/admin/subscribers/"} {
			mux.HandleFunc(p, refuse)
		}
		return
	}
	need := s.needSubscriptions
	mux.Handle("GET /api/v1/subscribers", s.apiAuth(need(s.apiListSubscribers)))
	mux.Handle("POST /api/v1/subscribers", s.apiAuth(need(s.apiAddSubscriber)))
	mux.Handle("GET /api/v1/subscribers/{id}", s.apiAuth(need(s.apiGetSubscriber)))
	mux.Handle("DELETE /api/v1/subscribers/{id}", s.apiAuth(need(s.apiRemoveSubscriber)))
	mux.Handle("DELETE /api/v1/subscribers", s.apiAuth(need(s.apiRemoveSubscriber)))
	mux.Handle("GET /admin/subscribers", s.consoleAuth(need(s.adminSubscribers)))
	mux.Handle("POST /admin/subscribers", s.consoleAuth(need(s.adminAddSubscriber)))
	mux.Handle("POST /admin/subscribers/{id}/remove", s.consoleAuth(need(s.adminRemoveSubscriber)))
}

// badSubscriberInput reports whether err is the operator's input at fault.
func badSubscriberInput(err error) bool {
	for _, e := range []error{notify.ErrBadAddress, notify.ErrBadWebhookURL, notify.ErrUnknownComp, notify.ErrNoComponents,
		notify.ErrKindOfAddress, store.ErrInvalid} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// subscriberFail maps the subscription errors to API statuses.
func (s *Console) subscriberFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, notify.ErrNotSubscribed), errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
	case badSubscriberInput(err):
		apiError(w, http.StatusBadRequest, err.Error())
	default:
		s.apiFail(w, r, err)
	}
}

func validState(st string) bool {
	switch st {
	case "", store.SubscriberPending, store.SubscriberActive, store.SubscriberUnsubscribed, store.SubscriberQuarantined:
		return true
	}
	return false
}

func (s *Console) apiListSubscribers(w http.ResponseWriter, r *http.Request) {
	st := r.URL.Query().Get("state")
	if !validState(st) {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("state %q: want pending, active, unsubscribed or quarantined", st))
		return
	}
	list, err := s.subs.List(r.Context(), st)
	if err != nil {
		s.subscriberFail(w, r, err)
		return
	}
	if list == nil {
		list = []store.Subscriber{}
	}
	apiJSON(w, http.StatusOK, list)
}

// addedSubscriber is the answer to an add: the webhook secret is shown once.
type addedSubscriber struct {
	store.Subscriber
	Secret string `json:"secret,omitempty"`
}

func (s *Console) apiAddSubscriber(w http.ResponseWriter, r *http.Request) {
	var req notify.AddRequest
	if err := decode(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	sub, secret, err := s.addSubscriber(r, req)
	if err != nil {
		s.subscriberFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/subscribers/%d", sub.ID))
	apiJSON(w, http.StatusCreated, addedSubscriber{Subscriber: sub, Secret: secret})
}

func (s *Console) addSubscriber(r *http.Request, req notify.AddRequest) (store.Subscriber, string, error) {
	sub, secret, err := s.subs.Add(r.Context(), req)
	if err != nil {
		return sub, "", err
	}
	if err := s.store.Audit(r.Context(), actor(r), "subscriber_add",
		fmt.Sprintf("%s %s (#%d) components %s", sub.Kind, sub.Address, sub.ID, strings.Join(sub.Components, ","))); err != nil {
		s.logger.Error("audit subscriber_add", "err", err)
	}
	return sub, secret, nil
}

// subscriberDetail is one subscriber with its latest deliveries.
type subscriberDetail struct {
	store.Subscriber
	Deliveries []store.DeliveryLog `json:"deliveries"`
}

func (s *Console) apiGetSubscriber(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		apiError(w, http.StatusBadRequest, fmt.Sprintf("subscriber id %q is not a positive number", r.PathValue("id")))
		return
	}
	st := s.store
	sub, err := st.Subscriber(r.Context(), id)
	if err != nil {
		s.subscriberFail(w, r, err)
		return
	}
	ds, err := st.Deliveries(r.Context(), id, 50)
	if err != nil {
		s.subscriberFail(w, r, err)
		return
	}
	if ds == nil {
		ds = []store.DeliveryLog{}
	}
	apiJSON(w, http.StatusOK, subscriberDetail{Subscriber: sub, Deliveries: ds})
}

// apiRemoveSubscriber removes by id (DELETE /api/v1/subscribers/{id}) or
// by address (DELETE /api/v1/subscribers?address=ADDR).
func (s *Console) apiRemoveSubscriber(w http.ResponseWriter, r *http.Request) {
	sub, err := s.removeSubscriber(r, r.PathValue("id"), r.URL.Query().Get("address"))
	if err != nil {
		s.subscriberFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, sub)
}

func (s *Console) removeSubscriber(r *http.Request, idStr, address string) (store.Subscriber, error) {
	var sub store.Subscriber
	var err error
	switch {
	case idStr != "":
		id, perr := strconv.ParseInt(idStr, 10, 64)
		if perr != nil || id <= 0 {
			return sub, fmt.Errorf("subscriber id %q is not a positive number: %w", idStr, store.ErrInvalid)
		}
		if sub, err = s.store.Subscriber(r.Context(), id); err != nil {
			return sub, err
		}
		err = s.subs.Remove(r.Context(), id)
	case address != "":
		sub, err = s.subs.RemoveAddress(r.Context(), address)
	default:
		return sub, fmt.Errorf("give a subscriber id or ?address=: %w", store.ErrInvalid)
	}
	if err != nil {
		return sub, err
	}
	if err := s.store.Audit(r.Context(), actor(r), "subscriber_remove", fmt.Sprintf("%s %s (#%d)", sub.Kind, sub.Address, sub.ID)); err != nil {
		s.logger.Error("audit subscriber_remove", "err", err)
	}
	return sub, nil
}

// subscribersPage is the console page's data.
type subscribersPage struct {
	State       string
	Subscribers []store.Subscriber
	Counts      map[string]int
	Secret      string
	Names       map[string]string
	// Languages are the page's, for the language of an added address's links.
	Languages []string
}

func (s *Console) adminSubscribers(w http.ResponseWriter, r *http.Request) {
	s.renderSubscribers(w, r, http.StatusOK, "", "")
}

func (s *Console) renderSubscribers(w http.ResponseWriter, r *http.Request, code int, errMsg, secret string) {
	st := r.URL.Query().Get("state")
	if !validState(st) {
		st = ""
	}
	list, err := s.subs.List(r.Context(), st)
	if err != nil {
		errMsg, code = s.publicErr(r, err), http.StatusInternalServerError
	}
	counts, _ := s.store.SubscriberCounts(r.Context())
	names := map[string]string{}
	for _, c := range s.config().Leaves() {
		names[c.ID] = c.Name
	}
	v := s.view(r, "console.title.subscribers", "subscribers", subscribersPage{State: st, Subscribers: list, Counts: counts, Secret: secret, Names: names,
		Languages: s.config().Page.Languages})
	v.Error = errMsg
	s.render(w, "subscribers", code, v)
}

func (s *Console) adminAddSubscriber(w http.ResponseWriter, r *http.Request) {
	req := notify.AddRequest{Components: r.PostForm["c"]}
	addr := strings.TrimSpace(r.PostForm.Get("address"))
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		req.WebhookURL = addr
	} else {
		req.Email, req.Language = addr, r.PostForm.Get("language")
	}
	sub, secret, err := s.addSubscriber(r, req)
	if err != nil {
		code, msg := http.StatusBadRequest, err.Error()
		if !badSubscriberInput(err) {
			code, msg = http.StatusInternalServerError, s.publicErr(r, err)
		}
		s.renderSubscribers(w, r, code, "Not added: "+msg, "")
		return
	}
	if secret != "" {
		// Shown once, on this page only: not in a redirect URL.
		s.renderSubscribers(w, r, http.StatusOK, "", secret)
		return
	}
	http.Redirect(w, r, "/admin/subscribers?done=added&what="+url.QueryEscape(sub.Address), http.StatusSeeOther)
}

func (s *Console) adminRemoveSubscriber(w http.ResponseWriter, r *http.Request) {
	sub, err := s.removeSubscriber(r, r.PathValue("id"), "")
	if err != nil {
		s.renderSubscribers(w, r, errCode(err), "Not removed: "+s.publicErr(r, err), "")
		return
	}
	http.Redirect(w, r, "/admin/subscribers?done=removed&what="+url.QueryEscape(sub.Address), http.StatusSeeOther)
}
