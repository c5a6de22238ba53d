package statuspage

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/probed/probed/words"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/probed/probed/config"
	"github.com/probed/probed/internal/clock"
)

// Source reads what the public page is built from. from is the start of
// the uptime window: the status log and coverage are needed from there on
// (plus the last status change before it); records are needed in full.
type Source interface {
	PublicData(ctx context.Context, from, to time.Time) (Data, error)
}

// Data is the store's part of a snapshot's Input.
type Data struct {
	Records   []Record
	StatusLog []StatusChange
	Coverage  map[string][]Interval
	FirstData time.Time
}

// Options configures the public site. Config is required.
type Options struct {
	Config func() *config.Config
	Source Source // nil: the page shows the configured components with no history
	Clock  clock.Clock
	Logger *slog.Logger
	// Observer hears of every rebuild (the daemon keeps metrics of them); nil: none.
	Observer BuildObserver
	// Refresh is how often the snapshot is rebuilt even when nothing was
	// invalidated, so "Posted 5 minutes ago" and today's bar stay true (default 1m).
	Refresh time.Duration
	// MinInterval spaces rebuilds out when invalidations come in bursts
	// (default 1s): the page never lags a change by more than this.
	MinInterval time.Duration
	// Days of uptime bars (default 90).
	Days int
	// MaxCached bounds the lazily rendered responses kept per snapshot (default 4096).
	MaxCached int
	// Words is the catalogue of every fixed text (nil: the built-in one).
	Words *words.Catalogue
}

// BuildObserver hears of every snapshot rebuild: whether it worked, how
// long reading and rendering took, and the time of the snapshot now served.
type BuildObserver interface {
	Built(ok bool, took time.Duration, at time.Time)
}

// Site serves the status page, the API v2, the feeds and the badges from
// an in-memory snapshot swapped atomically; a request never queries the
// database.
type Site struct {
	opts Options
	cur  atomic.Pointer[rendered]
	kick chan struct{}
	seq  atomic.Uint64
	// built is set by the first Rebuild that worked: until then, with a
	// Source, the page routes answer 503 with Retry-After rather than a
	// page without the incidents or the history.
	built atomic.Bool
	pages *pageTemplates
	langs languages
	// static assets, rendered once at start.
	static map[string]*entry

	buildMu sync.Mutex
}

// rendered is one snapshot and the responses rendered from it.
type rendered struct {
	snap  *Snapshot
	fixed map[string]*entry // rendered when the snapshot is built
	lazy  sync.Map          // key → *lazyEntry, rendered on first request
	lazyN atomic.Int64
}

type lazyEntry struct {
	once sync.Once
	e    *entry
	err  error
}

// entry is one ready response: body, validators and, on first demand, its
// gzip form.
type entry struct {
	status  int
	ctype   string
	body    []byte
	etag    string
	lastMod time.Time
	vary    string
	cache   string

	gzOnce sync.Once
	gz     []byte
	gzTag  string
}

// New builds the site with a snapshot of the configuration alone (no
// I/O); Rebuild or Run load the store's data.
func New(opts Options) (*Site, error) {
	if opts.Config == nil {
		return nil, errors.New("new public site: no config")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Refresh = cmp.Or(opts.Refresh, time.Minute)
	opts.MinInterval = cmp.Or(opts.MinInterval, time.Second)
	opts.Days = cmp.Or(opts.Days, DefaultUptimeDays)
	opts.MaxCached = cmp.Or(opts.MaxCached, 4096)
	pages, err := parsePageTemplates()
	if err != nil {
		return nil, err
	}
	if opts.Words == nil {
		opts.Words = words.Builtin()
	}
	p := &Site{opts: opts, kick: make(chan struct{}, 1), pages: pages, langs: newLanguages(opts.Words)}
	if p.static, err = loadStatic(); err != nil {
		return nil, err
	}
	if err := p.install(Data{}); err != nil {
		return nil, err
	}
	return p, nil
}

// Built tells whether the snapshot served holds the store's data: false
// from New until the first Rebuild that read it (always true without a
// Source: the configuration is all there is).
func (p *Site) Built() bool { return p.opts.Source == nil || p.built.Load() }

// Snapshot returns the snapshot being served.
func (p *Site) Snapshot() *Snapshot { return p.cur.Load().snap }

// Invalidate asks for a rebuild soon (Run does it); calls coalesce. The
// daemon wires it to the incident engine's change hook and to reloads.
func (p *Site) Invalidate() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run rebuilds the snapshot now (unless a Rebuild already built one), then
// whenever invalidated and every Refresh, until ctx ends. A failed rebuild
// keeps the previous snapshot.
func (p *Site) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Refresh)
	defer t.Stop()
	for first := true; ; first = false {
		last := time.Now()
		if first && p.built.Load() {
			// The daemon built the first snapshot before it served;
			// what changed since has invalidated it (p.kick).
		} else if err := p.Rebuild(ctx); err != nil && ctx.Err() == nil {
			p.opts.Logger.Error("public page rebuild failed; serving the previous snapshot", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.kick:
		case <-t.C:
		}
		// A burst of changes costs one rebuild per MinInterval, not one each.
		if wait := p.opts.MinInterval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
		}
	}
}

