package sessions_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/ginkit/sessions/internal/docmap"
)

// TestDocFileMap keeps the package doc's file map in step with the files:
// every non-test .go file of the package is listed, and nothing else
// (internal/core and internal/suite run the same check on theirs); and
// every file the doc names anywhere (the tests it points to included)
// exists.
func TestDocFileMap(t *testing.T) {
	docmap.Check(t, "doc.go")
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
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
