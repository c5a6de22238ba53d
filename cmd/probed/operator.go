package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/probed/probed/status"
	"github.com/probed/probed/web/console"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/probes"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
)

// The operator CLI: `probed token create` works on the database directly
// (it runs on the server); `probed incident …` and `probed maintenance …`
// talk to a running daemon's /api/v1 with PROBED_TOKEN.

// DefaultServer is where CLI clients look without -server or PROBED_SERVER.
const DefaultServer = "http://127.0.0.1:8080"

// apiClient calls the operator API.
type apiClient struct {
	server string
	token  string
	http   *http.Client
}

// addClientFlags adds -server to a command's flags.
func addClientFlags(fs *flag.FlagSet) *string {
	def := os.Getenv("PROBED_SERVER")
	if def == "" {
		def = DefaultServer
	}
	return fs.String("server", def, "probed's operator address (env PROBED_SERVER)")
}

func newAPIClient(server string) (*apiClient, error) {
	tok := strings.TrimSpace(os.Getenv("PROBED_TOKEN"))
	if tok == "" {
		return nil, errors.New("PROBED_TOKEN is not set: make a token on the server with `probed token create -config probes.yaml -name YOUR-NAME` and export it")
	}
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		server = "http://" + server
	}
	return &apiClient{server: strings.TrimRight(server, "/"), token: tok, http: &http.Client{Timeout: time.Minute}}, nil
}

// call sends a request and decodes a 2xx JSON answer into out; any other
// status is an error carrying the server's message.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, c.server+path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, msg)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// parseWithID parses flags that may come before or after one positional id.
func parseWithID(fs *flag.FlagSet, args []string) (int64, error) {
	if err := fs.Parse(args); err != nil {
		return 0, err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 0, errUsage
	}
	idArg := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return 0, err
	}
	if fs.NArg() > 0 {
		return 0, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(idArg, "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%q is not an incident id (a positive number)", idArg)
	}
	return id, nil
}

func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: probed %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// textsFlag adds a repeatable -NAME-in LANG=TEXT flag: a text in any
// language of page.languages (the API checks the language), so a language
// added by a catalogue file needs no new flag. -NAME and -NAME-ja are the
// shorthands for English and Japanese.
func textsFlag(fs *flag.FlagSet, name, what string) status.Text {
	t := status.Text{}
	fs.Func(name+"-in", what+" in another language, as LANG=TEXT (repeat for each language)", func(v string) error {
		lang, text, ok := strings.Cut(v, "=")
		lang = strings.TrimSpace(lang)
		if !ok || lang == "" || strings.TrimSpace(text) == "" {
			return fmt.Errorf("want LANG=TEXT, e.g. fr=%s", "…")
		}
		t[lang] = text
		return nil
	})
	return t
}

// subcommands dispatches `probed <group> <sub> …`.
func subcommands(group string, subs map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error, help string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
			w := stdout
			if len(args) == 0 {
				w = stderr
			}
			fmt.Fprint(w, help)
			if len(args) == 0 {
				return errUsage
			}
			return nil
		}
		sub, ok := subs[args[0]]
		if !ok {
			fmt.Fprintf(stderr, "probed %s: unknown subcommand %q\n\n%s", group, args[0], help)
			return errUsage
		}
		return sub(ctx, args[1:], stdout, stderr)
	}
}

const tokenHelp = `usage: probed token create -config probes.yaml -name NAME

Makes an operator API token and prints it alone on stdout, once: only its
SHA-256 is kept. NAME is who the audit log says acted. Run it on the server
(it opens the database named by the config); the daemon may be running.
`

func cmdToken() func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands("token", map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"create": tokenCreate,
	}, tokenHelp)
}

func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("token create", "token create -config probes.yaml -name NAME", stderr)
	path := fs.String("config", "probes.yaml", "config file (names the database)")
	name := fs.String("name", "", "the token's name, as the audit log shows it (letters, digits, . _ @ -)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*path, probes.Kinds())
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Options{Driver: cfg.Storage.Driver, Path: cfg.Storage.Path, DSN: cfg.Storage.DSN})
	if err != nil {
		return err
	}
	defer st.Close()
	secret, err := st.CreateToken(ctx, *name)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, secret)
	return nil
}

