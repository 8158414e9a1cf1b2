// Package docmap keeps a package comment's file map honest: the test of
// each package that has one (the root's doc.go "# Files" section,
// internal/core's and internal/suite's "Files:" paragraph) calls Check,
// so a file added, renamed or removed without the map following fails a
// test.
//
// Files: docmap.go Check and Listed.
package docmap

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// goFile matches a file name of the package: not a path into another
// folder ("internal/core/tombstone.go" names no file of this package).
var goFile = regexp.MustCompile(`(^|[^\w/.-])([a-z0-9_]+\.go)\b`)

// Listed returns the file names the file map of docFile's package comment
// lists: every "name.go" from the line that opens the map ("# Files" or
// "Files:") to the end of that section (the next "# " heading or the end
// of the comment). It is empty if the comment has no map.
func Listed(doc []byte) []string {
	var names []string
	in := false
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "//") {
			if in || strings.HasPrefix(line, "package ") {
				break
			}
			continue
		}
		text := strings.TrimPrefix(line, "//")
		heading := strings.HasPrefix(text, " # ")
		switch {
		case !in && (strings.TrimSpace(text) == "# Files" || strings.HasPrefix(text, " Files:")):
			in = true
		case in && heading:
			return names
		}
		if in {
			for _, m := range goFile.FindAllStringSubmatch(text, -1) {
				if !slices.Contains(names, m[2]) {
					names = append(names, m[2])
				}
			}
		}
	}
	return names
}

// Check fails t unless the file map in docFile (a file of the package in
// the current directory, where go test runs a package's tests) lists
// every non-test .go file of the package and names no file that does not
// exist (it may point to test files). docFile itself need not be listed.
func Check(t testing.TB, docFile string) {
	t.Helper()
	doc, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	listed := Listed(doc)
	if len(listed) == 0 {
		t.Fatalf("%s has no file map (a \"# Files\" section or a \"Files:\" paragraph)", docFile)
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == docFile {
			continue
		}
		if !slices.Contains(listed, f) {
			missing = append(missing, f)
		}
	}
	var gone []string
	for _, f := range listed {
		if !slices.Contains(files, f) {
			gone = append(gone, f) // a test file the map points to must exist too
		}
	}
	slices.Sort(gone)
	if len(missing) > 0 {
		t.Errorf("%s's file map does not list %v", docFile, missing)
	}
	if len(gone) > 0 {
		t.Errorf("%s's file map lists files that are not files of the package: %v", docFile, gone)
	}
}
