package store_test

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTransactionFunctionsMayRunTwice checks, in every package under
// internal/, that a function passed to Update, View or Idempotent which
// appends to or counts into a variable from outside sets that variable
// first: stores run these functions more than once (PostgreSQL retries a
// conflict, SQLite runs them speculatively and a view again when what it
// read from memory changed), and a second run must not add to the first.
// (It sees appends and counts; a flag or cursor a function sets on some
// paths only needs the same care, which review has to catch.)
func TestTransactionFunctionsMayRunTwice(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	err := filepath.Walk("..", func(p string, info os.FileInfo, err error) error {
		if err != nil || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			name := ""
			switch fn := call.Fun.(type) {
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			case *ast.IndexListExpr:
				if sel, ok := fn.X.(*ast.SelectorExpr); ok {
					name = sel.Sel.Name
				}
			case *ast.IndexExpr:
				if sel, ok := fn.X.(*ast.SelectorExpr); ok {
					name = sel.Sel.Name
				}
			}
			if name != "Update" && name != "View" && name != "Idempotent" {
				return true
			}
			for _, a := range call.Args {
				if lit, ok := a.(*ast.FuncLit); ok {
					for _, bad := range accumulates(fset, lit) {
						t.Errorf("%s: the function passed to %s adds to %s without setting it first", fset.Position(bad.Pos()), name, expr(fset, bad))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// accumulates returns the outside variables (or their fields) lit appends
// to or increments without assigning them in its leading statements.
func accumulates(fset *token.FileSet, lit *ast.FuncLit) []ast.Expr {
	local := map[string]bool{}
	for _, p := range lit.Type.Params.List {
		for _, nm := range p.Names {
			local[nm.Name] = true
		}
	}
	ast.Inspect(lit.Body, func(m ast.Node) bool {
		switch x := m.(type) {
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE {
				for _, l := range x.Lhs {
					if id, ok := l.(*ast.Ident); ok {
						local[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, nm := range x.Names {
				local[nm.Name] = true
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{x.Key, x.Value} {
				if id, ok := e.(*ast.Ident); ok {
					local[id.Name] = true
				}
			}
		case *ast.FuncLit:
			for _, p := range x.Type.Params.List {
				for _, nm := range p.Names {
					local[nm.Name] = true
				}
			}
		}
		return true
	})
	// What the leading assignments set, before anything else runs.
	set := map[string]bool{}
	for _, st := range lit.Body.List {
		as, ok := st.(*ast.AssignStmt)
		if !ok || as.Tok != token.ASSIGN {
			break
		}
		for _, l := range as.Lhs {
			set[expr(fset, l)] = true
		}
	}
	var bad []ast.Expr
	outer := func(e ast.Expr) bool {
		root := e
		for {
			switch x := root.(type) {
			case *ast.SelectorExpr:
				root = x.X
				continue
			case *ast.IndexExpr:
				root = x.X
				continue
			}
			break
		}
		id, ok := root.(*ast.Ident)
		// Setting the whole variable, or what it points to, sets its fields.
		return ok && !local[id.Name] && !set[expr(fset, e)] && !set[id.Name] && !set["*"+id.Name]
	}
	ast.Inspect(lit.Body, func(m ast.Node) bool {
		switch x := m.(type) {
		case *ast.AssignStmt:
			for i, r := range x.Rhs {
				if c, ok := r.(*ast.CallExpr); ok && i < len(x.Lhs) {
					if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "append" && x.Tok != token.DEFINE && outer(x.Lhs[i]) {
						bad = append(bad, x.Lhs[i])
					}
				}
			}
			if (x.Tok == token.ADD_ASSIGN || x.Tok == token.SUB_ASSIGN) && outer(x.Lhs[0]) {
				bad = append(bad, x.Lhs[0])
			}
		case *ast.IncDecStmt:
			if outer(x.X) {
				bad = append(bad, x.X)
			}
		}
		return true
	})
	return bad
}

func expr(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	_ = printer.Fprint(&b, fset, e)
	return b.String()
}
