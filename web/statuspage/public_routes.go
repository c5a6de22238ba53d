package statuspage

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Routes registers the public routes (SPEC §4) on mux. GET patterns answer
// HEAD too.
func (p *Site) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", p.whenBuilt(p.index))
	for _, route := range apiRoutes {
		mux.HandleFunc("GET "+route.path, p.whenBuilt(p.api(route.path)))
	}
	mux.HandleFunc("GET /api/v2/", p.apiNotFound)
	mux.HandleFunc("OPTIONS /api/v2/", p.apiOptions)
	mux.HandleFunc("GET /incidents/{id}", p.whenBuilt(p.record(false)))
	mux.HandleFunc("GET /maintenance/{id}", p.whenBuilt(p.record(true)))
	mux.HandleFunc("GET /history", p.whenBuilt(p.history))
	mux.HandleFunc("GET /history.atom", p.whenBuilt(p.feed("atom")))
	mux.HandleFunc("GET /history.rss", p.whenBuilt(p.feed("rss")))
	mux.HandleFunc("GET /uptime", p.whenBuilt(p.uptime))
	mux.HandleFunc("GET /badge/{file}", p.whenBuilt(p.badge))
	mux.HandleFunc("GET /static/{file}", p.staticFile)
}

// whenBuilt answers 503 with Retry-After until the first snapshot holding
// the store's data is built: a page without the incidents under way
// would tell a visitor all is well (Built). The daemon builds it before
// it serves, so this is for a first build that failed.
func (p *Site) whenBuilt(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !p.Built() {
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "503 the status page is starting: its first snapshot is not built yet; retry in 5 s", http.StatusServiceUnavailable)
			return
		}
		h(w, r)
	}
}

func (p *Site) api(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		write(w, r, p.cur.Load().fixed[path])
	}
}

func (p *Site) apiNotFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte(`{"error":"not found"}` + "\n"))
}

// apiOptions answers CORS preflights: the API is read-only and public.
func (p *Site) apiOptions(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since")
	h.Set("Access-Control-Max-Age", "86400")
	h.Set("Allow", "GET, HEAD, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
}

func (p *Site) index(w http.ResponseWriter, r *http.Request) {
	cur := p.cur.Load()
	l, _ := p.langs.negotiate(r, cur.snap.Page.Languages)
	if e := cur.fixed["/|"+l.Code]; e != nil {
		write(w, r, e)
		return
	}
	p.page(w, r, cur, l, "/", func(*Snapshot) (*entry, error) { return p.renderIndex(cur.snap, l) })
}

// page serves a lazily rendered HTML page, or the error page its renderer asks for.
func (p *Site) page(w http.ResponseWriter, r *http.Request, cur *rendered, l *Lang, key string, render func(*Snapshot) (*entry, error)) {
	e, err := p.lazy(cur, key+"|"+l.Code, render)
	if err != nil {
		p.fail(w, r, cur, l, err)
		return
	}
	write(w, r, e)
}

func (p *Site) fail(w http.ResponseWriter, r *http.Request, cur *rendered, l *Lang, err error) {
	var bad errBadRequest
	var e *entry
	var rerr error
	switch {
	case errors.As(err, &bad):
		e, rerr = p.renderError(cur.snap, l, http.StatusBadRequest, l.T("error.badrequest"), bad.msg)
	case errors.As(err, new(errNotFound)):
		e, rerr = p.renderError(cur.snap, l, http.StatusNotFound, l.T("notfound.title"), l.T("notfound.body"))
	default:
		p.opts.Logger.Error("public page failed", "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if rerr != nil {
		p.opts.Logger.Error("public error page failed", "path", r.URL.Path, "err", rerr)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	e.cache = "no-store"
	write(w, r, e)
}

func (p *Site) record(maintenance bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur := p.cur.Load()
		l, _ := p.langs.negotiate(r, cur.snap.Page.Languages)
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		inc := cur.snap.ByRecordID[id]
		if err != nil || inc == nil || inc.Maintenance() != maintenance {
			p.fail(w, r, cur, l, errNotFound{})
			return
		}
		p.page(w, r, cur, l, inc.Path(), func(s *Snapshot) (*entry, error) { return p.renderIncident(s, l, inc) })
	}
}

func (p *Site) history(w http.ResponseWriter, r *http.Request) {
	cur := p.cur.Load()
	l, _ := p.langs.negotiate(r, cur.snap.Page.Languages)
	q := r.URL.Query()
	key := "/history?page=" + q.Get("page") + "&component=" + q.Get("component")
	p.page(w, r, cur, l, key, func(s *Snapshot) (*entry, error) { return p.renderHistory(s, l, q) })
}

func (p *Site) uptime(w http.ResponseWriter, r *http.Request) {
	cur := p.cur.Load()
	l, _ := p.langs.negotiate(r, cur.snap.Page.Languages)
	q := r.URL.Query()
	p.page(w, r, cur, l, "/uptime?days="+q.Get("days"), func(s *Snapshot) (*entry, error) { return p.renderUptime(s, l, q) })
}

func (p *Site) feed(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur := p.cur.Load()
		l, _ := p.langs.negotiate(r, cur.snap.Page.Languages)
		e, err := p.lazy(cur, "/history."+kind+"|"+l.Code, func(s *Snapshot) (*entry, error) {
			if kind == "atom" {
				return renderAtom(s, l)
			}
			return renderRSS(s, l)
		})
		if err != nil {
			p.opts.Logger.Error("feed failed", "kind", kind, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", "*")
		write(w, r, e)
	}
}

func (p *Site) badge(w http.ResponseWriter, r *http.Request) {
	cur := p.cur.Load()
	id, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	l, _ := p.langs.negotiate(r, nil)
	if r.URL.Query().Get("lang") == "" {
		l = p.langs[p.langs.of(cur.snap)[0]] // a badge embedded elsewhere reads the same for everyone: the page's first language
	}
	c := cur.snap.ByID[id]
	if !ok || c == nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("no such component: badges are /badge/<component id>.svg\n"))
		return
	}
	e, err := p.lazy(cur, "/badge/"+id+"|"+l.Code, func(s *Snapshot) (*entry, error) { return renderBadge(c, l), nil })
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	write(w, r, e)
}

func (p *Site) staticFile(w http.ResponseWriter, r *http.Request) {
	e := p.static[r.PathValue("file")]
	if e == nil {
		http.NotFound(w, r)
		return
	}
	write(w, r, e)
}

// Handler serves the public routes on a mux of their own.
func (p *Site) Handler() http.Handler {
	mux := http.NewServeMux()
	p.Routes(mux)
	return mux
}
