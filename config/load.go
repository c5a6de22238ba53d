package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads and validates a config file. kinds is the list of probe kinds
// the binary knows (probes.Kinds()); config does not import probes, so the
// caller passes them. The error, when not nil, is Errors.
func Load(path string, kinds []string) (*Config, error) {
	data, err := readFile(path, MaxConfigBytes)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("read config: %v", err)}}
	}
	return Parse(data, path, kinds)
}

// Parse validates a config held in memory; file names it in errors and its
// folder anchors relative paths. It reports every problem it finds at once:
// YAML syntax (which stops it), unknown keys, values of the wrong type, and
// what validation of the whole finds, each with its line and key.
func Parse(data []byte, file string, kinds []string) (*Config, error) {
	dir, _ := filepath.Abs(filepath.Dir(file))
	cfg := Default()
	cfg.File, cfg.Dir = file, dir
	var p problems
	var typeErrs []string
	// The document as nodes places errors at their lines; a file without
	// errors never needs it, so it is parsed only then.
	var root yaml.Node
	parsed := false
	tree := func() *yaml.Node {
		if !parsed {
			parsed = true
			_ = yaml.Unmarshal(data, &root)
		}
		return &root
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		te, ok := errors.AsType[*yaml.TypeError](err)
		if !ok {
			if serr := yaml.Unmarshal(data, &root); serr != nil {
				msg := strings.TrimPrefix(serr.Error(), "yaml: ")
				return nil, Errors{{File: file, Line: yamlErrLine(msg), Msg: "YAML syntax: " + stripLine(msg)}}
			}
			msg := strings.TrimPrefix(err.Error(), "yaml: ")
			return nil, finish([]Error{{Line: yamlErrLine(msg), Msg: stripLine(msg)}}, &root, file)
		}
		typeErrs = te.Errors
	}
	var failed []string // key paths validation must leave alone
	for i := range cfg.Probes {
		typeErrs = append(typeErrs, cfg.Probes[i].decodeErrs...)
		if cfg.Probes[i].notMapping {
			failed = append(failed, fmt.Sprintf("probes[%d]", i))
		}
	}
	walkComponents(cfg.Components, "components", func(c *Component, key string) {
		typeErrs = append(typeErrs, c.decodeErrs...)
		if c.notMapping {
			failed = append(failed, key)
		}
	})
	// Validation still runs after decode errors so that one pass reports
	// everything; it skips keys whose value could not be decoded, whose
	// "problems" would only echo the decode error.
	seen := map[*yaml.Node]bool{}
	for _, msg := range typeErrs {
		if e, ok := unknownKey(tree(), msg, seen); ok {
			p.list = append(p.list, e)
			continue
		}
		line := yamlErrLine(msg)
		key, v := keyAt(tree(), line, quotedValue(msg))
		msg = stripLine(msg)
		if m := dupKeyRE.FindStringSubmatch(msg); m != nil {
			// yaml leaves a mapping with a repeated key wholly undecoded.
			msg = fmt.Sprintf("key %s given twice (first at line %s): the whole mapping is ignored", m[1], m[2])
			key = parentKey(key)
		}
		p.list = append(p.list, Error{Line: line, Key: key, Msg: friendly(msg, v)})
		failed = append(failed, key)
	}
	nBefore := len(p.list)
	cfg.validate(&p, kinds)
	p.list = slices.Concat(p.list[:nBefore], slices.DeleteFunc(p.list[nBefore:], func(e Error) bool {
		return slices.ContainsFunc(failed, func(f string) bool {
			return f == "" || e.Key == f || strings.HasPrefix(e.Key, f+".") || strings.HasPrefix(e.Key, f+"[")
		})
	}))
	if len(p.list) > 0 {
		return nil, finish(p.list, tree(), file)
	}
	cfg.probeIndex = make(map[string]int, len(cfg.Probes))
	for i := range cfg.Probes {
		cfg.probeIndex[cfg.Probes[i].Name] = i
	}
	return &cfg, nil
}

// finish fills in files and lines, drops repeats and sorts the errors by
// line (then key), so the report reads top to bottom.
func finish(list []Error, root *yaml.Node, file string) Errors {
	out := make(Errors, 0, len(list))
	seen := map[Error]bool{}
	for _, e := range list {
		e.File = file
		if e.Line == 0 && e.Key != "" {
			e.Line = lineOf(root, e.Key)
		}
		if seen[e] {
			continue
		}
		seen[e] = true
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Key, b.Key))
	})
	return out
}

var yamlLineRE = regexp.MustCompile(`^line (\d+)`)

