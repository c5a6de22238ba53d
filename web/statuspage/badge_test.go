package statuspage

import (
	"encoding/xml"
	"strings"
	"testing"
)

func TestBadge(t *testing.T) {
	_, ts := newFixture(t)
	for _, tc := range []struct{ id, text, color string }{
		{"acme", "Partial Outage", "#e67e22"},
		{"certcentral", "Partial Outage", "#e67e22"}, // a group: worst child
		{"ocsp", "Operational", "#2fcc66"},
		{"timestamp", "Under Maintenance", "#3498db"},
	} {
		resp := get(t, ts.URL+"/badge/"+tc.id+".svg")
		body := string(readAll(t, resp))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || resp.Header.Get("ETag") == "" {
			t.Fatalf("%s: %d %v", tc.id, resp.StatusCode, resp.Header)
		}
		var svg struct {
			XMLName xml.Name `xml:"http://www.w3.org/2000/svg svg"`
			Title   string   `xml:"title"`
		}
		if err := xml.Unmarshal([]byte(body), &svg); err != nil {
			t.Fatalf("%s: not SVG: %v", tc.id, err)
		}
		if !strings.HasSuffix(svg.Title, ": "+tc.text) || !strings.Contains(body, `fill="`+tc.color+`"`) {
			t.Errorf("%s: title %q, want status %q in %s", tc.id, svg.Title, tc.text, tc.color)
		}
	}
	resp := get(t, ts.URL+"/badge/acme.svg?lang=ja")
	if body := string(readAll(t, resp)); !strings.Contains(body, "一部障害") {
		t.Error("ja badge lacks the Japanese status")
	}
	for _, p := range []string{"/badge/nope.svg", "/badge/acme.png", "/badge/acme"} {
		resp := get(t, ts.URL+p)
		if body := string(readAll(t, resp)); resp.StatusCode != 404 || !strings.Contains(body, "/badge/<component id>.svg") {
			t.Errorf("%s: %d %q", p, resp.StatusCode, body)
		}
	}
}
