package subscription

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"github.com/probed/probed/words"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/probed/probed/config"
	"github.com/probed/probed/notify"
	"github.com/probed/probed/store"
	"github.com/probed/probed/web/httpserver"
)

// The public subscription flow (SPEC §4): /subscribe, /subscribe/confirm,
// /subscriptions/manage and /unsubscribe. Every GET only shows a page;
// every change is a POST that passes Go's cross-origin protection and a
// double-submit CSRF token, except the RFC 8058 one-click unsubscribe,
// which a mail provider posts without cookies and whose URL token is its
// authority.

//go:embed templates/subscribe/*.html templates/subscribe/pow.js
var subscribeFS embed.FS

// formCookie holds the random value the public forms' CSRF tokens are made from.
const formCookie = "probed_form"

// maxFormBytes bounds a public form body.
const maxFormBytes = 64 << 10

var subscribePages = func() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, page := range []string{"subscribe", "sent", "confirm", "done", "manage", "unsubscribe"} {
		out[page] = template.Must(template.ParseFS(subscribeFS, "templates/subscribe/layout.html", "templates/subscribe/"+page+".html"))
	}
	return out
}()

var powJS = func() []byte {
	b, err := subscribeFS.ReadFile("templates/subscribe/pow.js")
	if err != nil {
		panic(err)
	}
	return b
}()

// Options configures the subscriber pages.
type Options struct {
	// Words is the catalogue of every fixed text (nil: the built-in one).
	Words *words.Catalogue
	// Subscriptions is the subscription flow; nil: the pages answer 503.
	Subscriptions *notify.Subscriptions
	Logger        *slog.Logger
}

// Pages serves the subscriber pages.
type Pages struct {
	subs   *notify.Subscriptions
	logger *slog.Logger
	words  *words.Catalogue
}

// New builds the subscriber pages.
func New(opts Options) *Pages {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Words == nil {
		opts.Words = words.Builtin()
	}
	return &Pages{subs: opts.Subscriptions, logger: opts.Logger, words: opts.Words}
}

// Routes mounts the subscription flow on the public mux.
func (s *Pages) Routes(mux *http.ServeMux) {
	cop := http.NewCrossOriginProtection()
	// RFC 8058's one-click POST may come from a mail client on another
	// origin; its authority is the unforgeable token in the URL, and the
	// page's own button still needs the form token.
	cop.AddInsecureBypassPattern("POST /unsubscribe")
	h := func(f http.HandlerFunc) http.Handler {
		return cop.Handler(httpserver.NoStore(s.needSubscriptions(f)))
	}
	mux.Handle("GET /subscribe", h(s.subscribeForm))
	mux.Handle("POST /subscribe", h(s.subscribePost))
	mux.Handle("GET /subscribe/pow.js", http.HandlerFunc(servePowJS))
	mux.Handle("GET /subscribe/confirm", h(s.confirmForm))
	mux.Handle("POST /subscribe/confirm", h(s.confirmPost))
	mux.Handle("GET /subscriptions/manage", h(s.manageForm))
	mux.Handle("POST /subscriptions/manage", h(s.managePost))
	mux.Handle("GET /unsubscribe", h(s.unsubscribeForm))
	mux.Handle("POST /unsubscribe", h(s.unsubscribePost))
}

func (s *Pages) needSubscriptions(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.subs == nil {
			http.Error(w, "503 subscriptions are not available on this server", http.StatusServiceUnavailable)
			return
		}
		f(w, r)
	}
}

func servePowJS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(powJS)
}

// subView is what the subscription pages render.
type subView struct {
	Lang, Page, Title string
	words             *words.Catalogue
	Error, Message    string
	Email             string
	Tree              []compNode
	AllChecked        bool
	SelectNone        string
	SelectAll         string
	CSRF              string
	Challenge         string
	Bits              int
	Token             string
	Names             []string
	ManageURL         string
	UnsubscribeURL    string
	Script            bool
	NoJSWait          int
	// LangSuffix keeps an explicit language choice on the forms' POSTs.
	LangSuffix string
	// carry is the language links carry on ("" when the default applies);
	// path and query are the page's own, for the language switcher.
	carry, path string
	query       url.Values
	langs       []string
}

