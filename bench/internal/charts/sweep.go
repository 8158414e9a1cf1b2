package charts

import (
	"fmt"
	"image/color"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Axis is what a sweep chart puts on its x axis.
type Axis string

const (
	BySize  Axis = "size"  // session size in bytes, from a -mode size run
	ByConns Axis = "conns" // wrk connections, from a -mode conns run
	ByLive  Axis = "live"  // live sessions in the store, from a -mode scale run
)

// Okabe and Ito's colour-blind-safe palette, less its yellow.
var lineColours = []color.Color{
	rgb(0x00, 0x72, 0xb2), rgb(0xd5, 0x5e, 0x00), rgb(0x00, 0x9e, 0x73),
	rgb(0xcc, 0x79, 0xa7), rgb(0xe6, 0x9f, 0x00), rgb(0x56, 0xb4, 0xe9), rgb(0, 0, 0),
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.PyramidGlyph{},
	draw.RingGlyph{}, draw.BoxGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

// Sweep draws how the ratio to bare Gin changes with session size (BySize)
// or connections (ByConns) or live sessions (ByLive): one panel per route, one line per server, x on
// a log scale with a tick at each measured value. The other dimension is
// held at the file's first value.
func Sweep(f *File, by Axis) (*Chart, error) {
	var xOf func(Point) int
	var fixed func(Point) int
	var xlabel, title, held string
	var xtick func(float64) string
	all := f.Points()
	if len(all) == 0 {
		return nil, fmt.Errorf("charts: %s: no server other than bare Gin", f.name())
	}
	switch by {
	case BySize:
		xOf, fixed = func(p Point) int { return p.Size }, func(p Point) int { return p.Conns }
		xlabel = "session size (log scale)"
		title = "Cost of session size: requests per second relative to bare Gin (1.0 = bare Gin)"
		xtick = func(v float64) string { return sizeLabel(int(v + 0.5)) }
		held = fmt.Sprintf("%d connections", all[0].Conns)
	case ByConns:
		xOf, fixed = func(p Point) int { return p.Conns }, func(p Point) int { return p.Size }
		xlabel = "concurrent connections (log scale)"
		title = "Cost under concurrency: requests per second relative to bare Gin (1.0 = bare Gin)"
		xtick = func(v float64) string { return strconv.Itoa(int(v + 0.5)) }
		held = sizeLabel(all[0].Size) + " session"
	case ByLive:
		xOf, fixed = func(p Point) int { return p.Live }, func(p Point) int { return p.Conns }
		xlabel = "live sessions in the store (log scale)"
		title = "Cost of live sessions: requests per second relative to bare Gin (1.0 = bare Gin)"
		xtick = func(v float64) string { return CountLabel(int(v + 0.5)) }
		held = fmt.Sprintf("%d connections, cookies drawn uniformly from all live sessions", all[0].Conns)
	default:
		return nil, fmt.Errorf("charts: sweep by %q: want size, conns or live", by)
	}
	var ps []Point
	hold := fixed(all[0])
	for _, p := range all {
		if fixed(p) == hold && xOf(p) > 0 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("charts: %s: no positive %s to draw", f.name(), by)
	}
	servers := firstSeen(ps, func(p Point) string { return p.Server })
	routes := firstSeen(ps, func(p Point) string { return p.Route })
	xsInt := firstSeen(ps, xOf)
	sort.Ints(xsInt)
	xs := make([]float64, len(xsInt))
	for i, x := range xsInt {
		xs[i] = float64(x)
	}

	ch := &Chart{Title: title, Subtitle: runInfo(f, held)}
	ymax := 1.0
	type series struct {
		server string
		xys    plotter.XYs
	}
	perRoute := make([][]series, len(routes))
	for r, route := range routes {
		for _, s := range servers {
			var xys plotter.XYs
			for _, p := range ps {
				if p.Server == s && p.Route == route {
					xys = append(xys, plotter.XY{X: float64(xOf(p)), Y: p.Ratio})
					ymax = max(ymax, p.Ratio)
				}
			}
			if len(xys) == 0 {
				ch.Missing = append(ch.Missing, s+" "+routeLabel(route))
				continue
			}
			sort.Slice(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
			perRoute[r] = append(perRoute[r], series{s, xys})
			ch.Lines++
		}
	}

	style := map[string]int{}
	for i, s := range servers {
		style[s] = i
	}
	lineOf := func(s string, xys plotter.XYs) (*plotter.Line, *plotter.Scatter, error) {
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, nil, err
		}
		i := style[s]
		col := lineColours[i%len(lineColours)]
		l.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(1.6)}
		if i >= len(lineColours) {
			l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(3), Shape: glyphs[i%len(glyphs)]}
		return l, sc, nil
	}

	var panels []*plot.Plot
	for r, route := range routes {
		p := newPlot(xlabel, "")
		if r == 0 {
			p.Y.Label.Text = "requests/s ÷ bare Gin's"
		}
		p.Title.Text = routeLabel(route)
		grid := plotter.NewGrid()
		grid.Vertical.Color, grid.Horizontal.Color = gridGrey, gridGrey
		p.Add(grid, refLine{at: 1})
		for _, s := range perRoute[r] {
			l, sc, err := lineOf(s.server, s.xys)
			if err != nil {
				return nil, fmt.Errorf("charts: %s %s: %w", s.server, routeLabel(route), err)
			}
			p.Add(l, sc)
		}
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = ticks(xs, xtick)
		p.X.Min, p.X.Max = xs[0]/1.7, xs[len(xs)-1]*1.7
		p.Y.Min, p.Y.Max = 0, ymax*1.08
		p.Y.Tick.Marker = ratioTicks(p.Y.Max)
		panels = append(panels, p)
	}

	legend := plot.NewLegend()
	legend.TextStyle.Font.Typeface, legend.TextStyle.Font.Variant = sans.Typeface, sans.Variant
	legend.TextStyle.Font.Size = 9
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(3)
	legend.ThumbnailWidth = vg.Points(26)
	for _, s := range servers {
		var xys plotter.XYs = []plotter.XY{{X: 1, Y: 1}}
		l, sc, err := lineOf(s, xys)
		if err != nil {
			return nil, err
		}
		legend.Add(s, l, sc)
	}
	legend.Add("bare Gin (1.0)", refLine{})

	ch.width = vg.Points(380 + 250*float64(max(1, len(routes))-1) + 40)
	ch.height = ch.titleHeight() + vg.Points(300)
	legendW := vg.Points(20)
	for _, s := range append(servers, "bare Gin (1.0)") {
		legendW = max(legendW, legend.TextStyle.Rectangle(s).Size().X+legend.ThumbnailWidth+vg.Points(34))
	}
	ch.body = func(c draw.Canvas) {
		pc := c
		pc.Max.X -= legendW
		tiles := draw.Tiles{Cols: len(panels), Rows: 1, PadX: vg.Points(16), PadLeft: vg.Points(4), PadBottom: vg.Points(4)}
		cs := plot.Align([][]*plot.Plot{panels}, tiles, pc)
		for i, p := range panels {
			p.Draw(cs[0][i])
		}
		lc := c
		lc.Min.X = pc.Max.X + vg.Points(10)
		lc.Max.Y -= vg.Points(24)
		legend.Draw(lc)
	}
	return ch, nil
}

// CountLabel writes a count of sessions as 10k, 1M or 1500.
func CountLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
