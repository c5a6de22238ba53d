package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/probed/probed/status"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/probed/probed/incident"
	"github.com/probed/probed/store"
)

// maxBody bounds an operator API request body.
const maxBody = 1 << 20

// operatorRoutes registers the operator API (/api/v1), the console
// (/admin/) and the Alertmanager receiver on the admin mux. Without an
// incident engine they answer 503.
func (s *Console) operatorRoutes(mux *http.ServeMux) {
	if s.engine == nil {
		mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
			apiError(w, http.StatusServiceUnavailable, "operator API not available: no incident engine")
		})
		return
	}
	mux.Handle("GET /api/v1/incidents", s.apiAuth(s.apiListIncidents))
	mux.Handle("POST /api/v1/incidents", s.apiAuth(s.apiCreateIncident))
	mux.Handle("GET /api/v1/incidents/{id}", s.apiAuth(s.apiGetIncident(status.KindIncident)))
	mux.Handle("PATCH /api/v1/incidents/{id}", s.apiAuth(s.apiEditIncident))
	mux.Handle("POST /api/v1/incidents/{id}/approve", s.apiAuth(s.apiApprove))
	mux.Handle("POST /api/v1/incidents/{id}/reject", s.apiAuth(s.apiReject))
	mux.Handle("POST /api/v1/incidents/{id}/updates", s.apiAuth(s.apiPostUpdate))
	mux.Handle("POST /api/v1/incidents/{id}/resolve", s.apiAuth(s.apiResolve))
	mux.Handle("GET /api/v1/maintenances", s.apiAuth(s.apiListMaintenances))
	mux.Handle("POST /api/v1/maintenances", s.apiAuth(s.apiScheduleMaintenance))
	mux.Handle("GET /api/v1/maintenances/{id}", s.apiAuth(s.apiGetIncident(status.KindMaintenance)))
	mux.Handle("POST /api/v1/maintenances/{id}/{action}", s.apiAuth(s.apiMoveMaintenance))
	mux.Handle("GET /api/v1/audit", s.apiAuth(s.apiAudit))
	s.templateRoutes(mux)
	mux.Handle("POST /api/v1/alertmanager", s.apiAuth(s.apiAlertmanager))
	mux.Handle("/api/v1/", s.apiAuth(func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s (see the README's operator API)", r.Method, r.URL.Path))
	}))
	s.adminRoutes(mux)
}

type apiErrorBody struct {
	Error string `json:"error"`
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiErrorBody{Error: msg})
}

func apiJSON(w http.ResponseWriter, code int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		apiError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// retryAfter is the Retry-After of a 503 for a locked database, in seconds.
var retryAfter = strconv.Itoa(int(store.RetryAfter / time.Second))

// apiFail maps store and engine errors to statuses: unknown id 404, wrong
// state 409, bad input 400, a locked database 503 with Retry-After,
// anything else 500 (logged, not shown).
func (s *Console) apiFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrBusy):
		s.logger.Warn("operator API: database locked; answered 503", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", retryAfter)
		apiError(w, http.StatusServiceUnavailable, "the database is locked (another process holds it, or a long write); nothing was changed; retry in "+retryAfter+"s")
	case errors.Is(err, store.ErrUnavailable):
		s.logger.Error("operator API: the database cannot be reached; answered 503", "method", r.Method, "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", retryAfter)
		apiError(w, http.StatusServiceUnavailable, "the database cannot be reached (PostgreSQL down or failing over); retry in "+retryAfter+"s, after checking whether the change was made")
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrState):
		apiError(w, http.StatusConflict, err.Error())
	case errors.Is(err, store.ErrInvalid), errors.Is(err, incident.ErrPayload):
		apiError(w, http.StatusBadRequest, err.Error())
	default:
		s.logger.Error("operator API", "method", r.Method, "path", r.URL.Path, "err", err)
		apiError(w, http.StatusInternalServerError, "internal error; see probed's log")
	}
}

// decode reads a JSON body strictly: unknown fields and trailing data are errors.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("read body: %v: %w", err, store.ErrInvalid)
	}
	if len(body) > maxBody {
		return fmt.Errorf("body larger than %d bytes: %w", maxBody, store.ErrInvalid)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return fmt.Errorf("empty body: want a JSON object: %w", store.ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %v: %w", err, store.ErrInvalid)
	}
	if dec.More() {
		return fmt.Errorf("bad JSON: trailing data after the object: %w", store.ErrInvalid)
	}
	return nil
}

// decodeOptional is decode for bodies that may be empty.
func decodeOptional(r *http.Request, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	return decode(r, v)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("incident id %q is not a positive number: %w", r.PathValue("id"), store.ErrInvalid)
	}
	return id, nil
}

func actor(r *http.Request) string {
	op, _ := OperatorFrom(r.Context())
	return op.Name
}

