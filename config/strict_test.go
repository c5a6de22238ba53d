package config_test

import (
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/probed/probed/config"
)

// TestUnknownKeysEverywhere: an unknown key is reported at its own path in
// every section, however deep, in one pass.
func TestUnknownKeysEverywhere(t *testing.T) {
	doc := `page: {bogus: 1}
server: {bogus: 1}
storage: {bogus: 1}
components: [{id: api, name: API, bogus: 1}]
probes:
  - {name: h, component: api, kind: http, bogus: 1, http: {url: "http://x/", bogus: 1, json: [{path: a, bogus: 1}]}}
  - {name: o, component: api, kind: ocsp, ocsp: {bogus: 1}}
  - {name: c, component: api, kind: crl, crl: {bogus: 1}}
  - {name: t, component: api, kind: tsa, tsa: {bogus: 1}}
  - {name: a, component: api, kind: acme, acme: {bogus: 1, deep: {bogus: 1}}}
incidents: {bogus: 1}
notify: {bogus: 1, smtp: {bogus: 1}, retry: {bogus: 1}, subscribe: {bogus: 1, per_ip: {bogus: 1}, per_address: {bogus: 1}}}
`
	_, err := config.Parse([]byte(doc), "p.yml", kinds)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"p.yml:1: page.bogus: unknown key",
		"p.yml:2: server.bogus: unknown key",
		"p.yml:3: storage.bogus: unknown key",
		"p.yml:4: components[0].bogus: unknown key",
		"p.yml:6: probes[0].bogus: unknown key",
		"p.yml:6: probes[0].http.bogus: unknown key",
		"p.yml:6: probes[0].http.json[0].bogus: unknown key",
		"p.yml:7: probes[1].ocsp.bogus: unknown key",
		"p.yml:8: probes[2].crl.bogus: unknown key",
		"p.yml:9: probes[3].tsa.bogus: unknown key",
		"p.yml:10: probes[4].acme.bogus: unknown key",
		"p.yml:10: probes[4].acme.deep.bogus: unknown key",
		"p.yml:11: incidents.bogus: unknown key",
		"p.yml:12: notify.bogus: unknown key",
		"p.yml:12: notify.smtp.bogus: unknown key",
		"p.yml:12: notify.retry.bogus: unknown key",
		"p.yml:12: notify.subscribe.bogus: unknown key",
		"p.yml:12: notify.subscribe.per_ip.bogus: unknown key",
		"p.yml:12: notify.subscribe.per_address.bogus: unknown key",
	} {
		if !strings.Contains(err.Error()+"\n", want+"\n") {
			t.Errorf("report lacks %q:\n%v", want, err)
		}
	}
}

// TestUnmarshalersKeepStrictness: strictness (KnownFields) reaches only as
// deep as func-style unmarshalers carry it; a struct under Config with a
// node-style UnmarshalYAML(*yaml.Node) could decode its fields only through
// yaml.Node.Decode, a lax decoder, and unknown keys below it would pass.
func TestUnmarshalersKeepStrictness(t *testing.T) {
	nodeStyle := reflect.TypeFor[yaml.Unmarshaler]()
	seen := map[reflect.Type]bool{}
	var walk func(typ reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Array || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || seen[typ] {
			return
		}
		seen[typ] = true
		if reflect.PointerTo(typ).Implements(nodeStyle) {
			t.Errorf("%s (%s) has UnmarshalYAML(*yaml.Node): use UnmarshalYAML(unmarshal func(any) error) so unknown keys stay errors", path, typ)
		}
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			walk(f.Type, path+"."+name)
		}
	}
	walk(reflect.TypeFor[config.Config](), "config")
	if len(seen) < 15 {
		t.Errorf("walked %d struct types: the walk lost its way", len(seen))
	}
}
