package incident

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/probed/probed/probes"
	"github.com/probed/probed/status"
	"github.com/probed/probed/words"
)

// failWith feeds n failed runs of probe at tokyo-1 whose failed checks are checks.
func (h *harness) failWith(probe string, n int, checks ...probes.Check) {
	h.t.Helper()
	p := h.cfg.Probe(probe)
	for range n {
		r := probes.Result{Probe: probe, Kind: p.Kind, Component: p.Component, Location: "tokyo-1", Start: h.clk.Now(),
			Duration: 100 * time.Millisecond, Checks: checks}
		if err := h.eng.Record(h.ctx, r); err != nil {
			h.t.Fatal(err)
		}
		h.clk.Advance(30 * time.Second)
	}
}

// TestDraftTextsAndStatusFromWhatFailed: the draft's title and first
// update say what failed in an outsider's words, in English and Japanese,
// and the component status and impact follow the impact table: a service
// that no longer answers is out, one serving stale answers partly out, one
// whose clock is off degraded.
func TestDraftTextsAndStatusFromWhatFailed(t *testing.T) {
	tsaEv := map[string]string{"gen_time": "2026-03-01T00:59:30Z", "sent": "2026-03-01T01:00:00Z", "received": "2026-03-01T01:00:00.2Z"}
	for _, tc := range []struct {
		name    string
		probes  []string
		healthy string
		check   probes.Check
		status  string
		impact  string
		titleEN string
		titleJA string
		usersEN string
		usersJA string
	}{
		{name: "stale OCSP at every probe", probes: []string{"ocsp-good", "ocsp-revoked"},
			check:  probes.Check{Name: "ocsp_next_update", Message: "nextUpdate passed 2h ago"},
			status: status.PartialOutage, impact: status.ImpactMajor,
			titleEN: "OCSP responses are stale", titleJA: "OCSP応答が期限切れになっています",
			usersEN: "The responder answers, but with out-of-date responses that clients checking revocation may reject.",
			usersJA: "応答は返っていますが内容が古く、失効確認を行うクライアントで拒否される場合があります。"},
		{name: "stale OCSP at one probe of two", probes: []string{"ocsp-good"}, healthy: "ocsp-revoked",
			check:  probes.Check{Name: "ocsp_this_update_age", Message: "thisUpdate is 5d old"},
			status: status.DegradedPerformance, impact: status.ImpactMinor,
			titleEN: "OCSP responses are stale", titleJA: "OCSP応答が期限切れになっています",
			usersEN: "The responder answers, but with out-of-date responses that clients checking revocation may reject.",
			usersJA: "応答は返っていますが内容が古く、失効確認を行うクライアントで拒否される場合があります。"},
		{name: "dead OCSP responder", probes: []string{"ocsp-good", "ocsp-revoked"},
			check:  probes.Check{Name: "ocsp_transport", Message: "connection refused"},
			status: status.MajorOutage, impact: status.ImpactCritical,
			titleEN: "The OCSP responder is not answering", titleJA: "OCSPレスポンダーが応答していません",
			usersEN: "Clients that check whether a certificate was revoked cannot get an answer; some may refuse certificates or fall back to not checking.",
			usersJA: "証明書の失効確認ができず、一部のクライアントでは証明書が拒否されるか、失効確認が行われない場合があります。"},
		{name: "CRL not downloadable", probes: []string{"crl"},
			check:  probes.Check{Name: "crl_http_status", Message: "status 404"},
			status: status.MajorOutage, impact: status.ImpactCritical,
			titleEN: "The certificate revocation list cannot be downloaded", titleJA: "証明書失効リスト（CRL）をダウンロードできません",
			usersEN: "Clients that download the CRL to check revocation cannot get it.",
			usersJA: "CRLで失効確認を行うクライアントがCRLを取得できません。"},
		{name: "CRL badly signed", probes: []string{"crl"},
			check:  probes.Check{Name: "crl_signature", Message: "signature does not verify"},
			status: status.PartialOutage, impact: status.ImpactMajor,
			titleEN: "The certificate revocation list is invalid", titleJA: "証明書失効リスト（CRL）が不正です",
			usersEN: "The CRL can be downloaded, but clients may reject it.",
			usersJA: "CRLは取得できますが、クライアントで拒否される場合があります。"},
		{name: "TSA clock 30 s behind", probes: []string{"api"},
			check:  probes.Check{Name: "tsa_gen_time", Message: "TSA clock is 30s behind", Evidence: tsaEv},
			status: status.DegradedPerformance, impact: status.ImpactMinor,
			titleEN: "The timestamp service clock is 30 s off", titleJA: "タイムスタンプサービスの時刻が30秒ずれています",
			usersEN: "Timestamps are issued, but the time they state may be inaccurate.",
			usersJA: "タイムスタンプは発行されていますが、記載される時刻が正確でない場合があります。"},
		{name: "ACME directory gone", probes: []string{"api"},
			check:  probes.Check{Name: "acme_directory", Message: "status 502"},
			status: status.MajorOutage, impact: status.ImpactCritical,
			titleEN: "Certificate issuance over ACME is unavailable", titleJA: "ACMEによる証明書の発行ができません",
			usersEN: "ACME clients cannot order or renew certificates; existing certificates keep working.",
			usersJA: "ACMEクライアントで証明書の発行・更新ができません。発行済みの証明書は引き続きご利用いただけます。"},
		{name: "TLS certificate expired", probes: []string{"api"},
			check:  probes.Check{Name: "tls_cert_expiry", Message: "expired"},
			status: status.MajorOutage, impact: status.ImpactCritical,
			titleEN: "Secure connections to CertCentral API fail", titleJA: "CertCentral APIへの安全な接続ができません",
			usersEN: "Browsers and clients refuse the certificate CertCentral API presents.",
			usersJA: "CertCentral APIが提示する証明書がブラウザーやクライアントで拒否されます。"},
		{name: "HTTP body wrong", probes: []string{"api"},
			check:  probes.Check{Name: "http_body_matches", Message: "body does not match"},
			status: status.PartialOutage, impact: status.ImpactMajor,
			titleEN: "CertCentral API returns wrong responses", titleJA: "CertCentral APIが正しく応答していません",
			usersEN: "CertCentral API answers, but what it returns may be wrong or incomplete.",
			usersJA: "CertCentral APIは応答していますが、内容が正しくないか不完全な場合があります。"},
		{name: "unknown check", probes: []string{"api"},
			check:  probes.Check{Name: "probe_stub", Message: "failed"},
			status: status.MajorOutage, impact: status.ImpactCritical,
			titleEN: "CertCentral API is not reachable", titleJA: "CertCentral APIに接続できません",
			usersEN: "Requests to CertCentral API fail or time out.",
			usersJA: "CertCentral APIへのリクエストが失敗するか、タイムアウトします。"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, "incidents: {failures_to_open: 2, successes_to_close: 2}\n")
			tc.check.Severity = probes.Critical
			if tc.healthy != "" {
				h.ok(tc.healthy, 1)
			}
			for _, p := range tc.probes {
				h.failWith(p, 2, tc.check)
			}
			d := h.only(status.StateDraft)
			if len(d.Components) != 1 || d.Components[0].Status != tc.status || d.Impact != tc.impact {
				t.Errorf("draft = %s impact %s, want %s impact %s", describe([]status.Incident{d}), d.Impact, tc.status, tc.impact)
			}
			if d.Title["en"] != tc.titleEN || d.Title["ja"] != tc.titleJA {
				t.Errorf("title = %q / %q, want %q / %q", d.Title["en"], d.Title["ja"], tc.titleEN, tc.titleJA)
			}
			body := d.Updates[0].Body
			if !strings.Contains(body["en"], tc.titleEN+". ") || !strings.Contains(body["ja"], tc.titleJA+"。") {
				t.Errorf("first update = %q / %q, want the title's words", body["en"], body["ja"])
			}
			// What users see follows the title, whole, in each language.
			if tc.usersEN == "" || tc.usersJA == "" {
				t.Fatal("the case names no users sentence")
			}
			if !strings.Contains(body["en"], tc.titleEN+". "+tc.usersEN+" ") || !strings.Contains(body["ja"], tc.titleJA+"。"+tc.usersJA) {
				t.Errorf("first update = %q / %q, want the title followed by what users see (%q / %q)", body["en"], body["ja"], tc.usersEN, tc.usersJA)
			}
			for _, b := range []string{body["en"], d.Title["en"]} {
				if strings.Contains(b, "))") || strings.Contains(b, "outage") || strings.Contains(b, tc.check.Name) {
					t.Errorf("%q: doubled parentheses, a status word or a check name", b)
				}
			}
		})
	}
}