func (s *Console) listFilter(r *http.Request, kind string) (store.IncidentFilter, error) {
	q := r.URL.Query()
	f := store.IncidentFilter{Kind: kind, State: q.Get("state"), Status: q.Get("status"), Component: q.Get("component")}
	for _, st := range strings.Split(f.State, ",") {
		if st != "" && !status.ValidState(st) {
			return f, fmt.Errorf("state %q: want draft, published, resolved, rejected or withdrawn: %w", st, store.ErrInvalid)
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, fmt.Errorf("limit %q: want 1 to 1000: %w", v, store.ErrInvalid)
		}
		f.Limit = n
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, fmt.Errorf("since %q: want RFC 3339: %w", v, store.ErrInvalid)
		}
		f.Since = t
	}
	return f, nil
}

func (s *Console) apiListIncidents(w http.ResponseWriter, r *http.Request) {
	f, err := s.listFilter(r, status.KindIncident)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	list, err := s.store.ListIncidents(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, list)
}

func (s *Console) apiGetIncident(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		inc, err := s.store.GetIncident(r.Context(), id)
		if err == nil && inc.Kind != kind {
			err = fmt.Errorf("%d is a %s, not a %s: %w", id, inc.Kind, kind, store.ErrNotFound)
		}
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		apiJSON(w, http.StatusOK, inc)
	}
}

// CreateIncidentRequest is the body of POST /api/v1/incidents.
type CreateIncidentRequest struct {
	Title      string                   `json:"title"`
	TitleJA    string                   `json:"title_ja"`
	Titles     status.Text              `json:"titles"`
	Impact     string                   `json:"impact"`
	Status     string                   `json:"status"`
	Message    string                   `json:"message"`
	MessageJA  string                   `json:"message_ja"`
	Messages   status.Text              `json:"messages"`
	Components []status.ComponentImpact `json:"components"`
	// Publish skips the draft step (an operator made it by hand).
	Publish bool `json:"publish"`
	// Template (a template's name or id) fills what the request leaves
	// out: a language of title or message given here replaces the
	// template's, components given here replace its list.
	Template string `json:"template,omitempty"`
}

