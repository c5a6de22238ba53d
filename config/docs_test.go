package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryKey: every key probes.yaml accepts appears in
// README.md in backticks with its full path (probes[].http.url), most in the
// "## Configuration" section, a later area's keys possibly in its own. The
// PKI kinds' sections are documented with their kinds and are not checked
// here.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	if !strings.Contains(doc, "\n## Configuration\n") {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	elsewhere := map[string]bool{"probes[].ocsp": true, "probes[].crl": true, "probes[].tsa": true, "probes[].acme": true}
	var missing []string
	for _, key := range configKeys(reflect.TypeFor[Config](), "", map[reflect.Type]bool{}) {
		if underAny(key, elsewhere) && !elsewhere[key] {
			continue
		}
		if !strings.Contains(doc, "`"+key+"`") {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		t.Errorf("README.md does not document (add a row to a table of its Configuration section):\n%s", strings.Join(missing, "\n"))
	}
}

func underAny(key string, prefixes map[string]bool) bool {
	for p := range prefixes {
		if strings.HasPrefix(key, p+".") || key == p {
			return true
		}
	}
	return false
}

// configKeys lists the key paths a reader sets: scalars, lists, maps, the
// kinds' sections and lists of mappings (as "x[]" for their elements).
func configKeys(t reflect.Type, path string, seen map[reflect.Type]bool) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(Duration(0)) || seen[t] {
		return nil
	}
	seen = mapsClone(seen)
	seen[t] = true
	var out []string
	for name, ft := range yamlFields(t) {
		key := join(path, name)
		et := ft
		for et.Kind() == reflect.Pointer {
			et = et.Elem()
		}
		switch {
		case et.Kind() == reflect.Slice && deref(et.Elem()).Kind() == reflect.Struct:
			out = append(out, key)
			out = append(out, configKeys(et.Elem(), key+"[]", seen)...)
		case et.Kind() == reflect.Struct && et != reflect.TypeOf(Duration(0)):
			if ft.Kind() == reflect.Pointer {
				out = append(out, key) // an optional section: documented itself
			}
			out = append(out, configKeys(et, key, seen)...)
		default:
			out = append(out, key)
		}
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

func mapsClone(m map[reflect.Type]bool) map[reflect.Type]bool {
	out := make(map[reflect.Type]bool, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