// TestComponentStatusTable holds componentStatus to the README's impact
// table: level × whether the service answers, and major only when every
// source is out.
func TestComponentStatusTable(t *testing.T) {
	src := func(level int, a answer) source { return source{level: level, answers: a, since: time.Unix(100, 0)} }
	for _, tc := range []struct {
		srcs []source
		want string
	}{
		{[]source{src(levelAll, answerNone)}, status.MajorOutage},
		{[]source{src(levelPartial, answerNone)}, status.PartialOutage},
		{[]source{src(levelAll, answerWrong)}, status.PartialOutage},
		{[]source{src(levelPartial, answerWrong)}, status.DegradedPerformance},
		{[]source{src(levelAll, answerInaccurate)}, status.DegradedPerformance},
		{[]source{src(levelSlow, answerNone)}, status.DegradedPerformance},
		{[]source{src(levelAll, answerNone), src(levelUp, answerNone)}, status.PartialOutage},
		{[]source{src(levelAll, answerNone), src(levelAll, answerNone)}, status.MajorOutage},
		{[]source{src(levelAll, answerNone), src(levelAll, answerWrong)}, status.MajorOutage},
		{[]source{src(levelAll, answerWrong), src(levelUp, answerNone)}, status.DegradedPerformance},
		{[]source{src(levelAll, answerInaccurate), src(levelSlow, answerNone)}, status.DegradedPerformance},
		{[]source{src(levelUp, answerNone), src(levelUp, answerNone)}, status.Operational},
	} {
		got, since := componentStatus(tc.srcs)
		if got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.srcs, got, tc.want)
		}
		if (got == status.Operational) != since.IsZero() {
			t.Errorf("%+v: since %v", tc.srcs, since)
		}
	}
}

