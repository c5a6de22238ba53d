package pkisim

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strings"
	"testing"
)

// TestEveryFaultSaysWhatItBreaks: every fault has its one line, and the
// line is its doc comment (without the leading name), so the panel and the
// code never disagree.
func TestEveryFaultSaysWhatItBreaks(t *testing.T) {
	fset := token.NewFileSet()
	docs := map[Fault]string{}
	for _, file := range []string{"faults.go", "acme.go", "tsa.go", "services.go"} {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Fault" || vs.Doc == nil {
					continue
				}
				lit := vs.Values[0].(*ast.BasicLit).Value
				text := strings.Join(strings.Fields(vs.Doc.Text()), " ")
				docs[Fault(strings.Trim(lit, `"`))] = strings.TrimPrefix(text, vs.Names[0].Name+": ")
			}
		}
	}
	all := slices.Concat(KnownFaults(), ACMEFaults(), TSAFaults(), ServiceFaults())
	for _, f := range all {
		if f.Breaks() == "" {
			t.Errorf("%s: no line saying what it breaks", f)
		} else if f.Breaks() != docs[f] {
			t.Errorf("%s: Breaks() = %q, its doc comment says %q", f, f.Breaks(), docs[f])
		}
	}
	if len(breaks) != len(docs) {
		t.Errorf("%d lines for %d documented faults", len(breaks), len(docs))
	}
}
