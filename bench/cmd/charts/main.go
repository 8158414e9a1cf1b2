// Command charts draws the load harness' results as pictures for the
// README: results/charts/headline.svg (every server's ratio to bare Gin
// per route), size.svg (against session size), conns.svg (against
// connections), sql.svg (the SQL stores, drawn as the headline) and
// scale.svg (against live sessions in the store), and a
// PNG of each unless -formats says otherwise.
//
//	go run ./cmd/charts                              # the newest runs in results/
//	go run ./cmd/charts -headline results/X-headline.json -formats svg
//
// Without a file named, each chart is drawn from the run that
// results/latest-MODE.md shows (the newest complete run of that mode), or
// else the newest results/STAMP-MODE.json; a mode with no results yet is
// skipped with a note. make bench, bench-size, bench-conns and bench-sql
// run it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ginkit/sessions/bench/internal/charts"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("charts", flag.ContinueOnError)
	dir := fs.String("dir", "results", "folder of the harness' results")
	out := fs.String("out", "", "folder for the charts (default DIR/charts)")
	formats := fs.String("formats", "svg,png", "comma-separated: svg, png")
	files := map[string]*string{
		"headline": fs.String("headline", "", "headline results file (default: the newest complete headline run in DIR)"),
		"size":     fs.String("size", "", "size results file (default: the newest complete size run in DIR)"),
		"conns":    fs.String("conns", "", "conns results file (default: the newest complete conns run in DIR)"),
		"sql":      fs.String("sql", "", "sql results file (default: the newest complete sql run in DIR)"),
		"scale":    fs.String("scale", "", "scale results file (default: the newest complete scale run in DIR)"),
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("charts: unexpected arguments %q", fs.Args())
	}
	var exts []string
	for _, f := range strings.Split(*formats, ",") {
		switch f = strings.TrimSpace(f); f {
		case "svg", "png":
			exts = append(exts, f)
		case "":
		default:
			return fmt.Errorf("charts: -formats %q: want svg and/or png", *formats)
		}
	}
	if len(exts) == 0 {
		return errors.New("charts: -formats is empty")
	}
	if *out == "" {
		*out = filepath.Join(*dir, "charts")
	}

	drawn := 0
	for _, mode := range []string{"headline", "size", "conns", "sql", "scale"} {
		path := *files[mode]
		if path == "" {
			p, err := charts.Latest(*dir, mode)
			if errors.Is(err, charts.ErrNoResults) {
				fmt.Fprintf(stdout, "charts: no %s results in %s yet: %s.svg not drawn\n", mode, *dir, mode)
				continue
			}
			if err != nil {
				return err
			}
			path = p
		}
		f, err := charts.Load(path)
		if err != nil {
			return err
		}
		var ch *charts.Chart
		switch mode {
		case "headline":
			ch, err = charts.Headline(f)
		case "size":
			ch, err = charts.Sweep(f, charts.BySize)
		case "conns":
			ch, err = charts.Sweep(f, charts.ByConns)
		case "sql":
			ch, err = charts.SQL(f)
		case "scale":
			ch, err = charts.Sweep(f, charts.ByLive)
		}
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		for _, ext := range exts {
			dst := filepath.Join(*out, mode+"."+ext)
			if err := ch.Save(dst); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "charts: %s from %s\n", dst, path)
		}
		for _, m := range ch.Missing {
			fmt.Fprintf(stdout, "charts: %s: %s was not measured\n", mode, m)
		}
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("charts: no results in %s: run make bench first", *dir)
	}
	return nil
}