func yamlErrLine(msg string) int {
	m := yamlLineRE.FindStringSubmatch(strings.TrimSpace(msg))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// stripLine drops the "line N: " yaml puts before its messages; the line
// goes into Error.Line instead.
func stripLine(msg string) string {
	msg = strings.TrimSpace(msg)
	if i := strings.Index(msg, ": "); i >= 0 && yamlLineRE.MatchString(msg) {
		return msg[i+2:]
	}
	return msg
}

var quotedRE = regexp.MustCompile("`([^`]*)`|\"((?:[^\"\\\\]|\\\\.)*)\"")

// quotedValue returns the first value a yaml or duration message quotes.
func quotedValue(msg string) string {
	m := quotedRE.FindStringSubmatch(msg)
	switch {
	case m == nil:
		return ""
	case m[1] != "":
		return m[1]
	}
	v, err := strconv.Unquote(`"` + m[2] + `"`)
	if err != nil {
		return m[2]
	}
	return v
}

var dupKeyRE = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)

// parentKey drops the last element of a key path: probes[2].http.url →
// probes[2].http, probes[2] → probes.
func parentKey(key string) string {
	i := max(strings.LastIndexByte(key, '.'), strings.LastIndexByte(key, '['))
	if i <= 0 {
		return ""
	}
	return key[:i]
}

// walkComponents calls f on every component of the tree with its key path,
// parents first.
func walkComponents(list []Component, path string, f func(c *Component, key string)) {
	for i := range list {
		key := fmt.Sprintf("%s[%d]", path, i)
		f(&list[i], key)
		walkComponents(list[i].Components, key+".components", f)
	}
}

// intRange gives the bounds of the Go integer type a yaml message names
// ("int", "int64", "uint16").
func intRange(typ string) (lo, hi string, ok bool) {
	bits := func(s string) int {
		if s == "" {
			return strconv.IntSize
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	if s, isUint := strings.CutPrefix(typ, "uint"); isUint {
		if n := bits(s); n > 0 {
			return "0", strconv.FormatUint(1<<n-1, 10), true
		}
		return "", "", false
	}
	if s, isInt := strings.CutPrefix(typ, "int"); isInt {
		if n := bits(s); n > 0 {
			return strconv.FormatInt(-1<<(n-1), 10), strconv.FormatInt(1<<(n-1)-1, 10), true
		}
	}
	return "", "", false
}

var wholeRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

// tooLarge reports whether a value yaml could not store in an integer is a
// number too large for it: a whole number (read as !!int, or as !!float when
// it does not fit 64 bits), or one that does not fit a float64 at all (1e400,
// which yaml then reads as text).
func tooLarge(tag, value string) bool {
	switch tag {
	case "int":
		return true
	case "float":
		return wholeRE.MatchString(value)
	case "str":
		_, err := strconv.ParseFloat(strings.ReplaceAll(value, "_", ""), 64)
		return errors.Is(err, strconv.ErrRange)
	}
	return false
}

var unmarshalRE = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.+)$")

// friendly rewrites yaml's "cannot unmarshal !!str `x` into int" into what
// an operator can act on. v, when known, is the value's node: its text in
// full (yaml shortens it) and, for a whole number too large, the range.
func friendly(msg string, v *yaml.Node) string {
	m := unmarshalRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	if v != nil && v.Kind == yaml.ScalarNode && m[2] != "" {
		m[2] = v.Value
	}
	if lo, hi, ok := intRange(m[3]); ok && tooLarge(m[1], m[2]) {
		return fmt.Sprintf("%s is out of range: want a whole number from %s to %s", m[2], lo, hi)
	}
	if strings.HasPrefix(m[3], "float") && m[1] == "str" && tooLarge(m[1], m[2]) {
		return fmt.Sprintf("%s is out of range: want a number of at most about 1.8e308", m[2])
	}
	got := map[string]string{"str": "text", "int": "a number", "float": "a number", "bool": "true/false",
		"seq": "a list", "map": "a mapping", "null": "nothing", "timestamp": "a date"}[m[1]]
	if got == "" {
		got = m[1]
	}
	if m[2] != "" {
		got += " " + strconv.Quote(m[2])
	}
	want := m[3]
	switch {
	case strings.HasPrefix(want, "[]"):
		want = "a list"
	case strings.HasPrefix(want, "map["):
		want = "a mapping"
	case strings.HasPrefix(want, "int"), strings.HasPrefix(want, "uint"):
		want = "a whole number"
	case strings.HasPrefix(want, "float"):
		want = "a number"
	case want == "bool":
		want = "true or false"
	case want == "string":
		want = "text"
	case strings.HasPrefix(want, "config."), strings.HasPrefix(want, "*config."):
		want = "a mapping"
	}
	return fmt.Sprintf("want %s, got %s", want, got)
}
