package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
	"github.com/probed/probed/words"
)

const subscriberHelp = `usage: probed subscriber <command> [flags]

commands:
  list    [-state active|pending|unsubscribed|quarantined] [-o json]
  add     -email ADDR | -webhook URL [-components a,b] [-secret S] [-o json]
          an operator-added address is confirmed at once; no -components: every component
  remove  -email ADDR | -webhook URL | ID

Talks to a running daemon's operator API: -server or PROBED_SERVER, and PROBED_TOKEN.
`

func cmdSubscriber() func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommands("subscriber", map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
		"list":   subscriberList,
		"add":    subscriberAdd,
		"remove": subscriberRemove,
	}, subscriberHelp)
}

func subscriberList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("subscriber list", "subscriber list [-state S] [-o json]", stderr)
	server := addClientFlags(fs)
	state := fs.String("state", "", "only subscribers in this state: active, pending, unsubscribed or quarantined")
	out := outputFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c, err := newAPIClient(*server)
	if err != nil {
		return err
	}
	var list []store.Subscriber
	if err := c.call(ctx, http.MethodGet, "/api/v1/subscribers?state="+url.QueryEscape(*state), nil, &list); err != nil {
		return err
	}
	if *out == "json" {
		return printJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tADDRESS\tKIND\tSTATE\tCOMPONENTS\tSOURCE\tFAILURES")
	// The catalogue's English words (the console's); -o json keeps the codes.
	en := words.Builtin().Lang("en")
	for _, s := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\n", s.ID, s.Address, en.T("console.subs.kind."+s.Kind), en.T("console.subs.state."+s.State),
			strings.Join(s.Components, ","), en.T("console.subs.source."+s.Source), s.Failures)
	}
	return tw.Flush()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func subscriberAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("subscriber add", "subscriber add -email ADDR [-language ja] | -webhook URL [-secret S] [-components a,b] [-o json]", stderr)
	server := addClientFlags(fs)
	email := fs.String("email", "", "e-mail address (confirmed at once)")
	hook := fs.String("webhook", "", "webhook URL (http or https) instead of an address")
	comps := fs.String("components", "", "component ids, comma-separated (a group stands for its children); empty: every component")
	secret := fs.String("secret", "", "webhook signing secret; empty: a random one, printed once")
	lang := fs.String("language", "", "language of the pages the mailed links open (one of page.languages); empty: none")
	out := outputFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := checkOutput(*out); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("subscriber add: unexpected argument %q (give the address with -email ADDR or -webhook URL)", fs.Arg(0))
	}
	if (*email == "") == (*hook == "") {
		fs.Usage()
		return errUsage
	}
	c, err := newAPIClient(*server)
	if err != nil {
		return err
	}
	var added struct {
		store.Subscriber
		Secret string `json:"secret,omitempty"`
	}
	req := notify.AddRequest{Email: *email, WebhookURL: *hook, Components: splitList(*comps), Secret: *secret, Language: *lang}
	if err := c.call(ctx, http.MethodPost, "/api/v1/subscribers", req, &added); err != nil {
		return err
	}
	if *out == "json" {
		return printJSON(stdout, added)
	}
	fmt.Fprintf(stdout, "subscriber %d: %s %s, %s, components %s\n", added.ID, words.Builtin().T("en", "console.subs.kind."+added.Kind), added.Address, words.Builtin().T("en", "console.subs.state."+added.State), strings.Join(added.Components, ","))
	if added.Secret != "" {
		fmt.Fprintf(stdout, "webhook signing secret (shown once): %s\n", added.Secret)
	}
	return nil
}

func subscriberRemove(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("subscriber remove", "subscriber remove -email ADDR | -webhook URL | ID", stderr)
	server := addClientFlags(fs)
	email := fs.String("email", "", "e-mail address to remove")
	hook := fs.String("webhook", "", "webhook URL to remove")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := ""
	switch {
	case *email != "" && *hook == "" && fs.NArg() == 0:
		path = "/api/v1/subscribers?address=" + url.QueryEscape(*email)
	case *hook != "" && *email == "" && fs.NArg() == 0:
		path = "/api/v1/subscribers?address=" + url.QueryEscape(*hook)
	case *email == "" && *hook == "" && fs.NArg() == 1:
		id, err := strconv.ParseInt(strings.TrimPrefix(fs.Arg(0), "#"), 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a subscriber id (a positive number); to remove by address use -email ADDR or -webhook URL", fs.Arg(0))
		}
		path = fmt.Sprintf("/api/v1/subscribers/%d", id)
	default:
		fs.Usage()
		return errUsage
	}
	c, err := newAPIClient(*server)
	if err != nil {
		return err
	}
	var removed store.Subscriber
	if err := c.call(ctx, http.MethodDelete, path, nil, &removed); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed subscriber %d: %s\n", removed.ID, removed.Address)
	return nil
}
