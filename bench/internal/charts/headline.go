package charts

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Shades per family, darkest first: one per route, in the run's route
// order. This project's bars are blue, peers' orange, the floor's grey.
var shades = map[string][]color.Color{
	"ginkit": {rgb(0x08, 0x45, 0x94), rgb(0x42, 0x92, 0xc6), rgb(0x9e, 0xca, 0xe1)},
	"peer":   {rgb(0xa6, 0x36, 0x03), rgb(0xf1, 0x69, 0x13), rgb(0xfd, 0xae, 0x6b)},
	"floor":  {rgb(0x4d, 0x4d, 0x4d), rgb(0x8c, 0x8c, 0x8c), rgb(0xc8, 0xc8, 0xc8)},
}

func rgb(r, g, b uint8) color.Color { return color.RGBA{R: r, G: g, B: b, A: 0xff} }

func shade(fam string, route int) color.Color {
	s := shades[fam]
	return s[route%len(s)]
}

var familyNames = map[string]string{"ginkit": "ginkit", "peer": "peers", "floor": "floor"}

// bar is one server's median ratio on one route.
type bar struct {
	group, slot int // server index (top first), route index
	Point
	col color.Color
}

// hbars draws grouped horizontal bars: group g (a server) is centred on
// y = groups-1-g, its bars (routes) stacked top to bottom.
type hbars struct {
	groups, slots int
	bars          []bar
	missing       [][2]int // group, slot
}

const band = 0.8 // of a group's unit height, the rest is the gap

func (h *hbars) slotY(group, slot int) (lo, hi float64) {
	centre := float64(h.groups - 1 - group)
	step := band / float64(h.slots)
	hi = centre + band/2 - float64(slot)*step
	return hi - step*0.88, hi
}

func (h *hbars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	whisker := draw.LineStyle{Color: black, Width: vg.Points(0.7)}
	for _, b := range h.bars {
		lo, hi := h.slotY(b.group, b.slot)
		y0, y1 := trY(lo), trY(hi)
		c.SetColor(b.col)
		c.Fill(rect(trX(0), y0, trX(b.Ratio), y1))
		if b.N > 1 && b.Max > b.Min {
			l, r, ym := trX(b.Min), trX(b.Max), (y0+y1)/2
			c.StrokeLine2(whisker, l, ym, r, ym)
			c.StrokeLine2(whisker, l, y0, l, y1)
			c.StrokeLine2(whisker, r, y0, r, y1)
		}
	}
}

// hlabels writes each bar's value past its end (and its whisker's), and
// "not measured" where a bar is missing, on a white ground so that the
// bare Gin line drawn before them does not cross the digits.
type hlabels struct{ *hbars }

func (h hlabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	label := textStyle(7.5, draw.XLeft, draw.YCenter, black)
	note := textStyle(7, draw.XLeft, draw.YCenter, grey)
	put := func(ts text.Style, x, y vg.Length, s string) {
		r := ts.Rectangle(s)
		c.SetColor(color.White)
		c.Fill(rect(x-vg.Points(1), y-r.Size().Y/2, x+r.Size().X+vg.Points(1), y+r.Size().Y/2))
		c.FillText(ts, vg.Point{X: x, Y: y}, s)
	}
	for _, b := range h.bars {
		lo, hi := h.slotY(b.group, b.slot)
		end := trX(b.Ratio)
		if b.N > 1 {
			end = max(end, trX(b.Max))
		}
		put(label, end+vg.Points(3), (trY(lo)+trY(hi))/2, fmt.Sprintf("%.2f", b.Ratio))
	}
	for _, m := range h.missing {
		lo, hi := h.slotY(m[0], m[1])
		put(note, trX(0)+vg.Points(3), (trY(lo)+trY(hi))/2, "not measured")
	}
}

// Headline draws the headline run: one group of bars per server, one bar
// per route, the length of each its ratio of requests per second to bare
// Gin's, with a dashed line at 1. A file measured at several sizes or
// connection counts is drawn at its first.
func Headline(f *File) (*Chart, error) {
	all := f.Points()
	if len(all) == 0 {
		return nil, fmt.Errorf("charts: %s: no server other than bare Gin", f.name())
	}
	size, conns := all[0].Size, all[0].Conns
	var ps []Point
	for _, p := range all {
		if p.Size == size && p.Conns == conns {
			ps = append(ps, p)
		}
	}
	servers := firstSeen(ps, func(p Point) string { return p.Server })
	routes := firstSeen(ps, func(p Point) string { return p.Route })
	at := map[[2]string]Point{}
	for _, p := range ps {
		at[[2]string{p.Server, p.Route}] = p
	}

	ch := &Chart{
		Title:    "Requests per second relative to bare Gin, per server and route (1.0 = bare Gin; higher is better)",
		Subtitle: runInfo(f, fmt.Sprintf("%s session, %d connections", sizeLabel(size), conns)),
	}
	h := &hbars{groups: len(servers), slots: len(routes)}
	xmax := 1.0
	fams := map[string]bool{}
	for g, s := range servers {
		fams[family(s)] = true
		for r, route := range routes {
			p, ok := at[[2]string{s, route}]
			if !ok {
				h.missing = append(h.missing, [2]int{g, r})
				ch.Missing = append(ch.Missing, s+" "+routeLabel(route))
				continue
			}
			h.bars = append(h.bars, bar{group: g, slot: r, Point: p, col: shade(family(s), r)})
			xmax = max(xmax, p.Ratio, p.Max)
		}
	}
	ch.Bars = len(h.bars)

	perBar := vg.Points(11)
	groupH := perBar*vg.Length(len(routes)) + vg.Points(12)
	ch.width = vg.Points(760)
	ch.height = max(ch.titleHeight()+vg.Points(60)+groupH*vg.Length(len(servers)), vg.Points(300))
	const legendW = 175

	ch.body = func(c draw.Canvas) {
		p := newPlot("requests/s ÷ bare Gin's requests/s on the same route (alternating slices)", "")
		grid := plotter.NewGrid()
		grid.Horizontal.Color = nil
		grid.Vertical.Color = gridGrey
		p.Add(grid, h, refLine{vertical: true, at: 1}, hlabels{h})
		p.X.Min, p.X.Max = 0, xmax*1.1
		p.X.Tick.Marker = ratioTicks(p.X.Max)
		p.Y.Min, p.Y.Max = -0.5, float64(len(servers))-0.5
		var ys []float64
		for g := range servers {
			ys = append(ys, float64(len(servers)-1-g))
		}
		p.Y.Tick.Marker = ticks(ys, func(v float64) string { return servers[len(servers)-1-int(v+0.5)] })
		p.Y.Tick.Label.Font.Size = 10
		p.Y.Tick.Length = 0
		pc := c
		pc.Min.X += vg.Points(8)
		pc.Max.X -= vg.Points(legendW)
		p.Draw(pc)

		lc := c
		lc.Min.X = pc.Max.X + vg.Points(14)
		drawBarLegend(lc, routes, fams, f.Runs > 1)
	}
	return ch, nil
}