// TestAlertOnlyLocationsTakeTheKnownAnswer: a location only an alert
// speaks for takes the answer the holder's own results give; with none
// known it counts as no answer.
func TestAlertOnlyLocationsTakeTheKnownAnswer(t *testing.T) {
	alert := &locState{evidence: []status.Evidence{{Source: status.OriginAlertmanager, Check: "ProbeDownQuorum", Values: map[string]string{"label.kind": "ocsp"}}}}
	own := &locState{own: true, evidence: []status.Evidence{{Source: status.OriginProbe, Check: "ocsp_next_update"}}}
	if a := answersOf([]*locState{alert, own}, "ocsp"); a != answerWrong {
		t.Errorf("alert + stale here = %d, want answerWrong", a)
	}
	if a := answersOf([]*locState{alert}, "ocsp"); a != answerNone {
		t.Errorf("alert alone = %d, want answerNone", a)
	}
}

// findingsMarkdown is the README's table of draft texts.
func findingsMarkdown() string {
	en, ja := words.Builtin().Lang("en"), words.Builtin().Lang("ja")
	var b strings.Builder
	b.WriteString("| Finding | Title (en) | What users see (en) | Title (ja) | What users see (ja) |\n|---|---|---|---|---|\n")
	for _, k := range findingKeys {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", k, en.T("finding."+k+".title"), en.T("finding."+k+".users"), ja.T("finding."+k+".title"), ja.T("finding."+k+".users"))
	}
	return b.String()
}

// TestEveryFindingHasWords: each finding has a title and a users text in
// every catalogue.
func TestEveryFindingHasWords(t *testing.T) {
	c := words.Builtin()
	for _, code := range c.Codes() {
		w := c.Lang(code)
		for _, k := range findingKeys {
			for _, key := range []string{"finding." + k + ".title", "finding." + k + ".users"} {
				if w.T(key) == key || w.T(key) == "" {
					t.Errorf("%s: no %s", code, key)
				}
			}
		}
	}
}

// TestREADMEHasEveryDraftText: the README lists every finding's texts as
// the engine writes them (regenerate with PROBED_PRINT_FINDINGS=1).
func TestREADMEHasEveryDraftText(t *testing.T) {
	md := findingsMarkdown()
	if os.Getenv("PROBED_PRINT_FINDINGS") != "" {
		fmt.Print(md)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), md) {
		t.Errorf("README.md lacks the draft texts table as findings.go has it; run PROBED_PRINT_FINDINGS=1 go test -run TestREADMEHasEveryDraftText ./incident/ and paste")
	}
}
