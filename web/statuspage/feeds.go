package statuspage

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// feedLimit is how many incidents and maintenances the feeds carry.
const feedLimit = 50

// feedItems are the public records newest first, maintenances included.
func feedItems(s *Snapshot) []*Incident {
	all := slices.Concat(s.Incidents, s.Maintenances)
	slices.SortStableFunc(all, func(a, b *Incident) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	if len(all) > feedLimit {
		all = all[:feedLimit]
	}
	return all
}

// feedHTML is an entry's content as hosted pages write it: every update,
// newest first, "<p><small>Sep 2, 17:23 UTC</small><br><strong>Resolved</strong> - body</p>".
func feedHTML(s *Snapshot, l *Lang, i *Incident) string {
	var b strings.Builder
	for _, u := range i.Updates {
		b.WriteString("<p><small>")
		b.WriteString(html.EscapeString(u.DisplayAt.In(s.Loc).Format(l.short)))
		b.WriteString("</small><br><strong>")
		b.WriteString(html.EscapeString(l.Label(u)))
		b.WriteString("</strong> - ")
		b.WriteString(strings.ReplaceAll(html.EscapeString(l.Body(u)), "\n", "<br>"))
		b.WriteString("</p>")
	}
	return b.String()
}

func feedTitle(s *Snapshot, l *Lang) string { return fmt.Sprintf(l.T("feed.title"), s.Page.Name) }

// homeIn is the front page's URL in language l.
func homeIn(s *Snapshot, l *Lang) string {
	if l.Code == l.all.of(s)[0] {
		return s.Page.URL
	}
	return inLang(s, l, s.Page.URL+"/")
}

// inLang adds ?lang= to a URL of the site for a language other than the
// page's default, as the pages' links do.
func inLang(s *Snapshot, l *Lang, u string) string {
	if l.Code == l.all.of(s)[0] {
		return u
	}
	return u + "?lang=" + l.Code
}

func feedHost(s *Snapshot) string {
	if u, err := url.Parse(s.Page.URL); err == nil && u.Host != "" {
		return u.Hostname()
	}
	return "localhost"
}

func xmlText(b *bytes.Buffer, tag, text string) {
	b.WriteString("<" + tag + ">")
	xml.EscapeText(b, []byte(text))
	b.WriteString("</" + tag + ">")
}

func xmlAttr(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// renderAtom writes /history.atom (RFC 4287) in language l.
func renderAtom(s *Snapshot, l *Lang) (*entry, error) {
	host := feedHost(s)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<feed xml:lang="` + xmlAttr(l.Tag) + `" xmlns="http://www.w3.org/2005/Atom">` + "\n")
	xmlText(&b, "id", inLang(s, l, "tag:"+host+",2005:/history"))
	b.WriteString("\n" + `<link rel="alternate" type="text/html" href="` + xmlAttr(homeIn(s, l)) + `"/>` + "\n")
	b.WriteString(`<link rel="self" type="application/atom+xml" href="` + xmlAttr(inLang(s, l, s.Page.URL+"/history.atom")) + `"/>` + "\n")
	xmlText(&b, "title", feedTitle(s, l))
	b.WriteString("\n")
	xmlText(&b, "updated", s.Page.UpdatedAt.UTC().Format(time.RFC3339))
	b.WriteString("\n<author>")
	xmlText(&b, "name", s.Page.Name)
	b.WriteString("</author>\n")
	for _, i := range feedItems(s) {
		b.WriteString("<entry>\n")
		xmlText(&b, "id", "tag:"+host+",2005:Incident/"+strconv.FormatInt(i.ID, 10))
		b.WriteString("\n")
		xmlText(&b, "published", i.CreatedAt.UTC().Format(time.RFC3339))
		b.WriteString("\n")
		xmlText(&b, "updated", i.UpdatedAt.UTC().Format(time.RFC3339))
		b.WriteString("\n" + `<link rel="alternate" type="text/html" href="` + xmlAttr(inLang(s, l, s.Shortlink(i))) + `"/>` + "\n")
		xmlText(&b, "title", l.Name(i))
		b.WriteString("\n" + `<content type="html">`)
		xml.EscapeText(&b, []byte(feedHTML(s, l, i)))
		b.WriteString("</content>\n</entry>\n")
	}
	b.WriteString("</feed>\n")
	return feedEntry("application/atom+xml; charset=utf-8", b.Bytes(), s), nil
}

// feedEntry is a feed response: it varies with Accept-Language, like the pages.
func feedEntry(ctype string, body []byte, s *Snapshot) *entry {
	e := newEntry(200, ctype, body, s.Page.UpdatedAt)
	e.vary = "Accept-Encoding, Accept-Language"
	return e
}

// renderRSS writes /history.rss (RSS 2.0) in language l.
func renderRSS(s *Snapshot, l *Lang) (*entry, error) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	b.WriteString(`<rss version="2.0">` + "\n<channel>\n")
	xmlText(&b, "title", feedTitle(s, l))
	b.WriteString("\n")
	xmlText(&b, "link", homeIn(s, l))
	b.WriteString("\n")
	xmlText(&b, "description", feedTitle(s, l))
	b.WriteString("\n")
	xmlText(&b, "language", strings.ToLower(l.Tag))
	b.WriteString("\n")
	xmlText(&b, "pubDate", s.Page.UpdatedAt.UTC().Format(time.RFC1123Z))
	b.WriteString("\n")
	xmlText(&b, "lastBuildDate", s.Page.UpdatedAt.UTC().Format(time.RFC1123Z))
	b.WriteString("\n")
	for _, i := range feedItems(s) {
		b.WriteString("<item>\n")
		xmlText(&b, "title", l.Name(i))
		b.WriteString("\n")
		xmlText(&b, "description", feedHTML(s, l, i))
		b.WriteString("\n")
		xmlText(&b, "pubDate", i.CreatedAt.UTC().Format(time.RFC1123Z))
		b.WriteString("\n")
		xmlText(&b, "link", inLang(s, l, s.Shortlink(i)))
		b.WriteString("\n")
		xmlText(&b, "guid", inLang(s, l, s.Shortlink(i)))
		b.WriteString("\n</item>\n")
	}
	b.WriteString("</channel>\n</rss>\n")
	return feedEntry("application/rss+xml; charset=utf-8", b.Bytes(), s), nil
}
