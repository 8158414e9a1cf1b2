package sessions_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocFileMap keeps the package doc's file map in step with the files:
// every non-test .go file of the package is listed, and nothing else; and
// every file the doc names anywhere (the tests it points to included)
// exists.
func TestDocFileMap(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^//\t(\w+\.go)\b|\((\w+\.go):`).FindAllSubmatch(doc, -1) {
		for _, g := range m[1:] {
			if len(g) > 0 {
				listed[string(g)] = true
			}
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "doc.go" {
			continue
		}
		if !listed[f] {
			missing = append(missing, f)
		}
		delete(listed, f)
	}
	if len(missing) > 0 {
		t.Errorf("doc.go's file map does not list %v", missing)
	}
	var gone []string
	for f := range listed {
		gone = append(gone, f)
	}
	slices.Sort(gone)
	if len(gone) > 0 {
		t.Errorf("doc.go's file map lists files that do not exist: %v", gone)
	}
	for _, m := range regexp.MustCompile(`(?:^|[^/\w])(\w+\.go)\b`).FindAllSubmatch(doc, -1) {
		if _, err := os.Stat(string(m[1])); err != nil {
			t.Errorf("doc.go names %s, which is not a file of the package", m[1])
		}
	}
}

// TestRootDependencies: an application that imports only this package
// compiles neither the gin-contrib adapter's libraries (gorilla,
// gin-contrib/sessions) nor the SQL drivers' nor OpenTelemetry.
func TestRootDependencies(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/gorilla/", "github.com/gin-contrib/sessions", "github.com/jackc/pgx",
			"github.com/go-sql-driver/mysql", "modernc.org/sqlite", "go.opentelemetry.io/", "github.com/ginkit/sessions/contrib",
			"github.com/ginkit/sessions/drivers/postgres", "github.com/ginkit/sessions/drivers/mysql", "github.com/ginkit/sessions/drivers/sqlite"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("the root package depends on %s", dep)
			}
		}
	}
}