const incidentHelp = `usage: probed incident <subcommand> [flags]

  list     [-state draft|published|resolved|rejected|withdrawn] [-component ID] [-o json]
  show     ID [-o json]
  create   -title T -message TEXT -components id:status,... [-message-ja TEXT] [-publish]
  edit     ID [-title T] [-message TEXT] [-impact I] [-components id:status,...]
  approve  ID [-notify=false]   (false: publish without telling subscribers)
  reject   ID [-reason TEXT]
  update   ID -status identified|monitoring|investigating|update -message TEXT [-message-ja TEXT] [-notify]
  resolve  ID [-message TEXT] [-message-ja TEXT]
  postmortem ID [-body TEXT] [-body-ja TEXT] [-body-in LANG=TEXT] [-publish [-notify]]   (resolved incidents only)

create -template NAME starts from an incident template (probed template help);
the flags given override it, and it stays a draft unless -publish.
Every subcommand takes -server URL (or PROBED_SERVER; default ` + DefaultServer + `),
reads the token from PROBED_TOKEN, prints -o json for scripts, and has -h.
`

func cmdIncident() func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands("incident", map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"list":       incidentList,
		"show":       incidentShow,
		"create":     incidentCreate,
		"edit":       incidentEdit,
		"approve":    incidentApprove,
		"reject":     incidentReject,
		"update":     incidentUpdate,
		"resolve":    incidentResolve,
		"postmortem": incidentPostmortem,
	}, incidentHelp)
}

func outputFlag(fs *flag.FlagSet) *string {
	return fs.String("o", "text", "output: text or json")
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return fmt.Errorf("-o %q: want text or json", o)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func incidentList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident list", "incident list [-state draft] [-component ID] [-o json]", stderr)
	server := addClientFlags(fs)
	state := fs.String("state", "", "only incidents in this state (draft, published, resolved, rejected, withdrawn; comma-separated)")
	comp := fs.String("component", "", "only incidents covering this component")
	limit := fs.Int("limit", 100, "at most this many, newest first")
	out := outputFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	c, err := newAPIClient(*server)
	if err != nil {
		return err
	}
	q := fmt.Sprintf("/api/v1/incidents?state=%s&component=%s&limit=%d", urlq(*state), urlq(*comp), *limit)
	var list []status.Incident
	if err := c.call(ctx, http.MethodGet, q, nil, &list); err != nil {
		return err
	}
	if *out == "json" {
		return printJSON(stdout, list)
	}
	return printIncidentTable(stdout, list, false)
}

func urlq(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", " ", "%20", "#", "%23", "?", "%3F")
	return r.Replace(s)
}

// The text output names statuses, impacts and states with the catalogue's
// English words (the console's); -o json keeps the codes.

func componentsText(inc *status.Incident) string {
	en := words.Builtin().Lang("en")
	var parts []string
	for _, c := range inc.Components {
		parts = append(parts, c.ID+" ("+en.Status(c.Status)+")")
	}
	return strings.Join(parts, ", ")
}

// stateWord names an incident's state ("draft", "published" ...).
func stateWord(en *words.Lang, state string) string { return en.T("console.state." + state) }

