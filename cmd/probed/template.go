package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/probed/probed/status"
	"github.com/probed/probed/web/console"
	"github.com/probed/probed/words"
)

// `probed template …` keeps incident templates through the operator API;
// `probed incident create -template NAME` starts a draft from one, and
// `probed incident postmortem ID` writes and publishes a postmortem.

const templateHelp = `usage: probed template <subcommand> [flags]

  list     [-o json]
  show     NAME|ID [-o json]
  create   -name N -title T -message TEXT [-title-ja T] [-message-ja TEXT] [-title-in LANG=T] [-message-in LANG=TEXT]
           [-impact none|minor|major|critical] [-status investigating|identified|monitoring] [-components id:status,...]
  edit     NAME|ID [the flags of create: only those given change]
  delete   NAME|ID

Start an incident from one with: probed incident create -template NAME [flags that override it].
Every subcommand takes -server URL (or PROBED_SERVER; default ` + DefaultServer + `),
reads the token from PROBED_TOKEN, prints -o json for scripts, and has -h.
`

func cmdTemplate() func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands("template", map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"list":   templateList,
		"show":   templateShow,
		"create": templateCreate,
		"edit":   templateEdit,
		"delete": templateDelete,
	}, templateHelp)
}

// parseWithRef parses flags that may come before or after one positional
// template name or id.
func parseWithRef(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return "", errUsage
	}
	ref := fs.Arg(0)
	if err := fs.Parse(fs.Args()[1:]); err != nil {
		return "", err
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected arguments %q (quote a name with spaces)", fs.Args())
	}
	return ref, nil
}

// namedTemplate parses a command's flags around its NAME|ID argument and
// reads that template.
func namedTemplate(ctx context.Context, fs *flag.FlagSet, args []string, server *string) (*apiClient, *status.Template, error) {
	ref, err := parseWithRef(fs, args)
	if err != nil {
		return nil, nil, err
	}
	c, err := newAPIClient(*server)
	if err != nil {
		return nil, nil, err
	}
	t, err := findTemplate(ctx, c, ref)
	return c, t, err
}

// findTemplate reads a template by name or id.
func findTemplate(ctx context.Context, c *apiClient, ref string) (*status.Template, error) {
	var list []status.Template
	if err := c.call(ctx, http.MethodGet, "/api/v1/templates", nil, &list); err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Name == strings.TrimSpace(ref) || fmt.Sprint(list[i].ID) == ref {
			return &list[i], nil
		}
	}
	return nil, fmt.Errorf("no template is named %q (probed template list shows them)", ref)
}

func templateList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("template list", "template list [-o json]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
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
	var list []status.Template
	if err := c.call(ctx, http.MethodGet, "/api/v1/templates", nil, &list); err != nil {
		return err
	}
	if *out == "json" {
		return printJSON(stdout, list)
	}
	en := words.Builtin().Lang("en")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tIMPACT\tCOMPONENTS\tTITLE")
	for i := range list {
		t := &list[i]
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.ID, t.Name, templateImpact(en, t), componentsText(&status.Incident{Components: t.Components}), t.Title.In("en"))
	}
	return tw.Flush()
}

func templateImpact(en *words.Lang, t *status.Template) string {
	if t.Impact == "" {
		return "(from components)"
	}
	return en.Impact(t.Impact)
}

func printTemplate(w io.Writer, t *status.Template) {
	en := words.Builtin().Lang("en")
	fmt.Fprintf(w, "template %d: %s\n", t.ID, t.Name)
	fmt.Fprintf(w, "title: %s\n", t.Title.In("en"))
	printOtherLanguages(w, "   ", t.Title)
	fmt.Fprintf(w, "status %s · impact %s\n", en.Label(t.Status), templateImpact(en, t))
	fmt.Fprintf(w, "components: %s\n", componentsText(&status.Incident{Components: t.Components}))
	fmt.Fprintf(w, "message: %s\n", t.Body.In("en"))
	printOtherLanguages(w, "   ", t.Body)
}

func templateShow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("template show", "template show NAME|ID [-o json]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	_, t, err := namedTemplate(ctx, fs, args, server)
	if err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if *out == "json" {
		return printJSON(stdout, t)
	}
	printTemplate(stdout, t)
	return nil
}

// templateFlags are the flags of create and edit.
type templateFlags struct {
	name, title, titleJA, msg, msgJA, impact, status, comps *string
	titles, msgs                                            status.Text
}

func addTemplateFlags(fs *flag.FlagSet) *templateFlags {
	return &templateFlags{
		name:    fs.String("name", "", "the template's name (unique)"),
		title:   fs.String("title", "", "title"),
		titleJA: fs.String("title-ja", "", "title in Japanese"),
		msg:     fs.String("message", "", "first update"),
		msgJA:   fs.String("message-ja", "", "first update in Japanese"),
		impact:  fs.String("impact", "", "none, minor, major or critical (empty: from the component statuses)"),
		status:  fs.String("status", "", "investigating, identified or monitoring (default investigating)"),
		comps:   fs.String("components", "", "components as id:status,... (a bare id means major_outage)"),
		titles:  textsFlag(fs, "title", "title"),
		msgs:    textsFlag(fs, "message", "first update"),
	}
}

