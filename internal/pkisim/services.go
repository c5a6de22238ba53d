package pkisim

import (
	"encoding/json"
	"net/http"
	"time"
)

// Faults of the stand-in REST API and customer portal the demo probes with
// the http kind.
const (
	// APIDown: the API closes connections without answering (http_connect).
	APIDown Fault = "api_down"
	// APISlow: the API answers after 1.5 s: past the demo's 1 s latency
	// objective (degraded_performance) but inside its probe's timeout.
	APISlow Fault = "api_slow"
	// APIError: the API answers 503 with a problem document (http_status).
	APIError Fault = "api_error"
	// APIBadBody: the API answers 200 with {"status":"degraded"} (http_json).
	APIBadBody Fault = "api_bad_body"
	// PortalDown: the portal answers 502 from its load balancer (http_status).
	PortalDown Fault = "portal_down"
	// PortalMaintenancePage: the portal serves a maintenance page with 200
	// (http_body_not_matches).
	PortalMaintenancePage Fault = "portal_maintenance_page"
)

// Paths of the stand-in services.
const (
	APIPath    = "/api/v1/health"
	PortalPath = "/portal/"
)

// ServiceFaults lists the stand-in services' faults for a fault panel.
func ServiceFaults() []Fault {
	return []Fault{APIDown, APISlow, APIError, APIBadBody, PortalDown, PortalMaintenancePage}
}

// ServicesHandler serves the stand-in REST API at APIPath and a customer
// portal under PortalPath.
func (s *Sim) ServicesHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(APIPath, s.serveAPI)
	mux.HandleFunc(PortalPath, s.servePortal)
	return mux
}

func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.on(APIDown):
		hijackClose(w)
		return
	case s.on(APIError):
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"order database unreachable"}`))
		return
	case s.on(APISlow):
		select {
		case <-time.After(1500 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
	}
	status := "ok"
	if s.on(APIBadBody) {
		status = "degraded"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "time": s.now().Format(time.RFC3339)})
}

func (s *Sim) servePortal(w http.ResponseWriter, r *http.Request) {
	if s.on(PortalDown) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if s.on(PortalMaintenancePage) {
		_, _ = w.Write([]byte(`<!doctype html><title>Portal</title><h1>We'll be back soon</h1><p>The portal is under maintenance.</p>`))
		return
	}
	_, _ = w.Write([]byte(`<!doctype html><title>Portal</title><h1>Sign in to your certificate portal</h1><form method="post"><input name="user"></form>`))
}