func (s *Console) apiCreateIncident(w http.ResponseWriter, r *http.Request) {
	var req CreateIncidentRequest
	if err := decode(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	in := status.NewIncident{Title: texts(req.Titles, req.Title, req.TitleJA), Impact: req.Impact,
		Status: req.Status, Body: texts(req.Messages, req.Message, req.MessageJA), Components: req.Components, Publish: req.Publish}
	if req.Template != "" {
		tpl, err := s.findTemplate(r.Context(), req.Template)
		if err != nil {
			s.apiFail(w, r, err)
			return
		}
		in = tpl.Incident(in)
	}
	inc, err := s.engine.CreateIncident(r.Context(), actor(r), in)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/incidents/%d", inc.ID))
	apiJSON(w, http.StatusCreated, inc)
}

// EditDraftRequest is the body of PATCH /api/v1/incidents/{id}; absent
// fields stay as they are.
type EditDraftRequest struct {
	Title      *string                  `json:"title"`
	TitleJA    *string                  `json:"title_ja"`
	Titles     status.Text              `json:"titles"`
	Impact     *string                  `json:"impact"`
	Status     *string                  `json:"status"`
	Message    *string                  `json:"message"`
	MessageJA  *string                  `json:"message_ja"`
	Messages   status.Text              `json:"messages"`
	Components []status.ComponentImpact `json:"components"`
}

func (s *Console) apiEditIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	var req EditDraftRequest
	if err := decode(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	inc, err := s.engine.EditDraft(r.Context(), actor(r), id, status.DraftEdit{Title: edits(req.Titles, req.Title, req.TitleJA),
		Impact: req.Impact, Status: req.Status, Body: edits(req.Messages, req.Message, req.MessageJA), Components: req.Components})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}

// ApproveRequest is the (optional) body of approve: notify false publishes
// without telling subscribers; absent, they are told.
type ApproveRequest struct {
	Notify *bool `json:"notify,omitempty"`
}

func (s *Console) apiApprove(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req ApproveRequest
	if err == nil {
		err = decodeOptional(r, &req)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	inc, err := s.engine.Approve(r.Context(), actor(r), id, req.Notify == nil || *req.Notify)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}

// ReasonRequest is the body of reject and cancel.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

func (s *Console) apiReject(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req ReasonRequest
	if err == nil {
		err = decodeOptional(r, &req)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	inc, err := s.engine.Reject(r.Context(), actor(r), id, req.Reason)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}

// PostUpdateRequest is the body of POST /api/v1/incidents/{id}/updates.
// Status is identified, monitoring, investigating, update (keep the
// status) or resolved; components, when given, change the public statuses.
type PostUpdateRequest struct {
	Status     string                   `json:"status"`
	Message    string                   `json:"message"`
	MessageJA  string                   `json:"message_ja"`
	Messages   status.Text              `json:"messages"`
	Notify     bool                     `json:"notify"`
	Components []status.ComponentImpact `json:"components"`
}

func (s *Console) apiPostUpdate(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req PostUpdateRequest
	if err == nil {
		err = decode(r, &req)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	inc, err := s.engine.PostUpdate(r.Context(), actor(r), id, status.NewUpdate{Status: req.Status,
		Body: texts(req.Messages, req.Message, req.MessageJA), Notify: req.Notify, Components: req.Components})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusCreated, inc)
}

// MessageRequest is the body of resolve and of the maintenance steps.
type MessageRequest struct {
	Message   string      `json:"message"`
	MessageJA string      `json:"message_ja"`
	Messages  status.Text `json:"messages"`
	Reason    string      `json:"reason"`
}

func (s *Console) apiResolve(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req MessageRequest
	if err == nil {
		err = decodeOptional(r, &req)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	inc, err := s.engine.Resolve(r.Context(), actor(r), id, req.body())
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}

func (s *Console) apiListMaintenances(w http.ResponseWriter, r *http.Request) {
	f, err := s.listFilter(r, status.KindMaintenance)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	list, err := s.store.ListIncidents(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, list)
}

// ScheduleMaintenanceRequest is the body of POST /api/v1/maintenances.
type ScheduleMaintenanceRequest struct {
	Title      string      `json:"title"`
	TitleJA    string      `json:"title_ja"`
	Titles     status.Text `json:"titles"`
	Components []string    `json:"components"`
	Start      time.Time   `json:"scheduled_for"`
	End        time.Time   `json:"scheduled_until"`
	Message    string      `json:"message"`
	MessageJA  string      `json:"message_ja"`
	Messages   status.Text `json:"messages"`
}

func (s *Console) apiScheduleMaintenance(w http.ResponseWriter, r *http.Request) {
	var req ScheduleMaintenanceRequest
	if err := decode(r, &req); err != nil {
		s.apiFail(w, r, err)
		return
	}
	inc, err := s.engine.ScheduleMaintenance(r.Context(), actor(r), status.NewMaintenance{Title: texts(req.Titles, req.Title, req.TitleJA),
		Components: req.Components, Start: req.Start, End: req.End, Body: texts(req.Messages, req.Message, req.MessageJA)})
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/maintenances/%d", inc.ID))
	apiJSON(w, http.StatusCreated, inc)
}

func (s *Console) apiMoveMaintenance(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var req MessageRequest
	if err == nil {
		err = decodeOptional(r, &req)
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	e, ctx, who := s.engine, r.Context(), actor(r)
	var inc *status.Incident
	switch r.PathValue("action") {
	case "cancel":
		reason := req.Reason
		if reason == "" {
			reason = req.Message
		}
		inc, err = e.CancelMaintenance(ctx, who, id, reason)
	case "start":
		inc, err = e.StartMaintenance(ctx, who, id, req.body())
	case "verifying":
		inc, err = e.VerifyMaintenance(ctx, who, id, req.body())
	case "complete":
		inc, err = e.CompleteMaintenance(ctx, who, id, req.body())
	default:
		apiError(w, http.StatusNotFound, fmt.Sprintf("unknown maintenance action %q: want cancel, start, verifying or complete", r.PathValue("action")))
		return
	}
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, inc)
}

func (s *Console) apiAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor")}
	if v := q.Get("incident"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.apiFail(w, r, fmt.Errorf("incident %q is not a number: %w", v, store.ErrInvalid))
			return
		}
		f.IncidentID = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			s.apiFail(w, r, fmt.Errorf("limit %q: want 1 to 10000: %w", v, store.ErrInvalid))
			return
		}
		f.Limit = n
	}
	list, err := s.store.ListAudit(r.Context(), f)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, list)
}

// apiAlertmanager receives Alertmanager's webhook. A malformed body is a
// 400 with the reason and changes nothing (Alertmanager does not retry
// 4xx); a store failure is a 500, which Alertmanager retries, and the
// retry is harmless because intake is idempotent.
func (s *Console) apiAlertmanager(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8*maxBody+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "read body: "+err.Error())
		return
	}
	if len(body) > 8*maxBody {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", 8*maxBody))
		return
	}
	p, err := incident.ParsePayload(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	rep, err := s.engine.ReceiveAlerts(r.Context(), actor(r), p)
	if err != nil {
		s.apiFail(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, rep)
}

// texts gathers a text given in a request: the object of every language
// ({"en": …, "fr": …}), and the shorthands for English (title, message) and
// Japanese (title_ja, message_ja), which win over the object.
func texts(all status.Text, en, ja string) status.Text {
	out := status.Text{}
	for l, t := range all {
		out[l] = t
	}
	if en != "" {
		out["en"] = en
	}
	if ja != "" {
		out["ja"] = ja
	}
	return out.Clean()
}

// edits is texts for an edit: nil when no language is given, and a given
// blank text removes that language.
func edits(all status.Text, en, ja *string) status.Text {
	out := status.Text{}
	for l, t := range all {
		out[l] = t
	}
	if en != nil {
		out["en"] = *en
	}
	if ja != nil {
		out["ja"] = *ja
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// body is the message of resolve and of the maintenance steps.
func (m MessageRequest) body() status.Text { return texts(m.Messages, m.Message, m.MessageJA) }
