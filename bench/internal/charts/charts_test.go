package charts

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	headlineServers = []string{"floor", "ginkit/memory", "ginkit/redis", "gincontrib/redis", "scs/memstore"}
	headlineRoutes  = []string{"none", "read", "write"}
)

// fixture is a results file as cmd/loadtest writes it: for every run,
// size, connection count, server and route, a bare Gin result paired with
// the server's, the ratio varying a little from run to run.
func fixture(mode string, servers, routes []string, sizes, conns []int, runs int) *File {
	f := &File{Mode: mode, Started: "2026-11-23T03:30:08Z", Host: "2 cores, test CPU", Duration: "8s", Runs: runs}
	for run := 1; run <= runs; run++ {
		for _, size := range sizes {
			for _, c := range conns {
				for si, s := range servers {
					for ri, r := range routes {
						ratio := 0.9 - 0.15*float64(si) - 0.1*float64(ri) + 0.01*float64(run)
						bare := 30000.0 + 10*float64(run)
						f.Results = append(f.Results,
							Result{Run: run, Server: "bare", PairedWith: s, Route: r, Size: size, Conns: c, RPS: bare, BareRPS: bare, Ratio: 1, CPURatio: 1},
							Result{Run: run, Server: s, Route: r, Size: size, Conns: c, RPS: bare * ratio, BareRPS: bare, Ratio: ratio, CPURatio: ratio})
					}
				}
			}
		}
	}
	return f
}

// without drops the results of server on route.
func (f *File) without(server, route string) *File {
	g := *f
	g.Results = nil
	for _, r := range f.Results {
		if (r.Server == server || r.PairedWith == server) && r.Route == route {
			continue
		}
		g.Results = append(g.Results, r)
	}
	return &g
}

// save writes f as JSON into dir and loads it back, as the command does.
func save(t *testing.T, f *File, dir, name string) *File {
	t.Helper()
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return g
}

// svgDoc is a drawn SVG: its text elements' content and the fill colours
// of its shapes, read with an XML parser (so it also proves the file is
// well-formed XML with an <svg> root).
type svgDoc struct {
	texts []string
	fills map[string]int
}

func parseSVG(t *testing.T, path string) svgDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := svgDoc{fills: map[string]int{}}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []string
	root := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			stack = append(stack, tok.Name.Local)
			for _, a := range tok.Attr {
				if a.Name.Local == "style" && tok.Name.Local == "path" {
					if fill, ok := strings.CutPrefix(a.Value, "fill:"); ok && !strings.HasPrefix(fill, "none") {
						doc.fills[strings.ToUpper(strings.SplitN(fill, ";", 2)[0])]++
					}
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "text" {
				doc.texts = append(doc.texts, strings.TrimSpace(string(tok)))
			}
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
	return doc
}

func (d svgDoc) hasText(s string) bool {
	for _, t := range d.texts {
		if t == s {
			return true
		}
	}
	return false
}

func hex(c interface{ RGBA() (r, g, b, a uint32) }) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

// barFills counts the shapes filled with a bar colour, less the legend's
// one swatch per family and route.
func (d svgDoc) bars(routes int, families ...string) int {
	n := 0
	for _, fam := range families {
		for r := range routes {
			n += d.fills[hex(shade(fam, r))] - 1
		}
	}
	return n
}

func TestHeadlineSVG(t *testing.T) {
	dir := t.TempDir()
	f := save(t, fixture("headline", headlineServers, headlineRoutes, []int{250}, []int{64}, 2), dir, "20261123-033008-headline.json")
	ch, err := Headline(f)
	if err != nil {
		t.Fatal(err)
	}
	want := len(headlineServers) * len(headlineRoutes)
	if ch.Bars != want {
		t.Errorf("Bars = %d, want %d servers × %d routes = %d", ch.Bars, len(headlineServers), len(headlineRoutes), want)
	}
	out := filepath.Join(dir, "headline.svg")
	if err := ch.Save(out); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, out)
	for _, s := range headlineServers {
		if !doc.hasText(s) {
			t.Errorf("no text %q in the SVG; texts: %q", s, doc.texts)
		}
	}
	for _, r := range headlineRoutes {
		if !doc.hasText("/" + r) {
			t.Errorf("no route label %q in the SVG", "/"+r)
		}
	}
	for _, s := range []string{ch.Title, "bare Gin (1.0)", "ginkit", "peers", "floor", "1.0", "range over the runs"} {
		if !doc.hasText(s) {
			t.Errorf("no text %q in the SVG", s)
		}
	}
	if got := doc.bars(len(headlineRoutes), "ginkit", "peer", "floor"); got != want {
		t.Errorf("the SVG has %d bars, want %d", got, want)
	}
	// This project's bars are blue, the peers' orange: two ginkit servers,
	// two peers, one floor, each a bar per route.
	if n := doc.fills[hex(shade("ginkit", 1))] - 1; n != 2 {
		t.Errorf("%d bars in ginkit's /read colour, want 2", n)
	}
	if n := doc.fills[hex(shade("peer", 1))] - 1; n != 2 {
		t.Errorf("%d bars in the peers' /read colour, want 2", n)
	}
	// Each value is written at its bar: scs/memstore /write's median of
	// the runs is 0.9 - 0.6 - 0.2 + (0.01+0.02)/2 = 0.115.
	if !doc.hasText("0.11") && !doc.hasText("0.12") {
		t.Errorf("scs/memstore /write's ratio is not written; texts: %q", doc.texts)
	}
	b, _ := os.ReadFile(out)
	if !bytes.Contains(b, []byte("sans-serif")) {
		t.Error("the SVG names no fallback font")
	}
}

