package sqltest

import (
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ginkit/sessions/driver"
)

// contract is every interface a SQL driver implements; DocumentedMethods
// requires each of their methods on the driver's type.
var contract = []reflect.Type{
	reflect.TypeFor[driver.Driver](),
	reflect.TypeFor[driver.Toucher](),
	reflect.TypeFor[driver.Scanner](),
	reflect.TypeFor[driver.UserIndexer](),
}

// DocumentedMethods checks what `go doc` shows of the exported type
// typeName of the package in the current directory (a driver's own test):
// every method of driver.Driver, driver.Toucher, driver.Scanner and
// driver.UserIndexer, and each of extra ("Sweep"), must be declared on
// the type itself, with a doc comment. Methods promoted from an embedded
// type of another package do not count, since go doc does not list them.
func DocumentedMethods(t *testing.T, typeName string, extra ...string) {
	t.Helper()
	pkg := parsePackage(t)
	var typ *doc.Type
	for _, ty := range pkg.Types {
		if ty.Name == typeName {
			typ = ty
		}
	}
	if typ == nil {
		t.Fatalf("package %s has no exported type %s", pkg.Name, typeName)
	}
	documented := map[string]bool{}
	for _, m := range typ.Methods {
		documented[m.Name] = strings.TrimSpace(m.Doc) != ""
	}
	want := append([]string(nil), extra...)
	for _, it := range contract {
		for i := range it.NumMethod() {
			want = append(want, it.Method(i).Name)
		}
	}
	for _, name := range want {
		hasDoc, declared := documented[name]
		switch {
		case !declared:
			t.Errorf("go doc %s.%s does not list method %s: declare it on %[2]s", pkg.Name, typeName, name)
		case !hasDoc:
			t.Errorf("method %s.%s has no doc comment", typeName, name)
		}
	}
}

// parsePackage reads the non-test Go files of the current directory as
// go doc does.
func parsePackage(t *testing.T) *doc.Package {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "example.com/driver")
	if err != nil {
		t.Fatal(err)
	}
	return pkg
}

// DocSchema checks that the schema the package comment in docFile prints
// (its one code block containing "CREATE TABLE") is exactly schema, the
// statements the driver executes to create its tables for the default
// table name, each followed by ";" and a newline. A DBA who copies the
// block runs what the driver would.
func DocSchema(t *testing.T, docFile string, schema ...string) {
	t.Helper()
	src, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), docFile, src, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		t.Fatalf("%s has no package comment", docFile)
	}
	var blocks []string
	for _, b := range new(comment.Parser).Parse(f.Doc.Text()).Content {
		if code, ok := b.(*comment.Code); ok && strings.Contains(code.Text, "CREATE TABLE") {
			blocks = append(blocks, code.Text)
		}
	}
	if len(blocks) != 1 {
		t.Fatalf("%s: %d code blocks with CREATE TABLE in the package comment; want 1", docFile, len(blocks))
	}
	var want strings.Builder
	for _, s := range schema {
		want.WriteString(strings.TrimSuffix(strings.TrimSpace(s), ";") + ";\n")
	}
	if got := blocks[0]; got != want.String() {
		t.Errorf("%s prints a schema other than the one the driver runs:\n%s\nwant (from the code):\n%s\nfirst difference at line %d",
			docFile, got, want.String(), firstDiffLine(got, want.String()))
	}
}

// firstDiffLine returns the 1-based number of the first line where a and
// b differ.
func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