// SQL draws the SQL run (this project's SQL drivers beside the peers'
// PostgreSQL stores) as the headline chart is drawn, under its own title.
func SQL(f *File) (*Chart, error) {
	ch, err := Headline(f)
	if err != nil {
		return nil, err
	}
	ch.Title = "SQL stores: requests per second relative to bare Gin (1.0 = bare Gin; higher is better)"
	return ch, nil
}

// drawBarLegend draws, at the top of c, a table of the bar colours (one
// column per family present, one row per route), then the bare Gin line
// and what the whiskers are.
func drawBarLegend(c draw.Canvas, routes []string, present map[string]bool, whiskers bool) {
	var fams []string
	for _, f := range []string{"ginkit", "peer", "floor"} {
		if present[f] {
			fams = append(fams, f)
		}
	}
	head := textStyle(9, draw.XCenter, draw.YTop, black)
	row := textStyle(9, draw.XLeft, draw.YCenter, black)
	small := textStyle(8, draw.XLeft, draw.YTop, grey)
	const labelW, colW, rowH = 40, 38, 15
	y := c.Max.Y - vg.Points(4)
	c.FillText(textStyle(9, draw.XLeft, draw.YTop, black), vg.Point{X: c.Min.X, Y: y}, "bar colours:")
	y -= vg.Points(rowH)
	for i, f := range fams {
		c.FillText(head, vg.Point{X: c.Min.X + vg.Points(labelW+colW*float64(i)+colW/2), Y: y}, familyNames[f])
	}
	y -= vg.Points(rowH)
	for r, route := range routes {
		yc := y - vg.Points(rowH/2)
		c.FillText(row, vg.Point{X: c.Min.X, Y: yc}, routeLabel(route))
		for i, f := range fams {
			x := c.Min.X + vg.Points(labelW+colW*float64(i)+colW/2)
			c.SetColor(shade(f, r))
			c.Fill(rect(x-vg.Points(12), yc-vg.Points(5), x+vg.Points(12), yc+vg.Points(5)))
		}
		y -= vg.Points(rowH)
	}
	y -= vg.Points(6)
	yc := y - vg.Points(rowH/2)
	refLine{}.Thumbnail(&draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: c.Min.X, Y: yc}, Max: vg.Point{X: c.Min.X + vg.Points(24), Y: yc}}})
	c.FillText(row, vg.Point{X: c.Min.X + vg.Points(30), Y: yc}, "bare Gin (1.0)")
	y -= vg.Points(rowH)
	if whiskers {
		yc := y - vg.Points(rowH/2)
		ws := draw.LineStyle{Color: black, Width: vg.Points(0.7)}
		c.StrokeLine2(ws, c.Min.X+vg.Points(2), yc, c.Min.X+vg.Points(22), yc)
		c.StrokeLine2(ws, c.Min.X+vg.Points(2), yc-vg.Points(3), c.Min.X+vg.Points(2), yc+vg.Points(3))
		c.StrokeLine2(ws, c.Min.X+vg.Points(22), yc-vg.Points(3), c.Min.X+vg.Points(22), yc+vg.Points(3))
		c.FillText(row, vg.Point{X: c.Min.X + vg.Points(30), Y: yc}, "range over the runs")
		y -= vg.Points(rowH)
	}
	y -= vg.Points(6)
	var notes []string
	if present["ginkit"] {
		notes = append(notes, "ginkit: this project")
	}
	if present["peer"] {
		notes = append(notes, "peers: gin-contrib/sessions", "and scs stores")
	}
	if present["floor"] {
		notes = append(notes, "floor: bare Gin plus the least", "any session middleware does")
	}
	notes = append(notes, "bars: median ratio")
	for _, n := range notes {
		c.FillText(small, vg.Point{X: c.Min.X, Y: y}, n)
		y -= vg.Points(11)
	}
}

func rect(x0, y0, x1, y1 vg.Length) vg.Path {
	var p vg.Path
	p.Move(vg.Point{X: x0, Y: y0})
	p.Line(vg.Point{X: x1, Y: y0})
	p.Line(vg.Point{X: x1, Y: y1})
	p.Line(vg.Point{X: x0, Y: y1})
	p.Close()
	return p
}

func (f *File) name() string {
	if f.Path != "" {
		return f.Path
	}
	return "results"
}