func TestHeadlineServerMissingARoute(t *testing.T) {
	dir := t.TempDir()
	f := fixture("headline", headlineServers, headlineRoutes, []int{250}, []int{64}, 1).
		without("gincontrib/redis", "write").without("floor", "read").without("floor", "write")
	f = save(t, f, dir, "20261123-033008-headline.json")
	ch, err := Headline(f)
	if err != nil {
		t.Fatal(err)
	}
	want := len(headlineServers)*len(headlineRoutes) - 3
	if ch.Bars != want {
		t.Errorf("Bars = %d, want %d", ch.Bars, want)
	}
	if got := strings.Join(ch.Missing, ", "); got != "floor /read, floor /write, gincontrib/redis /write" {
		t.Errorf("Missing = %q", got)
	}
	out := filepath.Join(dir, "headline.svg")
	if err := ch.Save(out); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, out)
	if got := doc.bars(len(headlineRoutes), "ginkit", "peer"); got != want-1 {
		t.Errorf("the SVG has %d ginkit and peer bars, want %d", got, want-1)
	}
	if n := doc.fills[hex(shade("floor", 0))] - 1; n != 1 {
		t.Errorf("floor has %d bars, want 1", n)
	}
	n := 0
	for _, s := range doc.texts {
		if s == "not measured" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d \"not measured\" notes, want 3", n)
	}
	for _, s := range headlineServers {
		if !doc.hasText(s) {
			t.Errorf("server %q lost its label", s)
		}
	}
}

// A run of one route (loadtest -routes read) draws one bar per server.
func TestHeadlineOneRoute(t *testing.T) {
	f := fixture("headline", headlineServers[1:3], []string{"read"}, []int{250}, []int{64}, 1)
	ch, err := Headline(f)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Bars != 2 || len(ch.Missing) != 0 {
		t.Errorf("Bars = %d, Missing = %q; want 2 bars, nothing missing", ch.Bars, ch.Missing)
	}
	if err := ch.Write(io.Discard, "svg"); err != nil {
		t.Fatal(err)
	}
}

func TestSweepSVG(t *testing.T) {
	servers := []string{"ginkit/memory", "ginkit/file", "ginkit/redis"}
	routes := []string{"read", "write"}
	for _, tc := range []struct {
		by           Axis
		sizes, conns []int
		ticks        []string
		held         string
	}{
		{BySize, []int{250, 4096, 65536}, []int{64}, []string{"250 B", "4 KB", "64 KB"}, "64 connections"},
		{ByConns, []int{250}, []int{16, 64, 256}, []string{"16", "64", "256"}, "250 B session"},
	} {
		t.Run(string(tc.by), func(t *testing.T) {
			dir := t.TempDir()
			f := save(t, fixture(string(tc.by), servers, routes, tc.sizes, tc.conns, 1).without("ginkit/file", "write"), dir, "20261123-001026-"+string(tc.by)+".json")
			ch, err := Sweep(f, tc.by)
			if err != nil {
				t.Fatal(err)
			}
			if want := len(servers)*len(routes) - 1; ch.Lines != want {
				t.Errorf("Lines = %d, want %d", ch.Lines, want)
			}
			if len(ch.Missing) != 1 || ch.Missing[0] != "ginkit/file /write" {
				t.Errorf("Missing = %q", ch.Missing)
			}
			if !strings.Contains(ch.Subtitle, tc.held) {
				t.Errorf("subtitle %q does not say %q", ch.Subtitle, tc.held)
			}
			out := filepath.Join(dir, string(tc.by)+".svg")
			if err := ch.Save(out); err != nil {
				t.Fatal(err)
			}
			doc := parseSVG(t, out)
			for _, s := range append(append(append([]string{}, servers...), tc.ticks...), "/read", "/write", "bare Gin (1.0)", ch.Title) {
				if !doc.hasText(s) {
					t.Errorf("no text %q in the SVG; texts: %q", s, doc.texts)
				}
			}
		})
	}
}

