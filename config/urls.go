package config

import (
	"net/url"
	"strings"
)

// refuseUserinfo reports a probe URL that carries credentials
// (https://user:pass@host/): the URL is written into check messages,
// evidence, logs and metric labels, so the secret would leak. withHeaders
// says whether the section takes secret headers to point the operator at.
func refuseUserinfo(p *problems, key, raw string, withHeaders bool) {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return
	}
	hint := "this kind sends no credentials: remove them"
	if withHeaders {
		hint = "give them as a header (e.g. Authorization) in header_files or header_env, never in headers or the URL"
	}
	p.add(key, "URL %s carries credentials (user:password@): they would leak into evidence, logs and metrics; %s", redactURL(raw), hint)
}

// redactURL is raw with its whole userinfo (user name too: it can be a
// token) replaced by "xxxxx", for error messages that quote a URL. It works
// on the text, so a URL that does not parse is redacted as well.
func redactURL(raw string) string {
	scheme, rest := "", raw
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	auth := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		auth = rest[:i]
	}
	if i := strings.LastIndexByte(auth, '@'); i >= 0 {
		return scheme + "xxxxx" + rest[i:]
	}
	return raw
}
