package charts

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart is a drawn-to-order picture of one results file.
type Chart struct {
	Title    string
	Subtitle string
	// Bars is how many bars the chart draws (the headline chart) and
	// Lines how many lines (the size and connection charts).
	Bars, Lines int
	// Missing lists "server /route" pairs that other servers have and
	// this one was not measured on: they get no bar, but a note.
	Missing []string

	width, height vg.Length
	body          func(c draw.Canvas) // draws below the title
}

// sans is Liberation Sans, which gonum/plot embeds (no system font is
// needed to measure or render text). It has Arial's metrics, which the SVG
// names as its fallback.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

func textStyle(size vg.Length, x draw.XAlignment, y draw.YAlignment, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(sans, size), XAlign: x, YAlign: y, Handler: plot.DefaultTextHandler}
}

var (
	black    = color.Black
	grey     = color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff}
	gridGrey = color.RGBA{R: 0xd4, G: 0xd4, B: 0xd4, A: 0xff}
	refStyle = draw.LineStyle{Color: color.RGBA{R: 0x33, G: 0x33, B: 0x33, A: 0xff}, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
)

// newPlot is a plot in Liberation Sans with the given axis labels.
func newPlot(xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.TextStyle.Font = font.From(sans, 11)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 10)
		a.Tick.Label.Font = font.From(sans, 9)
	}
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	p.Legend.TextStyle.Font = font.From(sans, 9)
	return p
}

// titleHeight is the room the title and subtitle take at the top.
func (ch *Chart) titleHeight() vg.Length {
	h := vg.Points(12)
	h += textStyle(14, 0, 0, black).Rectangle(ch.Title).Size().Y
	if ch.Subtitle != "" {
		h += vg.Points(4) + textStyle(9, 0, 0, black).Rectangle(ch.Subtitle).Size().Y
	}
	return h + vg.Points(8)
}

func (ch *Chart) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	top := c.Max.Y - vg.Points(10)
	ts := textStyle(14, draw.XCenter, draw.YTop, black)
	c.FillText(ts, vg.Point{X: c.Center().X, Y: top}, ch.Title)
	top -= ts.Rectangle(ch.Title).Size().Y + vg.Points(4)
	if ch.Subtitle != "" {
		c.FillText(textStyle(9, draw.XCenter, draw.YTop, grey), vg.Point{X: c.Center().X, Y: top}, ch.Subtitle)
	}
	body := c
	body.Max.Y -= ch.titleHeight()
	ch.body(body)
}

// Size is the chart's width and height.
func (ch *Chart) Size() (w, h vg.Length) { return ch.width, ch.height }

// Write draws the chart as "svg" or "png" to w.
func (ch *Chart) Write(w io.Writer, format string) (err error) {
	defer func() {
		// gonum/plot panics on some impossible geometry; say so rather
		// than crash the command.
		if r := recover(); r != nil {
			err = fmt.Errorf("charts: drawing %q: %v", ch.Title, r)
		}
	}()
	switch format {
	case "svg":
		cv := vgsvg.New(ch.width, ch.height)
		ch.draw(draw.New(cv))
		var buf bytes.Buffer
		if _, err := cv.WriteTo(&buf); err != nil {
			return err
		}
		_, err := w.Write(fontFallback(buf.Bytes()))
		return err
	case "png":
		cv := vgimg.NewWith(vgimg.UseWH(ch.width, ch.height), vgimg.UseDPI(144))
		ch.draw(draw.New(cv))
		_, err := vgimg.PngCanvas{Canvas: cv}.WriteTo(w)
		return err
	}
	return fmt.Errorf("charts: format %q: want svg or png", format)
}

// fontFallback adds Arial (whose metrics Liberation Sans shares) and a
// generic sans-serif after the Liberation Sans that gonum's SVG names, so
// a browser without Liberation fonts lays the text out as measured.
func fontFallback(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"), []byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

// Save writes the chart to path, as SVG or PNG by its extension.
func (ch *Chart) Save(path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format != "svg" && format != "png" {
		return fmt.Errorf("charts: %s: want a .svg or .png file", path)
	}
	var buf bytes.Buffer
	if err := ch.Write(&buf, format); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// refLine is the dashed line of bare Gin (ratio 1), across the data area:
// vertical in the headline's horizontal bars, horizontal in the sweeps.
type refLine struct {
	vertical bool
	at       float64
}

func (r refLine) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	if r.vertical {
		x := trX(r.at)
		c.StrokeLine2(refStyle, x, c.Min.Y, x, c.Max.Y)
		return
	}
	y := trY(r.at)
	c.StrokeLine2(refStyle, c.Min.X, y, c.Max.X, y)
}

// Thumbnail draws the line in a legend.
func (r refLine) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(refStyle, c.Min.X, y, c.Max.X, y)
}

// family is who a server belongs to: this project, a peer library, or
// the floor (bare Gin plus the least any session middleware does).
func family(server string) string {
	lib, _, _ := strings.Cut(server, "/")
	switch lib {
	case "ginkit", "floor":
		return lib
	}
	return "peer"
}

// routeLabel is "/read" for "read".
func routeLabel(r string) string { return "/" + r }

// sizeLabel is 250 B, 4 KB, 64 KB.
func sizeLabel(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + " KB"
	}
	if n >= 10000 {
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return strconv.Itoa(n) + " B"
}

// runInfo is the subtitle's account of the run.
func runInfo(f *File, extra string) string {
	var parts []string
	if t, err := time.Parse(time.RFC3339, f.Started); err == nil {
		parts = append(parts, "measured "+t.UTC().Format("2006-01-02 15:04")+" UTC")
	}
	if extra != "" {
		parts = append(parts, extra)
	}
	if f.Runs > 1 {
		parts = append(parts, fmt.Sprintf("median of %d runs", f.Runs))
	}
	if f.Host != "" {
		h := f.Host
		if len(h) > 70 {
			h = h[:67] + "…"
		}
		parts = append(parts, h)
	}
	return strings.Join(parts, " · ")
}

// ticks returns ticks at the given values with labels, and no minor ones.
func ticks(values []float64, label func(float64) string) plot.ConstantTicks {
	out := make(plot.ConstantTicks, len(values))
	for i, v := range values {
		out[i] = plot.Tick{Value: v, Label: label(v)}
	}
	return out
}

// ratioTicks ticks a ratio axis from 0 to max every 0.1, labelled every
// 0.2 (every 0.5 past 3, where a server beat bare Gin by far).
func ratioTicks(max float64) plot.ConstantTicks {
	step, every := 0.1, 2
	if max > 3 {
		step, every = 0.5, 1
	}
	var out plot.ConstantTicks
	for i := 0; float64(i)*step <= max; i++ {
		t := plot.Tick{Value: float64(i) * step}
		if i%every == 0 {
			t.Label = strconv.FormatFloat(t.Value, 'f', 1, 64)
		}
		out = append(out, t)
	}
	return out
}