// The scale chart puts the live sessions on x, one line per backend and
// route, from the Live field of a -mode scale results file.
func TestScaleSVG(t *testing.T) {
	servers := []string{"ginkit/memory", "ginkit/file", "ginkit/postgres"}
	var f File
	f.Mode, f.Started, f.Runs = "scale", "2026-12-07T04:49:33Z", 1
	for _, live := range []int{10000, 100000, 1000000} {
		for si, s := range servers {
			for _, r := range []string{"read", "write"} {
				ratio := 0.9 - 0.2*float64(si) - float64(live)/1e7
				f.Results = append(f.Results,
					Result{Run: 1, Server: "bare", PairedWith: s, Route: r, Conns: 64, Live: live, RPS: 1000, BareRPS: 1000, Ratio: 1},
					Result{Run: 1, Server: s, Route: r, Conns: 64, Live: live, RPS: 1000 * ratio, BareRPS: 1000, Ratio: ratio})
			}
		}
	}
	dir := t.TempDir()
	loaded := save(t, &f, dir, "20261207-044933-scale.json")
	// Three live counts per backend and route: three points, not one
	// point merged over the counts.
	if ps := loaded.Points(); len(ps) != 3*len(servers)*2 {
		t.Fatalf("Points = %d, want %d (one per backend, route and live count)", len(ps), 3*len(servers)*2)
	}
	ch, err := Sweep(loaded, ByLive)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Lines != len(servers)*2 {
		t.Errorf("Lines = %d, want %d", ch.Lines, len(servers)*2)
	}
	out := filepath.Join(dir, "scale.svg")
	if err := ch.Save(out); err != nil {
		t.Fatal(err)
	}
	doc := parseSVG(t, out)
	for _, s := range append(append([]string{}, servers...), "10k", "100k", "1M", "/read", "/write", ch.Title) {
		if !doc.hasText(s) {
			t.Errorf("no text %q in the SVG; texts: %q", s, doc.texts)
		}
	}
}

// One size only still draws (a point per server, no line to join).
func TestSweepOneValue(t *testing.T) {
	ch, err := Sweep(fixture("size", []string{"ginkit/memory"}, []string{"read"}, []int{4096}, []int{64}, 1), BySize)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Write(io.Discard, "svg"); err != nil {
		t.Fatal(err)
	}
	if _, err := Sweep(fixture("size", []string{"ginkit/memory"}, []string{"read"}, []int{4096}, []int{64}, 1), "latency"); err == nil {
		t.Error("Sweep by latency: no error")
	}
}

// The PNG is drawn with gonum's embedded fonts: its title band has ink.
func TestPNGRendersText(t *testing.T) {
	ch, err := Headline(fixture("headline", headlineServers, headlineRoutes, []int{250}, []int{64}, 1))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ch.Write(&buf, "png"); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	b := img.Bounds()
	w, h := ch.Size()
	if b.Dx() != int(w.Dots(144)+0.5) || b.Dy() != int(h.Dots(144)+0.5) {
		t.Errorf("PNG is %v, want %v×%v pt at 144 dpi", b, w, h)
	}
	dark := 0
	for y := b.Min.Y; y < b.Min.Y+50; y++ { // the title
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x8000 {
				dark++
			}
		}
	}
	if dark < 500 {
		t.Errorf("the title band has %d dark pixels: no text drawn?", dark)
	}
	if err := ch.Write(io.Discard, "gif"); err == nil {
		t.Error("Write gif: no error")
	}
	if err := ch.Save(filepath.Join(t.TempDir(), "x.jpeg")); err == nil {
		t.Error("Save x.jpeg: no error")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	onlyBare, _ := json.Marshal(File{Mode: "headline", Results: []Result{{Server: "bare", Route: "read", Ratio: 1}}})
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "no such file"},
		{"empty", write("empty.json", ""), "empty file"},
		{"truncated", write("trunc.json", `{"mode": "headline", "results": [{"server": "ginkit/memory"`), "not valid JSON"},
		{"not json", write("text.json", "| server | route |\n"), "not valid JSON"},
		{"wrong shape", write("shape.json", `{"results": "many"}`), "not a loadtest results file"},
		{"wrong type", write("type.json", `{"results": [{"server": "x", "route": "read", "ratio": "high"}]}`), "not a loadtest results file"},
		{"no results", write("none.json", `{"mode": "headline"}`), `no "results"`},
		{"another JSON", write("pkg.json", `{"name": "x", "version": "1.0.0"}`), `no "results"`},
		{"no server", write("srv.json", `{"results": [{"route": "read", "ratio": 1}]}`), "no server or route"},
		{"negative", write("neg.json", `{"results": [{"server": "x", "route": "read", "ratio": -1}]}`), "ratio -1"},
		{"only bare", write("bare.json", string(onlyBare)), "no server other than bare Gin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Load(tc.path)
			if err == nil {
				t.Fatalf("Load: no error, got %d results", len(f.Results))
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
				t.Errorf("error %q: want it to name %s and say %q", err, filepath.Base(tc.path), tc.want)
			}
		})
	}
	if _, err := Load(filepath.Join(dir, "nope.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file's error %v does not wrap fs.ErrNotExist", err)
	}
}

