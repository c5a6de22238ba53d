package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/probed/probed/status"
)

// TestTemplateAndPostmortemCLI runs the built daemon and, with the CLI as
// an operator would: keeps an incident template, starts an incident from
// it (overriding its title), approves and resolves it, writes a postmortem
// that stays private as a draft, publishes it — and the public page, both
// feeds and API v2 show it; then the CLI's errors.
func TestTemplateAndPostmortemCLI(t *testing.T) {
	bin := buildProbed(t)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	defer target.Close()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "probes.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`page: {name: Example CA, url: "https://status.example.com", languages: [en, ja]}
server: {listen: "127.0.0.1:0"}
storage: {path: probed.db}
components:
  - {id: crl, name: CRL}
  - {id: timestamp, name: Timestamp}
probes:
  - {name: crl, component: crl, kind: http, interval: 1h, http: {url: %q}}
`, target.URL))
	cli := binCLI(t, bin, dir)
	d, env := startWithToken(t, bin, cfgPath, cli)
	ok := cliOK(t, cli, env)
	decode := func(out string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
	}
	// public is a public page ("" until the page's snapshot has it).
	public := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + d.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return ""
		}
		return string(b)
	}

	var tpl status.Template
	decode(ok("template", "create", "-name", "CRL late", "-title", "The CRL is late", "-title-ja", "CRL の更新が遅れています",
		"-message", "The CRL was not refreshed in time; certificates still validate.", "-components", "crl:partial_outage", "-impact", "minor", "-o", "json"), &tpl)
	if tpl.ID == 0 || tpl.Impact != "minor" || len(tpl.Components) != 1 || tpl.Title["ja"] == "" {
		t.Fatalf("template create = %+v", tpl)
	}
	if out := ok("template", "list"); !strings.Contains(out, "CRL late") || !strings.Contains(out, "crl (Partial Outage)") {
		t.Fatalf("template list =\n%s", out)
	}
	decode(ok("template", "edit", "CRL late", "-status", "identified", "-o", "json"), &tpl)
	if tpl.Status != "identified" || tpl.Title["en"] != "The CRL is late" || tpl.Impact != "minor" {
		t.Fatalf("template edit changed more than -status: %+v", tpl)
	}
	if out := ok("template", "show", "CRL late"); !strings.Contains(out, "[ja] CRL の更新が遅れています") || !strings.Contains(out, "status Identified") {
		t.Fatalf("template show =\n%s", out)
	}

	var inc status.Incident
	decode(ok("incident", "create", "-template", "CRL late", "-title", "The CRL from Tokyo is late", "-o", "json"), &inc)
	if inc.State != "draft" || inc.Title["en"] != "The CRL from Tokyo is late" || inc.Title["ja"] != tpl.Title["ja"] || inc.Status != "identified" ||
		inc.Impact != "minor" || inc.Component("crl") == nil || inc.Updates[0].Body["en"] != tpl.Body["en"] {
		t.Fatalf("incident from the template = %+v", inc)
	}
	id := fmt.Sprint(inc.ID)
	ok("incident", "approve", id, "-notify=false")
	if _, stderr, code := cli(env, "incident", "postmortem", id, "-body", "x"); code != 1 || !strings.Contains(stderr, "409 Conflict: postmortem of 1: it is published; a postmortem is written once the incident is resolved") {
		t.Fatalf("postmortem of an open incident = %d %s", code, stderr)
	}
	ok("incident", "resolve", id)
	text := "The CRL signer's HSM rebooted <b>twice</b>.\n\nWe added a second HSM."
	decode(ok("incident", "postmortem", id, "-body", text, "-body-ja", "HSM が再起動しました。", "-o", "json"), &inc)
	if inc.Postmortem == nil || inc.Postmortem.Published() || inc.Postmortem.Draft["en"] != text {
		t.Fatalf("postmortem draft = %+v", inc.Postmortem)
	}
	var page string
	eventually(t, "the resolved incident on the public page", func() (bool, string) {
		page = public("/incidents/" + id)
		return strings.Contains(page, `<div class="label">Resolved</div>`), page
	})
	if strings.Contains(page, "HSM rebooted") || strings.Contains(page, "Postmortem") {
		t.Fatal("a postmortem draft is on the public page")
	}
	if out := ok("incident", "show", id); !strings.Contains(out, "postmortem (draft, not published):") {
		t.Fatalf("incident show =\n%s", out)
	}
	decode(ok("incident", "postmortem", id, "-publish", "-o", "json"), &inc)
	if !inc.Postmortem.Published() {
		t.Fatalf("publish = %+v", inc.Postmortem)
	}
	eventually(t, "the postmortem on the public page, in the feeds and API v2", func() (bool, string) {
		got := map[string]string{"page": public("/incidents/" + id), "ja": public("/incidents/" + id + "?lang=ja"), "atom": public("/history.atom"),
			"rss": public("/history.rss"), "api": public("/api/v2/incidents.json")}
		for _, w := range []struct{ where, want string }{
			{"page", `<div class="label">Postmortem</div>`}, {"page", "HSM rebooted &lt;b&gt;twice&lt;/b&gt;.\n\nWe added"},
			{"ja", "HSM が再起動しました。"},
			{"atom", "&lt;strong&gt;Postmortem&lt;/strong&gt; - The CRL signer&amp;#39;s HSM rebooted &amp;lt;b&amp;gt;twice"},
			{"rss", "&lt;strong&gt;Postmortem&lt;/strong&gt;"}, {"api", `"status":"postmortem"`},
		} {
			if !strings.Contains(got[w.where], w.want) {
				return false, fmt.Sprintf("%s lacks %q:\n%s", w.where, w.want, got[w.where])
			}
		}
		return true, ""
	})
	if out := ok("template", "delete", "CRL late"); !strings.Contains(out, "deleted template 1 (CRL late)") {
		t.Fatalf("template delete = %s", out)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"template", "create", "-name", "x", "-title", "t", "-message", "m", "-components", "nope"}, 1, `unknown component "nope"`},
		{[]string{"template", "create", "-name", "x", "-title", "t", "-message", "m", "-title-in", "xx=?"}, 1, `language "xx": probed has words for en, ja`},
		{[]string{"template", "show", "CRL late"}, 1, `no template is named "CRL late"`},
		{[]string{"template", "edit", "1"}, 1, "no template is named"},
		{[]string{"incident", "create", "-template", "CRL late"}, 1, `template "CRL late": no template has this name or id`},
		{[]string{"incident", "postmortem", id}, 1, "nothing to do"},
		{[]string{"template"}, 2, "usage: probed template"},
	} {
		if _, stderr, code := cli(env, tc.args...); code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("probed %s = exit %d %s; want %d with %q", strings.Join(tc.args, " "), code, stderr, tc.code, tc.want)
		}
	}
}