// apply sets on req what was given on the command line (all of it for
// create; only the flags given for edit).
func (f *templateFlags) apply(fs *flag.FlagSet, req *console.TemplateRequest) error {
	var err error
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for name, dst := range map[string]struct{ from, to *string }{"name": {f.name, &req.Name}, "impact": {f.impact, &req.Impact}, "status": {f.status, &req.Status}} {
		if given[name] {
			*dst.to = *dst.from
		}
	}
	if req.Titles == nil {
		req.Titles = status.Text{}
	}
	if req.Messages == nil {
		req.Messages = status.Text{}
	}
	for _, t := range []struct {
		flag, lang string
		value      *string
		dst        status.Text
	}{{"title", "en", f.title, req.Titles}, {"title-ja", "ja", f.titleJA, req.Titles}, {"message", "en", f.msg, req.Messages}, {"message-ja", "ja", f.msgJA, req.Messages}} {
		if given[t.flag] {
			t.dst[t.lang] = *t.value
		}
	}
	for l, v := range f.titles {
		req.Titles[l] = v
	}
	for l, v := range f.msgs {
		req.Messages[l] = v
	}
	if given["components"] {
		req.Components, err = parseComponents(*f.comps, status.MajorOutage)
	}
	return err
}

func templateCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("template create", "template create -name N -title T -message TEXT [-components id:status,...] [-impact I]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	f := addTemplateFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var req console.TemplateRequest
	if err := f.apply(fs, &req); err != nil {
		return err
	}
	return oneTemplate(ctx, stdout, *server, *out, http.MethodPost, "/api/v1/templates", req)
}

func templateEdit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("template edit", "template edit NAME|ID [-name N] [-title T] [-message TEXT] [-impact I] [-status S] [-components id:status,...]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	f := addTemplateFlags(fs)
	_, t, err := namedTemplate(ctx, fs, args, server)
	if err != nil {
		return err
	}
	req := console.TemplateRequest{Name: t.Name, Titles: t.Title, Messages: t.Body, Impact: t.Impact, Status: t.Status, Components: t.Components}
	changed := false
	fs.Visit(func(fl *flag.Flag) { changed = changed || (fl.Name != "server" && fl.Name != "o") })
	if !changed {
		return errors.New("nothing to change: give -name, -title, -message, -impact, -status or -components")
	}
	if err := f.apply(fs, &req); err != nil {
		return err
	}
	return oneTemplate(ctx, stdout, *server, *out, http.MethodPut, fmt.Sprintf("/api/v1/templates/%d", t.ID), req)
}

func templateDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("template delete", "template delete NAME|ID", stderr)
	server := addClientFlags(fs)
	c, t, err := namedTemplate(ctx, fs, args, server)
	if err != nil {
		return err
	}
	if err := c.call(ctx, http.MethodDelete, fmt.Sprintf("/api/v1/templates/%d", t.ID), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "deleted template %d (%s)\n", t.ID, t.Name)
	return nil
}

// oneTemplate runs a command that answers with one template.
func oneTemplate(ctx context.Context, stdout io.Writer, server, out, method, path string, body any) error {
	return callOne(ctx, stdout, server, out, method, path, body, printTemplate)
}

// callOne runs a command that answers with one T: -o json prints the
// API's JSON, else show prints it for people.
func callOne[T any](ctx context.Context, stdout io.Writer, server, out, method, path string, body any, show func(io.Writer, *T)) error {
	if err := checkOutput(out); err != nil {
		return err
	}
	c, err := newAPIClient(server)
	if err != nil {
		return err
	}
	var v T
	if err := c.call(ctx, method, path, body, &v); err != nil {
		return err
	}
	if out == "json" {
		return printJSON(stdout, v)
	}
	show(stdout, &v)
	return nil
}

// incidentPostmortem saves a resolved incident's postmortem draft (when a
// text is given) and publishes it (with -publish).
func incidentPostmortem(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("incident postmortem", "incident postmortem ID [-body TEXT] [-body-ja TEXT] [-body-in LANG=TEXT] [-publish [-notify]]", stderr)
	server, out := addClientFlags(fs), outputFlag(fs)
	body := fs.String("body", "", "the postmortem (plain text; blank lines separate paragraphs); replaces the draft")
	bodyJA := fs.String("body-ja", "", "the postmortem in Japanese")
	bodies := textsFlag(fs, "body", "the postmortem")
	publish := fs.Bool("publish", false, "publish the draft: the public page, feeds and API v2 show it")
	notify := fs.Bool("notify", false, "with -publish: tell the incident's subscribers (the audit log records the choice)")
	id, err := parseWithID(fs, args)
	if err != nil {
		return err
	}
	req := console.PostmortemRequest{Body: *body, BodyJA: *bodyJA, Bodies: bodies}
	write := strings.TrimSpace(*body+*bodyJA) != "" || len(bodies) > 0
	if !write && !*publish {
		return errors.New("nothing to do: give the text (-body, -body-ja, -body-in) to save a draft, and/or -publish")
	}
	path := fmt.Sprintf("/api/v1/incidents/%d/postmortem", id)
	if write && *publish {
		c, err := newAPIClient(*server)
		if err != nil {
			return err
		}
		if err := c.call(ctx, http.MethodPut, path, req, nil); err != nil {
			return err
		}
	}
	if *publish {
		return oneIncident(ctx, stdout, *server, *out, http.MethodPost, path+"/publish", console.PublishPostmortemRequest{Notify: *notify})
	}
	return oneIncident(ctx, stdout, *server, *out, http.MethodPut, path, req)
}
