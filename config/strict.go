package config

import (
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decoding is strict: Parse decodes with KnownFields(true), and every
// unmarshaler is func-style (`type plain T; unmarshal((*plain)(t))`), which
// keeps the decoder and so its strictness all the way down. yaml reports an
// unknown key as "line N: field K not found in type T"; unknownKey turns that
// into the key's path and a message with a suggestion.

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)

// unknownKey recognises yaml's unknown-field message and returns the error
// to report instead.
func unknownKey(root *yaml.Node, msg string, seen map[*yaml.Node]bool) (Error, bool) {
	m := unknownFieldRE.FindStringSubmatch(msg)
	if m == nil {
		return Error{}, false
	}
	line, _ := strconv.Atoi(m[1])
	name := m[2]
	key := keyNamed(root, line, name, seen)
	if key == "" {
		key = name
	}
	return Error{Line: line, Key: key, Msg: unknownKeyMsg(name, fieldsAt(parentKey(key)))}, true
}

// keyNamed finds the path of the mapping key name written on line. A key in
// an anchored mapping merged elsewhere is reported where it is written (once:
// its repeats are the same error). seen keeps two keys of one name on one
// line apart.
func keyNamed(root *yaml.Node, line int, name string, seen map[*yaml.Node]bool) string {
	type match struct {
		k   *yaml.Node
		key string
	}
	var found []match
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				key := join(path, k.Value)
				if k.Line == line && k.Value == name {
					found = append(found, match{k, key})
				}
				walk(n.Content[i+1], key)
			}
		}
	}
	walk(root, "")
	for _, m := range found {
		if !seen[m.k] {
			seen[m.k] = true
			return m.key
		}
	}
	if len(found) > 0 {
		return found[0].key
	}
	return ""
}

// fieldsAt returns the keys the mapping at a key path accepts (nil when the
// path leads to no struct), following the yaml tags from Config down.
func fieldsAt(path string) map[string]reflect.Type {
	t := reflect.TypeFor[Config]()
	for _, part := range splitPath(path) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case part.index >= 0 && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
			t = t.Elem()
		case part.index < 0 && t.Kind() == reflect.Map:
			t = t.Elem()
		case part.index < 0 && t.Kind() == reflect.Struct:
			ft, ok := yamlFields(t)[part.key]
			if !ok {
				return nil
			}
			t = ft
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return yamlFields(t)
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
			maps.Copy(out, yamlFields(ft))
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
// the message quotes it, picks among them. It also returns the value's node,
// whose text yaml's message may have shortened.
func keyAt(root *yaml.Node, line int, hint string) (string, *yaml.Node) {
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
				key := path + "[" + strconv.Itoa(i) + "]"
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
		return "", nil
	}
	// cands holds the deepest keys first.
	for _, c := range cands {
		if hint != "" && c.v.Kind == yaml.ScalarNode && quotes(hint, c.v.Value) {
			return c.key, c.v
		}
	}
	if hint == "" {
		// No value quoted: a list or mapping where a scalar belongs.
		for _, c := range cands {
			if c.v.Kind != yaml.ScalarNode {
				return c.key, c.v
			}
		}
	}
	return cands[0].key, nil
}

// quotes reports whether hint, a value quoted in a yaml message, is value:
// yaml shortens values over 10 characters to their first 7 and "...".
func quotes(hint, value string) bool {
	if hint == value {
		return true
	}
	prefix, ok := strings.CutSuffix(hint, "...")
	return ok && len(prefix) == 7 && len(value) > 10 && strings.HasPrefix(value, prefix)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