// Link adds the page's language to a site path, so a visitor who chose
// Japanese stays in Japanese from link to link.
func (v *subView) Link(p string) string {
	if v.carry == "" {
		return p
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + "lang=" + v.carry
}

// OtherLangs are the page's other languages, for the switcher.
func (v *subView) OtherLangs() []string {
	var out []string
	for _, l := range v.langs {
		if l != v.Lang {
			out = append(out, l)
		}
	}
	return out
}

// LangName is a language's name in that language.
func (v *subView) LangName(code string) string { return v.words.T(code, "lang.name") }

// inLang makes a link to a subscriber page open in this page's language.
func (v *subView) inLang(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	q := u.Query()
	q.Set("lang", v.Lang)
	u.RawQuery = q.Encode()
	return u.String()
}

// LangLink is this page in another language. A page opened from a mailed
// link keeps its token, also after a POST (which carried it in the form).
func (v *subView) LangLink(code string) string {
	q := url.Values{}
	for k, vs := range v.query {
		q[k] = vs
	}
	if v.Token != "" && q.Get("t") == "" {
		q.Set("t", v.Token)
	}
	q.Set("lang", code)
	return v.path + "?" + q.Encode()
}

// T returns a fixed text in the page's language (the catalogue's sub.KEY).
func (v *subView) T(key string) string { return v.words.T(v.Lang, "sub."+key) }

type compNode struct {
	ID, Name, Parent string
	Group, Checked   bool
	Children         []compNode
}

func (s *Pages) subView(w http.ResponseWriter, r *http.Request, titleKey string) *subView {
	cfg := s.subs.Config()
	code, explicit := s.negotiate(r)
	v := &subView{Lang: code, Page: cfg.Page.Name, words: s.words, path: r.URL.Path, query: r.URL.Query()}
	for _, l := range cfg.Page.Languages {
		if s.words.Has(l) {
			v.langs = append(v.langs, l)
		}
	}
	if len(v.langs) == 0 {
		v.langs = []string{"en"}
	}
	if explicit || code != v.langs[0] {
		v.carry = code
	}
	if explicit {
		v.LangSuffix = "?lang=" + code
	}
	v.Title = v.T(titleKey)
	v.CSRF = s.formToken(w, r)
	return v
}

// negotiate picks the page's language among page.languages.
func (s *Pages) negotiate(r *http.Request) (code string, explicit bool) {
	return httpserver.Negotiate(r, s.subs.Config().Page.Languages, s.words.Has)
}

// pageLang is the language a page is shown in.
func (s *Pages) pageLang(r *http.Request) string {
	code, _ := s.negotiate(r)
	return code
}

// formToken returns the CSRF token for the browser's form cookie, setting
// the cookie first when the browser has none.
func (s *Pages) formToken(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(formCookie)
	val := ""
	if err == nil && len(c.Value) >= 16 && len(c.Value) <= 64 {
		val = c.Value
	} else {
		b := make([]byte, 18)
		rand.Read(b)
		val = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: formCookie, Value: val, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
			Secure: strings.HasPrefix(s.subs.Config().Page.URL, "https://")})
	}
	return s.subs.FormToken(val)
}

// checkForm reads a POSTed form and checks its CSRF token against the cookie.
func (s *Pages) checkForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "400 bad request: cannot read the form", http.StatusBadRequest)
		return false
	}
	c, err := r.Cookie(formCookie)
	if err != nil || !s.subs.CheckFormToken(c.Value, r.PostForm.Get("csrf")) {
		http.Error(w, "403 forbidden: the form has expired or did not come from this site; reload the page and send it again", http.StatusForbidden)
		return false
	}
	return true
}

