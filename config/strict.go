package config

import (
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// unknownKeys walks the document beside the Go type it decodes into and
// reports every mapping key no field accepts, with its line. yaml.v3 forgets
// KnownFields inside custom unmarshalers, so strictness is checked here, once,
// for the whole tree.
func unknownKeys(n *yaml.Node, t reflect.Type, path string, p *problems) {
	k := keyChecker{p: p, fields: map[reflect.Type]map[string]reflect.Type{}, aliased: map[aliasUse]bool{}}
	k.walk(n, t, path)
}

// keyChecker holds one walk's caches: each struct's fields, reflected once,
// and the aliased nodes already checked, so that nested aliases (a "billion
// laughs" file) cost their size, not their expansion.
type keyChecker struct {
	p       *problems
	fields  map[reflect.Type]map[string]reflect.Type
	aliased map[aliasUse]bool
}

type aliasUse struct {
	n *yaml.Node
	t reflect.Type
}

func (k *keyChecker) walk(n *yaml.Node, t reflect.Type, path string) {
	p := k.p
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			k.walk(c, t, path)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		use := aliasUse{n.Alias, t}
		if !k.aliased[use] {
			k.aliased[use] = true
			k.walk(n.Alias, t, path)
		}
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(yaml.Node{}) {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			k.walk(c, t.Elem(), path+"["+itoa(i)+"]")
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields, ok := k.fields[t]
		if !ok {
			fields = yamlFields(t)
			k.fields[t] = fields
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, v := n.Content[i], n.Content[i+1]
			if kn.ShortTag() == "!!merge" {
				// A merge key (<<: *defaults or <<: [*a, *b]) brings in the
				// keys of the mappings it names: they must fit here too.
				if v.Kind == yaml.SequenceNode {
					for _, m := range v.Content {
						k.walk(m, t, path)
					}
				} else {
					k.walk(v, t, path)
				}
				continue
			}
			key := join(path, kn.Value)
			ft, ok := fields[kn.Value]
			if !ok {
				p.list = append(p.list, Error{Line: kn.Line, Key: key, Msg: unknownKeyMsg(kn.Value, fields)})
				continue
			}
			k.walk(v, ft, key)
		}
	}
}

// yamlFields maps each yaml key a struct accepts to its field type,
// following `inline` fields.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// unknownKeyMsg explains an unknown key: a secret written inline points to
// its *_file key; a misspelling to the nearest accepted key.
func unknownKeyMsg(key string, fields map[string]reflect.Type) string {
	if _, ok := fields[key+"_file"]; ok {
		return "unknown key: secrets are never written in probes.yaml; put it in a file named by " + key + "_file"
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	return "unknown key" + didYouMean(key, names)
}

// didYouMean names the candidate closest to a misspelt word, or returns "".
// Close means one edit for words of up to four letters, two beyond, counting
// a swap of neighbours as one edit (oscp → ocsp); ties go to the first in
// sorted order.
func didYouMean(word string, candidates []string) string {
	limit := 2
	if len(word) <= 4 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, k := range slices.Sorted(slices.Values(candidates)) {
		if d := editDistance(word, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" || best == word {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of adjacent letters.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// keyAt finds the key path of the mapping key or value on a line, so decode
// errors, which know only a line, can name their key. Several keys can share
// a line ({id: a, latency_objective: fast}); hint, the offending value when
// the message quotes it, picks among them.
func keyAt(root *yaml.Node, line int, hint string) string {
	type cand struct {
		key string
		v   *yaml.Node
	}
	var cands []cand
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				key := path + "[" + itoa(i) + "]"
				walk(c, key)
				if c.Kind == yaml.ScalarNode && c.Line == line {
					cands = append(cands, cand{key, c})
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				key := join(path, k.Value)
				walk(v, key)
				if k.Line == line || (v.Kind == yaml.ScalarNode && v.Line == line) {
					cands = append(cands, cand{key, v})
				}
			}
		}
	}
	walk(root, "")
	if len(cands) == 0 {
		return ""
	}
	// cands holds the deepest keys first.
	for _, c := range cands {
		if hint != "" && c.v.Kind == yaml.ScalarNode && c.v.Value == hint {
			return c.key
		}
	}
	if hint == "" {
		// No value quoted: a list or mapping where a scalar belongs.
		for _, c := range cands {
			if c.v.Kind != yaml.ScalarNode {
				return c.key
			}
		}
	}
	return cands[0].key
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
