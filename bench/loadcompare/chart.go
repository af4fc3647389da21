package loadcompare

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteCharts draws chart.png and chart.svg into dir: for each connection
// count, throughput per variant (median, with the rounds' range) and the
// latency percentiles per variant (medians, log scale).
func WriteCharts(dir string, res *Results) error {
	plots, err := chartPlots(res)
	if err != nil {
		return err
	}
	width, height := 11*vg.Inch, vg.Length(len(plots))*4*vg.Inch
	for _, out := range []struct {
		name   string
		canvas interface {
			vg.CanvasSizer
			io.WriterTo
		}
	}{
		{"chart.png", vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110))}},
		{"chart.svg", vgsvg.New(width, height)},
	} {
		dc := draw.New(out.canvas)
		tiles := draw.Tiles{Rows: len(plots), Cols: 2, PadX: vg.Millimeter * 8, PadY: vg.Millimeter * 8,
			PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
		canvases := plot.Align(plots, tiles, dc)
		for i := range plots {
			for j := range plots[i] {
				plots[i][j].Draw(canvases[i][j])
			}
		}
		f, err := os.Create(filepath.Join(dir, out.name))
		if err != nil {
			return err
		}
		if _, err := out.canvas.WriteTo(f); err != nil {
			f.Close()
			return fmt.Errorf("drawing %s: %w", out.name, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// errPoints are points with vertical error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

func chartPlots(res *Results) ([][]*plot.Plot, error) {
	var rows [][]*plot.Plot
	for _, c := range res.Meta.Conns {
		var sums []Summary
		for _, s := range res.Summary {
			if s.Conns == c {
				sums = append(sums, s)
			}
		}
		if len(sums) == 0 {
			continue
		}
		names := make([]string, len(sums))
		vals := make(plotter.Values, len(sums))
		pts := errPoints{XYs: make(plotter.XYs, len(sums)), YErrors: make(plotter.YErrors, len(sums))}
		for i, s := range sums {
			names[i] = s.Variant
			vals[i] = s.RPS.Median
			pts.XYs[i] = plotter.XY{X: float64(i), Y: s.RPS.Median}
			pts.YErrors[i].Low = s.RPS.Median - s.RPS.Min
			pts.YErrors[i].High = s.RPS.Max - s.RPS.Median
		}
		tp := plot.New()
		tp.Title.Text = fmt.Sprintf("Throughput, %d connection%s (median; bars: rounds' range)", c, plural(c))
		tp.Y.Label.Text = "requests/s"
		tp.Y.Min = 0
		bars, err := plotter.NewBarChart(vals, vg.Points(28))
		if err != nil {
			return nil, err
		}
		bars.Color = plotutil.Color(0)
		bars.LineStyle.Width = 0
		eb, err := plotter.NewYErrorBars(pts)
		if err != nil {
			return nil, err
		}
		tp.Add(bars, eb, plotter.NewGrid())
		tp.NominalX(names...)

		lp := plot.New()
		lp.Title.Text = fmt.Sprintf("Latency, %d connection%s (median of rounds)", c, plural(c))
		lp.Y.Label.Text = "µs (log scale)"
		lp.Y.Scale = plot.LogScale{}
		lp.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		// Latency grows to the right: the bottom right corner is free.
		lp.Legend.Top = false
		lp.Legend.Left = false
		for i, s := range sums {
			xys := plotter.XYs{
				{X: 0, Y: positive(s.P50Us.Median)},
				{X: 1, Y: positive(s.P90Us.Median)},
				{X: 2, Y: positive(s.P99Us.Median)},
				{X: 3, Y: positive(s.MaxUs)},
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return nil, err
			}
			line.Color = plotutil.Color(i)
			line.Dashes = plotutil.Dashes(i)
			points.Color = plotutil.Color(i)
			points.Shape = plotutil.Shape(i)
			lp.Add(line, points)
			lp.Legend.Add(s.Variant, line, points)
		}
		lp.Add(plotter.NewGrid())
		lp.NominalX("p50", "p90", "p99", "max")
		rows = append(rows, []*plot.Plot{tp, lp})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("chart: no measurements")
	}
	return rows, nil
}

// positive keeps a value drawable on a log scale.
func positive(v float64) float64 { return max(v, 0.1) }