func (s *Pages) subRender(w http.ResponseWriter, page string, code int, v *subView) {
	var b bytes.Buffer
	if err := subscribePages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		s.logger.Error("render subscription page", "page", page, "err", err)
		http.Error(w, "500 internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// tree builds the checkbox tree; checked decides each leaf's box.
func tree(cfg *config.Config, checked func(id string) bool) ([]compNode, bool) {
	all := true
	var out []compNode
	for _, c := range cfg.Components {
		if !c.IsGroup() {
			on := checked(c.ID)
			all = all && on
			out = append(out, compNode{ID: c.ID, Name: c.Name, Checked: on})
			continue
		}
		g := compNode{ID: c.ID, Name: c.Name, Group: true, Checked: true}
		for _, ch := range c.Components {
			on := checked(ch.ID)
			all = all && on
			g.Checked = g.Checked && on
			g.Children = append(g.Children, compNode{ID: ch.ID, Name: ch.Name, Parent: c.ID, Checked: on})
		}
		out = append(out, g)
	}
	return out, all
}

func withQuery(r *http.Request, key, value string) string {
	q := r.URL.Query()
	q.Set(key, value)
	return r.URL.Path + "?" + q.Encode()
}

func (s *Pages) subscribeForm(w http.ResponseWriter, r *http.Request) {
	s.renderSubscribe(w, r, http.StatusOK, "", r.URL.Query().Get("email"), nil)
}

// renderSubscribe shows the form: every box ticked (the seed's default),
// none with ?select=none, or the boxes of a refused submission.
func (s *Pages) renderSubscribe(w http.ResponseWriter, r *http.Request, code int, msg, email string, chosen []string) {
	v := s.subView(w, r, "subscribe.title")
	cfg := s.subs.Config()
	none := r.URL.Query().Get("select") == "none"
	v.Tree, v.AllChecked = tree(cfg, func(id string) bool {
		if chosen != nil {
			return slices.Contains(chosen, id)
		}
		return !none
	})
	v.SelectNone, v.SelectAll = withQuery(r, "select", "none"), withQuery(r, "select", "all")
	v.Challenge, v.Bits = s.subs.Challenge()
	v.Error, v.Email, v.Script = msg, email, true
	v.NoJSWait = int(cfg.Notify.Subscribe.NoJSWait.D().Seconds())
	s.subRender(w, "subscribe", code, v)
}

func (s *Pages) subscribePost(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	f := r.PostForm
	chosen := f["c"]
	err := s.subs.Subscribe(r.Context(), notify.SubscribeRequest{
		Email: f.Get("email"), Components: chosen, Challenge: f.Get("challenge"), Solution: f.Get("solution"),
		Client: httpserver.ClientIP(r, s.subs.Config().Notify.Subscribe.Proxies), Language: s.pageLang(r),
	})
	v := s.subView(w, r, "subscribe.title")
	switch {
	case err == nil:
		v.Title = v.T("sent.title")
		s.subRender(w, "sent", http.StatusOK, v)
	case errors.Is(err, notify.ErrRateLimited):
		w.Header().Set("Retry-After", "600")
		s.renderSubscribe(w, r, http.StatusTooManyRequests, v.T("err.ratelimited"), f.Get("email"), nonNil(chosen))
	case errors.Is(err, notify.ErrChallengeTooEarly):
		s.renderSubscribe(w, r, http.StatusBadRequest, v.T("err.tooearly"), f.Get("email"), nonNil(chosen))
	case errors.Is(err, notify.ErrChallengeInvalid), errors.Is(err, notify.ErrChallengeExpired), errors.Is(err, notify.ErrChallengeReused), errors.Is(err, notify.ErrChallengeUnsolved):
		s.renderSubscribe(w, r, http.StatusBadRequest, v.T("err.challenge"), f.Get("email"), nonNil(chosen))
	case errors.Is(err, notify.ErrBadAddress):
		s.renderSubscribe(w, r, http.StatusBadRequest, v.T("err.address"), f.Get("email"), nonNil(chosen))
	case errors.Is(err, notify.ErrNoComponents), errors.Is(err, notify.ErrUnknownComp):
		s.renderSubscribe(w, r, http.StatusBadRequest, v.T("err.components"), f.Get("email"), nonNil(chosen))
	default:
		s.logger.Error("subscribe failed", "err", err)
		s.renderSubscribe(w, r, http.StatusInternalServerError, v.T("err.internal"), f.Get("email"), nonNil(chosen))
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Pages) names(ids []string) []string {
	cfg := s.subs.Config()
	var out []string
	for _, id := range ids {
		if c := cfg.Component(id); c != nil {
			out = append(out, c.Name)
		} else {
			out = append(out, id)
		}
	}
	return out
}

func linkToken(r *http.Request) string {
	if t := r.URL.Query().Get("t"); t != "" {
		return t
	}
	return r.PostFormValue("t")
}

// confirmForm shows what a confirmation link would confirm, and a button:
// opening the link (as mail scanners do) changes nothing.
func (s *Pages) confirmForm(w http.ResponseWriter, r *http.Request) {
	v := s.subView(w, r, "confirm.title")
	tok := r.URL.Query().Get("t")
	sub, err := s.subs.Resolve(r.Context(), notify.PurposeConfirm, tok)
	switch {
	case err != nil:
		v.Error = v.T("err.link")
		s.subRender(w, "confirm", http.StatusBadRequest, v)
		return
	case sub.PendingComponents == nil:
		v.Title, v.Message = v.T("done.confirmed"), v.T("done.already")
		v.ManageURL = v.inLang(notify.ManageURL(s.subs.Config(), s.subs.Links(), sub))
		s.subRender(w, "done", http.StatusOK, v)
		return
	}
	v.Email, v.Token, v.Names = sub.Address, tok, s.names(sub.PendingComponents)
	s.subRender(w, "confirm", http.StatusOK, v)
}

func (s *Pages) confirmPost(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	v := s.subView(w, r, "done.confirmed")
	sub, err := s.subs.Confirm(r.Context(), linkToken(r), s.pageLang(r))
	switch {
	case errors.Is(err, notify.ErrAlreadyDone):
		v.Message = v.T("done.already")
	case err != nil:
		v.Title, v.Error = v.T("confirm.title"), v.T("err.link")
		s.subRender(w, "done", http.StatusBadRequest, v)
		return
	case sub.State == store.SubscriberUnsubscribed:
		v.Message = v.T("done.unsubscribed")
	default:
		v.Message, v.Names = v.T("done.subscribed"), s.names(sub.Components)
	}
	v.ManageURL = v.inLang(notify.ManageURL(s.subs.Config(), s.subs.Links(), sub))
	s.subRender(w, "done", http.StatusOK, v)
}

func (s *Pages) manageForm(w http.ResponseWriter, r *http.Request) {
	v := s.subView(w, r, "manage.title")
	tok := r.URL.Query().Get("t")
	sub, err := s.subs.Resolve(r.Context(), notify.PurposeManage, tok)
	if err != nil {
		v.Error = v.T("err.link")
		s.subRender(w, "manage", http.StatusBadRequest, v)
		return
	}
	s.fillManage(r, v, sub, tok)
	switch sub.State {
	case store.SubscriberUnsubscribed:
		v.Message = v.T("manage.unsubscribed")
	case store.SubscriberQuarantined:
		v.Message = v.T("manage.quarantined")
	}
	s.subRender(w, "manage", http.StatusOK, v)
}

func (s *Pages) fillManage(r *http.Request, v *subView, sub store.Subscriber, tok string) {
	cfg := s.subs.Config()
	none := r.URL.Query().Get("select") == "none"
	all := r.URL.Query().Get("select") == "all"
	v.Tree, v.AllChecked = tree(cfg, func(id string) bool {
		return !none && (all || slices.Contains(sub.Components, id))
	})
	base := &http.Request{URL: &url.URL{Path: "/subscriptions/manage", RawQuery: url.Values{"t": {tok}}.Encode()}}
	if v.carry != "" {
		base.URL.RawQuery += "&lang=" + v.carry
	}
	v.SelectNone, v.SelectAll = withQuery(base, "select", "none"), withQuery(base, "select", "all")
	v.Email, v.Token, v.Script = sub.Address, tok, true
	v.UnsubscribeURL = v.inLang(notify.UnsubscribeURL(cfg, s.subs.Links(), sub))
}

func (s *Pages) managePost(w http.ResponseWriter, r *http.Request) {
	if !s.checkForm(w, r) {
		return
	}
	v := s.subView(w, r, "manage.title")
	tok := linkToken(r)
	sub, err := s.subs.Update(r.Context(), tok, r.PostForm["c"], s.pageLang(r))
	if err != nil {
		if errors.Is(err, notify.ErrBadLink) {
			v.Error = v.T("err.link")
			s.subRender(w, "manage", http.StatusBadRequest, v)
			return
		}
		if !errors.Is(err, notify.ErrUnknownComp) {
			s.logger.Error("update subscription failed", "err", err)
		}
		v.Error = v.T("err.components")
		if sub.ID != 0 {
			s.fillManage(r, v, sub, tok)
		}
		s.subRender(w, "manage", http.StatusBadRequest, v)
		return
	}
	s.fillManage(r, v, sub, tok)
	if sub.State == store.SubscriberUnsubscribed {
		v.Message = v.T("manage.unsubscribed")
	} else {
		v.Message = v.T("manage.saved")
	}
	s.subRender(w, "manage", http.StatusOK, v)
}

// unsubscribeForm shows a confirm button; the GET itself changes nothing.
func (s *Pages) unsubscribeForm(w http.ResponseWriter, r *http.Request) {
	v := s.subView(w, r, "unsubscribe.title")
	tok := r.URL.Query().Get("t")
	sub, err := s.subs.Resolve(r.Context(), notify.PurposeUnsubscribe, tok)
	if err != nil {
		v.Error = v.T("err.link")
		s.subRender(w, "unsubscribe", http.StatusBadRequest, v)
		return
	}
	v.Email, v.Token = sub.Address, tok
	s.subRender(w, "unsubscribe", http.StatusOK, v)
}

// unsubscribePost is both the page's button and RFC 8058's one-click POST
// (body List-Unsubscribe=One-Click, no cookies): the one-click answer is a
// plain 200, never a redirect.
func (s *Pages) unsubscribePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	// RFC 8058 allows the one-click body as multipart/form-data too.
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxFormBytes)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		http.Error(w, "400 bad request: cannot read the form", http.StatusBadRequest)
		return
	}
	oneClick := r.PostFormValue("List-Unsubscribe") == "One-Click"
	if !oneClick {
		c, err := r.Cookie(formCookie)
		if err != nil || !s.subs.CheckFormToken(c.Value, r.PostFormValue("csrf")) {
			http.Error(w, "403 forbidden: the form has expired or did not come from this site; reload the page and send it again", http.StatusForbidden)
			return
		}
	}
	sub, err := s.subs.Unsubscribe(r.Context(), notify.PurposeUnsubscribe, linkToken(r))
	if oneClick {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case errors.Is(err, notify.ErrBadLink):
			http.Error(w, "400 bad request: invalid unsubscribe link", http.StatusBadRequest)
		case err != nil:
			s.logger.Error("one-click unsubscribe failed", "err", err)
			http.Error(w, "500 internal error: try again later", http.StatusInternalServerError)
		default:
			w.Write([]byte("unsubscribed\n"))
		}
		return
	}
	v := s.subView(w, r, "unsubscribe.title")
	if err != nil {
		v.Error = v.T("err.link")
		code := http.StatusBadRequest
		if !errors.Is(err, notify.ErrBadLink) {
			s.logger.Error("unsubscribe failed", "err", err)
			v.Error, code = v.T("err.internal"), http.StatusInternalServerError
		}
		s.subRender(w, "unsubscribe", code, v)
		return
	}
	v.Title, v.Message = v.T("done.unsubscribed.title"), v.T("done.unsubscribed")
	v.ManageURL = v.inLang(notify.ManageURL(s.subs.Config(), s.subs.Links(), sub))
	s.subRender(w, "done", http.StatusOK, v)
}