func printIncidentTable(w io.Writer, list []status.Incident, maint bool) error {
	en := words.Builtin().Lang("en")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if maint {
		fmt.Fprintln(tw, "ID\tSTATE\tSTATUS\tSTART\tEND\tCOMPONENTS\tTITLE")
	} else {
		fmt.Fprintln(tw, "ID\tSTATE\tSTATUS\tIMPACT\tCREATED\tCOMPONENTS\tTITLE")
	}
	for i := range list {
		inc := &list[i]
		if maint {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", inc.ID, stateWord(en, inc.State), en.Label(inc.Status), fmtT(inc.ScheduledFor), fmtT(inc.ScheduledUntil), componentsText(inc), inc.Title.In("en"))
			continue
		}
		status := en.Label(inc.Status)
		if inc.Proposal != nil {
			status += " (" + en.T("console.proposal.tag") + ")"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", inc.ID, stateWord(en, inc.State), status, en.Impact(inc.Impact), inc.CreatedAt.UTC().Format(time.RFC3339), componentsText(inc), inc.Title.In("en"))
	}
	return tw.Flush()
}

func fmtT(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printOtherLanguages prints a text's languages other than the English
// shown first, each on its own line after its code.
func printOtherLanguages(w io.Writer, indent string, t status.Text) {
	first := t.In("en")
	for _, lang := range t.Languages() {
		if t[lang] != first {
			fmt.Fprintf(w, "%s[%s] %s\n", indent, lang, t[lang])
		}
	}
}

func printIncident(w io.Writer, inc *status.Incident) {
	en := words.Builtin().Lang("en")
	fmt.Fprintf(w, "#%d %s\n", inc.ID, inc.Title.In("en"))
	printOtherLanguages(w, "   ", inc.Title)
	fmt.Fprintf(w, "kind %s · state %s · status %s · impact %s · origin %s\n", en.T("console.kind."+inc.Kind), stateWord(en, inc.State), en.Label(inc.Status), en.Impact(inc.Impact), en.T("console.origin."+inc.Origin))
	fmt.Fprintf(w, "created %s · published %s · resolved %s\n", inc.CreatedAt.UTC().Format(time.RFC3339), fmtT(inc.PublishedAt), fmtT(inc.ResolvedAt))
	if inc.ScheduledFor != nil {
		fmt.Fprintf(w, "window %s – %s\n", fmtT(inc.ScheduledFor), fmtT(inc.ScheduledUntil))
	}
	if inc.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", inc.Reason)
	}
	fmt.Fprintf(w, "components: %s\n", componentsText(inc))
	if inc.Proposal != nil {
		fmt.Fprintf(w, "\nprobed proposes resolving it (%s): %s\n", inc.Proposal.At.UTC().Format(time.RFC3339), inc.Proposal.Body.In("en"))
	}
	if pm := inc.Postmortem; pm != nil {
		state := "draft, not published"
		if pm.Published() {
			state = "published " + fmtT(pm.BodyUpdatedAt)
			if pm.Unpublished() {
				state += "; the draft has unpublished changes"
			}
		}
		fmt.Fprintf(w, "\npostmortem (%s):\n  %s\n", state, pm.Draft.In("en"))
		printOtherLanguages(w, "  ", pm.Draft)
	}
	fmt.Fprintln(w, "\nupdates (newest first):")
	for _, u := range inc.Updates {
		notify := ""
		if u.Notify {
			notify = " (notified)"
		}
		fmt.Fprintf(w, "  %s  %s%s\n    %s\n", u.DisplayAt.UTC().Format(time.RFC3339), en.Label(u.Status), notify, u.Body.In("en"))
		printOtherLanguages(w, "    ", u.Body)
	}
	if len(inc.Evidence) > 0 {
		fmt.Fprintln(w, "\nevidence:")
		for _, e := range inc.Evidence {
			fmt.Fprintf(w, "  %s %s@%s %s: %s (since %s, last %s, %d×)\n", e.Source, e.Probe, e.Location, e.Check, e.Message,
				e.Since.UTC().Format(time.RFC3339), e.Last.UTC().Format(time.RFC3339), e.Count)
		}
	}
}

// oneIncident runs a command that answers with one incident.
func oneIncident(ctx context.Context, stdout io.Writer, server, out, method, path string, body any) error {
	return callOne(ctx, stdout, server, out, method, path, body, printIncident)
}

func incidentShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident show", "incident show ID [-o json]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", id), nil)
}

// parseComponents reads "a:major_outage,b" (a bare id takes def).
func parseComponents(s, def string) ([]status.ComponentImpact, error) {
	var out []status.ComponentImpact
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, st, ok := strings.Cut(part, ":")
		if !ok {
			st = def
		}
		if st == "" {
			return nil, fmt.Errorf("component %q: give a status as id:status (%s)", id, strings.Join(status.IncidentComponentStatuses(), ", "))
		}
		out = append(out, status.ComponentImpact{ID: id, Status: st})
	}
	return out, nil
}

func incidentCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident create", "incident create -title T -message TEXT -components id:status,... [-publish]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	title := fs.String("title", "", "title")
	titleJA := fs.String("title-ja", "", "title in Japanese")
	msg := fs.String("message", "", "first update")
	msgJA := fs.String("message-ja", "", "first update in Japanese")
	titles, msgs := textsFlag(fs, "title", "title"), textsFlag(fs, "message", "first update")
	impact := fs.String("impact", "", "none, minor, major or critical (default: from the component statuses)")
	st := fs.String("status", "", "investigating, identified or monitoring (default investigating, or the template's)")
	comps := fs.String("components", "", "affected components as id:status,... (a bare id means major_outage)")
	publish := fs.Bool("publish", false, "publish at once instead of leaving a draft")
	tpl := fs.String("template", "", "start from this incident template (name or id); the flags given override it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cs, err := parseComponents(*comps, status.MajorOutage)
	if err != nil {
		return err
	}
	body := console.CreateIncidentRequest{Title: *title, TitleJA: *titleJA, Titles: titles, Message: *msg, MessageJA: *msgJA, Messages: msgs,
		Impact: *impact, Status: *st, Components: cs, Publish: *publish, Template: *tpl}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPost, "/api/v1/incidents", body)
}

func incidentEdit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident edit", "incident edit ID [-title T] [-message TEXT] [-impact I] [-components id:status,...]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	// Only the flags given are sent: a nil field leaves the draft's value.
	var body console.EditDraftRequest
	type field struct {
		value *string
		dst   **string
	}
	fields := map[string]field{}
	for _, f := range []struct {
		flag, help string
		dst        **string
	}{{"title", "title", &body.Title}, {"title-ja", "title in Japanese", &body.TitleJA},
		{"message", "first update", &body.Message}, {"message-ja", "first update in Japanese", &body.MessageJA},
		{"impact", "none, minor, major or critical", &body.Impact}, {"status", "investigating, identified or monitoring", &body.Status}} {
		fields[f.flag] = field{fs.String(f.flag, "", f.help), f.dst}
	}
	comps := fs.String("components", "", "replace the components: id:status,...")
	titles, msgs := textsFlag(fs, "title", "title"), textsFlag(fs, "message", "first update")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	given, compsGiven := len(titles)+len(msgs) > 0, false
	if len(titles) > 0 {
		body.Titles = titles
	}
	if len(msgs) > 0 {
		body.Messages = msgs
	}
	fs.Visit(func(f *flag.Flag) {
		if fl, ok := fields[f.Name]; ok {
			*fl.dst, given = fl.value, true
		}
		compsGiven = compsGiven || f.Name == "components"
	})
	if compsGiven {
		cs, err := parseComponents(*comps, "")
		if err != nil {
			return err
		}
		body.Components, given = cs, true
	}
	if !given {
		return errors.New("nothing to change: give -title, -message, -impact, -status or -components")
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPatch, fmt.Sprintf("/api/v1/incidents/%d", id), body)
}

func incidentApprove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident approve", "incident approve ID [-notify=false]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	notify := fs.Bool("notify", true, "tell subscribers (false: publish quietly; the audit log records the choice)")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/approve", id), console.ApproveRequest{Notify: notify})
}

func incidentReject(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident reject", "incident reject ID [-reason TEXT]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	reason := fs.String("reason", "", "why (kept with the draft and in the audit log)")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/reject", id), console.ReasonRequest{Reason: *reason})
}

func incidentUpdate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident update", "incident update ID -status identified|monitoring|update -message TEXT [-notify]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	status := fs.String("status", "update", "investigating, identified, monitoring, update (keep the status) or resolved")
	msg := fs.String("message", "", "the update's text (required)")
	msgJA := fs.String("message-ja", "", "the update's text in Japanese")
	msgs := textsFlag(fs, "message", "the update's text")
	notify := fs.Bool("notify", false, "mail subscribers about this update")
	comps := fs.String("components", "", "new public statuses as id:status,...")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*msg) == "" {
		return errors.New("-message is required")
	}
	cs, err := parseComponents(*comps, "")
	if err != nil {
		return err
	}
	body := console.PostUpdateRequest{Status: *status, Message: *msg, MessageJA: *msgJA, Messages: msgs, Notify: *notify, Components: cs}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/updates", id), body)
}

