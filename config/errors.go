package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file, at a line and a key.
type Error struct {
	File string
	Line int
	Key  string // dotted path such as probes[2].ocsp.issuer
	Msg  string
}

// Error formats the problem as file:line: key: message.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Errors is every problem found in one file; Load reports them all at once.
type Errors []Error

// Error is every problem, one a line, in line order.
func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

// problems collects errors by key path while validating; the loader resolves
// each path to its line in the document.
type problems struct {
	list []Error
}

// add records a problem at a key path; args format msg.
func (p *problems) add(key, msg string, args ...any) {
	p.list = append(p.list, Error{Key: key, Msg: fmt.Sprintf(msg, args...)})
}

// lineOf finds the line of a dotted key path such as probes[2].ocsp.issuer in
// a decoded document; it returns the line of the deepest node it can reach.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil {
		return 0
	}
	line := n.Line
	for _, part := range splitPath(path) {
		switch {
		case part.index >= 0:
			if n.Kind != yaml.SequenceNode || part.index >= len(n.Content) {
				return line
			}
			n = n.Content[part.index]
			line = n.Line
		default:
			if n.Kind != yaml.MappingNode {
				return line
			}
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part.key {
					line = n.Content[i].Line
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line
			}
		}
	}
	return line
}

type pathPart struct {
	key   string
	index int // -1 for a key
}

func splitPath(path string) []pathPart {
	var out []pathPart
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		for seg != "" {
			i := strings.IndexByte(seg, '[')
			if i < 0 {
				out = append(out, pathPart{key: seg, index: -1})
				break
			}
			if i > 0 {
				out = append(out, pathPart{key: seg[:i], index: -1})
			}
			j := strings.IndexByte(seg, ']')
			if j < i {
				break
			}
			n, err := strconv.Atoi(seg[i+1 : j])
			if err == nil {
				out = append(out, pathPart{index: n})
			}
			seg = seg[j+1:]
		}
	}
	return out
}