func TestPointsMedian(t *testing.T) {
	f := &File{Results: []Result{
		{Run: 1, Server: "bare", Route: "read", Ratio: 1},
		{Run: 1, Server: "ginkit/memory", Route: "read", Ratio: 0.5},
		{Run: 2, Server: "ginkit/memory", Route: "read", Ratio: 0.7},
		{Run: 3, Server: "ginkit/memory", Route: "read", Ratio: 0.6},
		{Run: 1, Server: "ginkit/file", Route: "read", Ratio: 0.2},
		{Run: 2, Server: "ginkit/file", Route: "read", Ratio: 0.4},
	}}
	ps := f.Points()
	if len(ps) != 2 {
		t.Fatalf("Points = %+v, want ginkit/memory and ginkit/file (bare left out)", ps)
	}
	if p := ps[0]; p.Server != "ginkit/memory" || p.Ratio != 0.6 || p.Min != 0.5 || p.Max != 0.7 || p.N != 3 {
		t.Errorf("ginkit/memory: %+v", p)
	}
	if p := ps[1]; p.Server != "ginkit/file" || p.Ratio < 0.2999 || p.Ratio > 0.3001 || p.N != 2 {
		t.Errorf("ginkit/file: %+v", p)
	}
}

func TestLatest(t *testing.T) {
	dir := t.TempDir()
	if _, err := Latest(filepath.Join(dir, "missing"), "size"); err == nil {
		t.Error("Latest in a missing folder: no error")
	}
	if _, err := Latest(dir, "size"); !errors.Is(err, ErrNoResults) {
		t.Errorf("Latest in an empty folder: %v, want ErrNoResults", err)
	}
	touch := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	touch("20261122-220053-size.json", "{}")
	touch("20261122-220053-size.md", "old complete run")
	touch("20261123-001026-size.json", "{}")
	touch("20261123-001026-size.md", "complete run")
	touch("20261123-025729-size.json", "{}") // a newer run of one server
	touch("20261123-025729-size.md", "partial run")
	touch("20261123-030000-size-redis.json", "{}") // renamed by hand: not a size run
	touch("20261123-030000-headline.json", "{}")
	got, _ := Latest(dir, "size")
	if want := filepath.Join(dir, "20261123-025729-size.json"); got != want {
		t.Errorf("without latest-size.md: %s, want the newest, %s", got, want)
	}
	touch("latest-size.md", "complete run")
	got, _ = Latest(dir, "size")
	if want := filepath.Join(dir, "20261123-001026-size.json"); got != want {
		t.Errorf("with latest-size.md: %s, want the run it copies, %s", got, want)
	}
	touch("latest-size.md", "a run whose files were deleted")
	got, _ = Latest(dir, "size")
	if want := filepath.Join(dir, "20261123-025729-size.json"); got != want {
		t.Errorf("latest-size.md matching none: %s, want the newest, %s", got, want)
	}
}

// The committed results draw, each chart with every server and route the
// run measured.
func TestCommittedResults(t *testing.T) {
	dir := filepath.Join("..", "..", "results")
	for _, mode := range []string{"headline", "size", "conns"} {
		path, err := Latest(dir, mode)
		if errors.Is(err, ErrNoResults) || errors.Is(err, fs.ErrNotExist) {
			t.Logf("no committed %s results", mode)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		var ch *Chart
		if mode == "headline" {
			ch, err = Headline(f)
		} else {
			ch, err = Sweep(f, Axis(mode))
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out := filepath.Join(t.TempDir(), mode+".svg")
		if err := ch.Save(out); err != nil {
			t.Fatal(err)
		}
		doc := parseSVG(t, out)
		for _, p := range f.Points() {
			if !doc.hasText(p.Server) || !doc.hasText("/"+p.Route) {
				t.Errorf("%s: %s /%s has no label", mode, p.Server, p.Route)
			}
		}
	}
}