func incidentResolve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident resolve", "incident resolve ID [-message TEXT]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	msg := fs.String("message", "", "final update (default: the resolve proposal's text, or a standard one)")
	msgJA := fs.String("message-ja", "", "final update in Japanese")
	msgs := textsFlag(fs, "message", "final update")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPost, fmt.Sprintf("/api/v1/incidents/%d/resolve", id), console.MessageRequest{Message: *msg, MessageJA: *msgJA, Messages: msgs})
}

const maintenanceHelp = `usage: probed maintenance <subcommand> [flags]

  schedule   -title T -components a,b -start RFC3339 -end RFC3339 [-message TEXT] [-title-ja T] [-message-ja TEXT]
  list       [-state published|resolved|withdrawn] [-o json]
  show       ID [-o json]
  cancel     ID [-reason TEXT]
  start      ID        (before its time)
  verifying  ID        (the work is being checked)
  complete   ID        (end early)

Every subcommand takes -server URL (or PROBED_SERVER; default ` + DefaultServer + `),
reads the token from PROBED_TOKEN, prints -o json for scripts, and has -h.
`

func cmdMaintenance() func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands("maintenance", map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"schedule":  maintenanceSchedule,
		"list":      maintenanceList,
		"show":      maintenanceShow,
		"cancel":    maintenanceStep("cancel"),
		"start":     maintenanceStep("start"),
		"verifying": maintenanceStep("verifying"),
		"complete":  maintenanceStep("complete"),
	}, maintenanceHelp)
}

func maintenanceSchedule(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("maintenance schedule", "maintenance schedule -title T -components a,b -start RFC3339 -end RFC3339 [-message TEXT]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	title := fs.String("title", "", "title (required)")
	titleJA := fs.String("title-ja", "", "title in Japanese")
	comps := fs.String("components", "", "component ids, comma-separated (required)")
	start := fs.String("start", "", "start, RFC 3339 such as 2026-03-01T10:00:00+09:00 (required)")
	end := fs.String("end", "", "end, RFC 3339 (required)")
	msg := fs.String("message", "", "announcement (default: a standard text)")
	msgJA := fs.String("message-ja", "", "announcement in Japanese")
	titles, msgs := textsFlag(fs, "title", "title"), textsFlag(fs, "message", "announcement")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	s, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return fmt.Errorf("-start %q: want RFC 3339 such as 2026-03-01T10:00:00Z", *start)
	}
	e, err := time.Parse(time.RFC3339, *end)
	if err != nil {
		return fmt.Errorf("-end %q: want RFC 3339 such as 2026-03-01T12:00:00Z", *end)
	}
	var ids []string
	for _, c := range strings.Split(*comps, ",") {
		if c = strings.TrimSpace(c); c != "" {
			ids = append(ids, c)
		}
	}
	body := console.ScheduleMaintenanceRequest{Title: *title, TitleJA: *titleJA, Titles: titles, Components: ids, Start: s, End: e,
		Message: *msg, MessageJA: *msgJA, Messages: msgs}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPost, "/api/v1/maintenances", body)
}

func maintenanceList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("maintenance list", "maintenance list [-state published] [-o json]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	state := fs.String("state", "", "only maintenances in this state: published (scheduled or running), resolved (completed), withdrawn (cancelled)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	c, err := newAPIClient(*server)
	if err != nil {
		return err
	}
	var list []status.Incident
	if err := c.call(ctx, http.MethodGet, "/api/v1/maintenances?state="+urlq(*state), nil, &list); err != nil {
		return err
	}
	if *out == "json" {
		return printJSON(stdout, list)
	}
	return printIncidentTable(stdout, list, true)
}

func maintenanceShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("maintenance show", "maintenance show ID [-o json]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodGet, fmt.Sprintf("/api/v1/maintenances/%d", id), nil)
}

func maintenanceStep(action string) func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlags("maintenance "+action, "maintenance "+action+" ID", stderr)
		server, out := addClientFlags(fs), outputFlag(fs)
		msg := fs.String("message", "", "the update's text (default: a standard one)")
		reason := fs.String("reason", "", "why (cancel)")
		id, err := parseWithID(fs, args)
		if err != nil {
			return err
		}
		return oneIncident(ctx, stdout, *server, *out, http.MethodPost, fmt.Sprintf("/api/v1/maintenances/%d/%s", id, action), console.MessageRequest{Message: *msg, Reason: *reason})
	}
}