// Rebuild reads the store and swaps in a new snapshot with its responses.
func (p *Site) Rebuild(ctx context.Context) error {
	p.buildMu.Lock()
	defer p.buildMu.Unlock()
	start := time.Now()
	err := p.rebuild(ctx)
	if err == nil {
		p.built.Store(true)
	}
	if p.opts.Observer != nil {
		p.opts.Observer.Built(err == nil, time.Since(start), p.Snapshot().Now)
	}
	return err
}

func (p *Site) rebuild(ctx context.Context) error {
	var d Data
	if p.opts.Source != nil {
		now := p.opts.Clock.Now()
		from := now.AddDate(0, 0, -p.opts.Days-1)
		var err error
		if d, err = p.opts.Source.PublicData(ctx, from, now); err != nil {
			return fmt.Errorf("rebuild public page: %w", err)
		}
	}
	return p.install(d)
}

// install builds a snapshot from d and the current config and renders the
// responses every visitor asks for first.
func (p *Site) install(d Data) error {
	cfg := p.opts.Config()
	snap := Build(Input{Words: p.opts.Words, Now: p.opts.Clock.Now(), Page: cfg.Page, Components: cfg.Components,
		Records: d.Records, StatusLog: d.StatusLog, Coverage: d.Coverage, FirstData: d.FirstData, Days: p.opts.Days})
	snap.Version = p.seq.Add(1)
	r := &rendered{snap: snap, fixed: map[string]*entry{}}
	for _, route := range apiRoutes {
		body, err := renderJSON(route.body(snap))
		if err != nil {
			return err
		}
		r.fixed[route.path] = newEntry(http.StatusOK, "application/json; charset=utf-8", body, snap.Page.UpdatedAt)
	}
	for _, code := range p.langs.of(snap) {
		e, err := p.renderIndex(snap, p.langs[code])
		if err != nil {
			return err
		}
		r.fixed["/|"+code] = e
	}
	p.cur.Store(r)
	return nil
}

func newEntry(status int, ctype string, body []byte, lastMod time.Time) *entry {
	sum := sha256.Sum256(body)
	return &entry{status: status, ctype: ctype, body: body, lastMod: lastMod,
		etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, cache: "public, max-age=10"}
}

// gzipped compresses the body once, when a client first asks for gzip.
func (e *entry) gzipped() []byte {
	e.gzOnce.Do(func() {
		if len(e.body) < 512 {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(e.body)
		zw.Close()
		if b.Len() < len(e.body) {
			e.gz = b.Bytes()
			// A strong validator per representation (RFC 9110 §8.8.3).
			e.gzTag = strings.TrimSuffix(e.etag, `"`) + `-gz"`
		}
	})
	return e.gz
}

// lazy returns the cached response for key, rendering it on first demand.
// Past MaxCached distinct keys per snapshot it renders without keeping, so
// odd query strings cannot grow memory.
func (p *Site) lazy(r *rendered, key string, render func(*Snapshot) (*entry, error)) (*entry, error) {
	if v, ok := r.lazy.Load(key); ok {
		le := v.(*lazyEntry)
		le.once.Do(func() { le.e, le.err = render(r.snap) })
		return le.e, le.err
	}
	if r.lazyN.Load() >= int64(p.opts.MaxCached) {
		return render(r.snap)
	}
	v, loaded := r.lazy.LoadOrStore(key, &lazyEntry{})
	if !loaded {
		r.lazyN.Add(1)
	}
	le := v.(*lazyEntry)
	le.once.Do(func() { le.e, le.err = render(r.snap) })
	return le.e, le.err
}

// write sends an entry with its validators, answering conditional requests
// with 304 and HEAD without a body.
func write(w http.ResponseWriter, r *http.Request, e *entry) {
	h := w.Header()
	h.Set("Content-Type", e.ctype)
	h.Set("Cache-Control", e.cache)
	h.Set("X-Content-Type-Options", "nosniff")
	if e.vary != "" {
		h.Set("Vary", e.vary)
	} else {
		h.Set("Vary", "Accept-Encoding")
	}
	body, etag := e.body, e.etag
	if acceptsGzip(r) {
		if gz := e.gzipped(); gz != nil {
			body, etag = gz, e.gzTag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	if !e.lastMod.IsZero() {
		h.Set("Last-Modified", e.lastMod.UTC().Format(http.TimeFormat))
	}
	if e.status == http.StatusOK && notModified(r, etag, e.lastMod) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// notModified applies If-None-Match, or If-Modified-Since without it
// (RFC 9110 §13.2.2). Both the plain and gzip tags of a body match.
func notModified(r *http.Request, etag string, lastMod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		base := strings.TrimSuffix(strings.TrimSuffix(etag, `"`), "-gz") + `"`
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == etag || t == base || t == strings.TrimSuffix(base, `"`)+`-gz"` {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !lastMod.IsZero() {
		if t, err := http.ParseTime(ims); err == nil && !lastMod.Truncate(time.Second).After(t) {
			return true
		}
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			p := strings.ReplaceAll(params, " ", "")
			return p != "q=0" && p != "q=0.0" && p != "q=0.00" && p != "q=0.000"
		}
	}
	return false
}
