//! Server-rendered SVG charts (trend, bars, sparkline) for the survey-scores dashboards.
//!
//! Every chart is a self-contained `<svg>` element meant to be inlined in HTML: it has an
//! accessible name (`role="img"` + `<title>`), scales to its container, uses `currentColor` for
//! text, axes and grid so it follows the page's light/dark colours, and never references an
//! external URL. Plotters does the layout; the output is post-processed to meet those rules.

use std::error::Error;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One point of a trend: a bucket label (e.g. "2026-03-02"), its score and 95% interval, if any.
pub struct TrendPoint<'a> {
    /// Bucket label shown on the x axis (thinned when there are many points).
    pub label: &'a str,
    /// The score of the bucket; `None` (or a non-finite value) is a gap in the line.
    pub score: Option<f64>,
    /// The 95% interval `[lo, hi]` of the score, drawn as a translucent band.
    pub interval: Option<[f64; 2]>,
}

/// Text shown instead of a chart when there is nothing to plot.
const NO_DATA: &str = "No answers in this period";
/// Text shown when plotters reports a drawing error.
const UNAVAILABLE: &str = "Chart unavailable";

/// Size of the trend and bar charts in viewBox units; the SVG itself scales to its container.
const CHART_SIZE: (u32, u32) = (640, 260);
/// Sparklines are drawn at a small fixed size so they fit in a table cell.
const SPARK_SIZE: (u32, u32) = (120, 28);

/// Plotters draws text, axes and grid in this sentinel colour; the output then swaps it for
/// `currentColor` so the chart inherits the page's text colour in light and dark mode.
const INK: RGBColor = BLACK;
/// The data colour: Tailwind blue-500 has at least 3:1 contrast against both #ffffff and #111418.
const SERIES: RGBColor = RGBColor(0x3b, 0x82, 0xf6);
/// Font size passed to plotters; its SVG backend writes `size / 1.24`, i.e. about 13 units.
const FONT_SIZE: f64 = 16.0;
/// Upper bound on the number of x-axis labels so that they never crowd each other.
const MAX_X_LABELS: usize = 8;

/// Gives every chart a distinct id so several charts on one page keep their `<title>` links apart.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

type DrawResult = Result<(), Box<dyn Error>>;
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// A trend line with its interval band. `y` is the score axis range, e.g. (-100.0, 100.0) for NPS, (0.0, 100.0) for CSAT, (1.0, 7.0) for a CES mean.
pub fn trend(title: &str, y: (f64, f64), points: &[TrendPoint<'_>]) -> String {
    let data = points
        .iter()
        .flat_map(|p| p.score.into_iter().chain(p.interval.into_iter().flatten()));
    let (lo, hi) = axis_range(y, data);
    let clamp = |v: f64| v.clamp(lo, hi);

    let scores: Vec<Option<f64>> = points.iter().map(|p| finite(p.score).map(clamp)).collect();
    if scores.iter().all(Option::is_none) {
        return message_svg(title, CHART_SIZE, NO_DATA);
    }
    // An interval is only usable when both ends are finite; the ends may come in either order.
    let bands: Vec<Option<(f64, f64)>> = points
        .iter()
        .map(|p| match p.interval {
            Some([a, b]) if a.is_finite() && b.is_finite() => {
                Some((clamp(a.min(b)), clamp(a.max(b))))
            }
            _ => None,
        })
        .collect();
    let labels: Vec<&str> = points.iter().map(|p| p.label).collect();

    render(title, CHART_SIZE, |root| {
        let n = points.len();
        // Keep the latest bucket labelled (it is the one people look for) and step back from it.
        let step = n.div_ceil(max_x_labels(&labels)).max(1);
        let keys: Vec<f64> = (0..n).rev().step_by(step).map(|i| i as f64).collect();
        let x_fmt = |x: &f64| label_at(&labels, *x);
        let y_fmt = |v: &f64| format_number(*v);

        let mut chart = ChartBuilder::on(root)
            .margin(8)
            // Room for half of the last (right-most) label, which is centred on its point.
            .margin_right(40)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(TickAxis::index(n, keys), TickAxis::value(lo, hi))?;
        chart
            .configure_mesh()
            .axis_style(INK)
            .bold_line_style(INK.mix(0.15))
            .label_style(text_style())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()?;

        // Band first so the line and markers are drawn on top of it.
        for run in runs(&bands) {
            if let [(i, (a, b))] = run[..] {
                // A polygon of one point would be invisible, so show a short error bar instead.
                let bar = vec![(i as f64, a), (i as f64, b)];
                chart.draw_series(std::iter::once(PathElement::new(
                    bar,
                    SERIES.mix(0.4).stroke_width(3),
                )))?;
            } else {
                let upper = run.iter().map(|&(i, (_, b))| (i as f64, b));
                let lower = run.iter().rev().map(|&(i, (a, _))| (i as f64, a));
                let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
                chart.draw_series(std::iter::once(Polygon::new(
                    outline,
                    SERIES.mix(0.2).filled(),
                )))?;
            }
        }
        // One path per contiguous run, so nothing is drawn across a gap.
        for run in runs(&scores).into_iter().filter(|r| r.len() > 1) {
            let line: Vec<(f64, f64)> = run.iter().map(|&(i, v)| (i as f64, v)).collect();
            chart.draw_series(std::iter::once(PathElement::new(
                line,
                SERIES.stroke_width(2),
            )))?;
        }
        // A marker on every score keeps isolated points visible; smaller when points are dense.
        let radius = match n {
            0..=60 => 3,
            61..=150 => 2,
            _ => 1,
        };
        chart.draw_series(
            scores.iter().enumerate().filter_map(|(i, s)| {
                s.map(|v| Circle::new((i as f64, v), radius, SERIES.filled()))
            }),
        )?;
        Ok(())
    })
}

/// A vertical bar chart of counts per label (a distribution of answers: labels "0".."10", "1".."5", or "down"/"up").
pub fn bars(title: &str, bars: &[(String, u64)]) -> String {
    if bars.is_empty() {
        return message_svg(title, CHART_SIZE, NO_DATA);
    }
    let labels: Vec<&str> = bars.iter().map(|(label, _)| label.as_str()).collect();
    // Counts go on an f64 axis (see `TickAxis`); the labels above the bars print exact counts.
    let max = bars
        .iter()
        .map(|&(_, count)| count)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    // Headroom above the tallest bar for its count label.
    let top = max + (max / 8.0).max(1.0);

    render(title, CHART_SIZE, |root| {
        let n = bars.len();
        let step = n.div_ceil(max_x_labels(&labels).max(12)).max(1);
        let keys: Vec<f64> = (0..n).step_by(step).map(|i| i as f64).collect();
        let x_fmt = |x: &f64| label_at(&labels, *x);
        let y_fmt = |v: &f64| format_number(*v);

        let mut chart = ChartBuilder::on(root)
            .margin(8)
            .margin_right(16)
            .x_label_area_size(28)
            .y_label_area_size(52)
            .build_cartesian_2d(TickAxis::index(n, keys), TickAxis::count(top))?;
        chart
            .configure_mesh()
            .axis_style(INK)
            .bold_line_style(INK.mix(0.15))
            .max_light_lines(0)
            // Vertical grid lines would run through the middle of every bar.
            .disable_x_mesh()
            .y_labels(5)
            .label_style(text_style())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .draw()?;

        chart.draw_series(bars.iter().enumerate().map(|(i, &(_, count))| {
            let x = i as f64;
            Rectangle::new([(x - 0.35, 0.0), (x + 0.35, count as f64)], SERIES.filled())
        }))?;
        let count_style = text_style().pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(bars.iter().enumerate().map(|(i, &(_, count))| {
            Text::new(
                count.to_string(),
                (i as f64, count as f64),
                count_style.clone(),
            )
        }))?;
        Ok(())
    })
}

/// A small sparkline (no axes or labels) for a table cell; `None` = a gap.
pub fn sparkline(title: &str, y: (f64, f64), points: &[Option<f64>]) -> String {
    let (lo, hi) = axis_range(y, points.iter().flatten().copied());
    let values: Vec<Option<f64>> = points
        .iter()
        .map(|&p| finite(p).map(|v| v.clamp(lo, hi)))
        .collect();
    let Some(last) = values.iter().rposition(Option::is_some) else {
        // Nothing to draw: an empty cell with an accessible name is clearer than a message.
        return wrap_svg(title, SPARK_SIZE, true, "");
    };

    render_sized(title, SPARK_SIZE, true, |root| {
        let n = values.len();
        // A single point still needs a non-empty x range.
        let x_range = if n > 1 {
            0.0..(n - 1) as f64
        } else {
            -0.5..0.5
        };
        let mut chart = ChartBuilder::on(root)
            .margin(3)
            .build_cartesian_2d(x_range, lo..hi)?;
        for run in runs(&values) {
            if let [(i, v)] = run[..] {
                // An isolated value would otherwise vanish; the last point gets its own dot below.
                if i != last {
                    chart.draw_series(std::iter::once(Circle::new(
                        (i as f64, v),
                        1,
                        SERIES.filled(),
                    )))?;
                }
            } else {
                let line: Vec<(f64, f64)> = run.iter().map(|&(i, v)| (i as f64, v)).collect();
                chart.draw_series(std::iter::once(PathElement::new(
                    line,
                    SERIES.stroke_width(1),
                )))?;
            }
        }
        if let Some(v) = values[last] {
            chart.draw_series(std::iter::once(Circle::new(
                (last as f64, v),
                2,
                SERIES.filled(),
            )))?;
        }
        Ok(())
    })
}

/// An axis whose ticks are exactly the given values. Plotters' own tick search is avoided:
/// its integer version overflows (panics in debug builds) on large ranges or when asked for
/// zero light lines, and `with_key_points` lacks the formatter `configure_mesh` needs for `f64`.
struct TickAxis {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl TickAxis {
    /// Bucket indices `0..n`, padded by half a slot on each side so bars and end points fit.
    fn index(n: usize, ticks: Vec<f64>) -> Self {
        TickAxis {
            inner: (-0.5..n as f64 - 0.5).into(),
            ticks,
        }
    }

    /// A value axis from `lo` to `hi` with a few round ticks.
    fn value(lo: f64, hi: f64) -> Self {
        TickAxis {
            inner: (lo..hi).into(),
            ticks: nice_ticks(lo, hi, 5),
        }
    }

    /// A count axis from 0 to `top`: like [`TickAxis::value`] but without fractional ticks.
    fn count(top: f64) -> Self {
        let mut axis = TickAxis::value(0.0, top);
        axis.ticks.retain(|t| t.fract() == 0.0);
        axis
    }
}

impl Ranged for TickAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Only bold ticks (labels and grid lines); light lines between them would be clutter.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

/// Round tick values (steps of 1, 2 or 5 times a power of ten) within `lo..=hi`, at most about
/// `max` of them. Always terminates, whatever the (finite) range.
fn nice_ticks(lo: f64, hi: f64, max: usize) -> Vec<f64> {
    let span = hi - lo;
    let rough = span / max.max(1) as f64;
    if !(rough.is_finite() && rough > 0.0) {
        return vec![lo, hi];
    }
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil();
    let tolerance = step * 1e-9;
    (0..=max + 1)
        .map(|k| (first + k as f64) * step)
        .filter(|t| t.is_finite() && *t <= hi + tolerance)
        .collect()
}

/// Treats NaN and infinities as missing, so they behave exactly like `None`.
fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

/// The y range to plot: the requested one when usable, else the data's extent, else 0..1.
/// Plotters needs a finite, non-empty range or it maps everything to NaN.
fn axis_range(y: (f64, f64), data: impl Iterator<Item = f64>) -> (f64, f64) {
    let usable = |lo: f64, hi: f64| lo < hi && (hi - lo).is_finite();
    let (lo, hi) = (y.0.min(y.1), y.0.max(y.1));
    if usable(lo, hi) {
        return (lo, hi);
    }
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in data.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo == hi {
        // A flat series: centre it in a small range around its value.
        let pad = (lo.abs() * 0.1).max(1.0);
        (lo, hi) = (lo - pad, hi + pad);
    }
    if !usable(lo, hi) {
        return (0.0, 1.0);
    }
    (lo, hi)
}

/// Contiguous runs of present values, each with the index of every value.
fn runs<T: Copy>(values: &[Option<T>]) -> Vec<Vec<(usize, T)>> {
    let mut out: Vec<Vec<(usize, T)>> = Vec::new();
    let mut current = Vec::new();
    for (i, value) in values.iter().enumerate() {
        match value {
            Some(v) => current.push((i, *v)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// How many x labels fit without overlapping, estimated from the longest label
/// (about 7 units per character at the font size used), capped at `MAX_X_LABELS`.
fn max_x_labels(labels: &[&str]) -> usize {
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let per_label = longest * 7 + 14;
    let plot_width = CHART_SIZE.0 as usize - 100;
    (plot_width / per_label).clamp(2, MAX_X_LABELS)
}

/// The label of the bucket at x position `x`; key points are whole indices.
fn label_at(labels: &[&str], x: f64) -> String {
    let index = x.round();
    if index < 0.0 {
        return String::new();
    }
    labels
        .get(index as usize)
        .map(|l| (*l).to_string())
        .unwrap_or_default()
}

/// Tick labels without float noise: "50", "-100", "2.5".
fn format_number(v: f64) -> String {
    let rounded = (v * 100.0).round() / 100.0;
    if rounded == 0.0 {
        // Avoid "-0".
        "0".to_string()
    } else {
        format!("{rounded}")
    }
}

fn text_style() -> TextStyle<'static> {
    ("sans-serif", FONT_SIZE).into_font().color(&INK)
}

/// Renders a full-width chart; see [`render_sized`].
fn render(title: &str, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> DrawResult) -> String {
    render_sized(title, size, false, draw)
}

/// Runs `draw` on an SVG backend and turns plotters' output into the final inline element.
/// Any drawing error yields the "Chart unavailable" SVG instead of a panic or a broken chart.
fn render_sized(
    title: &str,
    size: (u32, u32),
    fixed: bool,
    draw: impl FnOnce(&Area<'_>) -> DrawResult,
) -> String {
    let mut raw = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut raw, size).into_drawing_area();
        draw(&root).and_then(|()| root.present().map_err(Into::into))
    };
    if result.is_err() {
        return message_svg(title, size, UNAVAILABLE);
    }
    // Drop plotters' own `<svg …>` tag (fixed size, xmlns) and closing tag; keep the body.
    let body = match (raw.find('>'), raw.rfind("</svg>")) {
        (Some(start), Some(end)) if start < end => &raw[start + 1..end],
        _ => return message_svg(title, size, UNAVAILABLE),
    };
    wrap_svg(title, size, fixed, body.trim())
}

/// An SVG holding only the title and a centred line of text.
fn message_svg(title: &str, size: (u32, u32), message: &str) -> String {
    let body = format!(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"middle\" \
         font-family=\"sans-serif\" font-size=\"14\" fill=\"currentColor\">{}</text>",
        size.0 / 2,
        size.1 / 2,
        escape(message)
    );
    wrap_svg(title, size, false, &body)
}

/// Builds the outer `<svg>` element around `body` and applies the page-wide output rules.
fn wrap_svg(title: &str, (w, h): (u32, u32), fixed: bool, body: &str) -> String {
    let id = format!("chart-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    // Full-size charts follow the container's width (height follows from the viewBox);
    // sparklines keep their small size so table rows stay compact.
    let size = if fixed {
        format!("width=\"{w}\" height=\"{h}\"")
    } else {
        "width=\"100%\"".to_string()
    };
    let svg = format!(
        "<svg {size} viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"xMidYMid meet\" \
         role=\"img\" aria-labelledby=\"{id}\"><title id=\"{id}\">{}</title>{body}</svg>",
        escape(title)
    );
    // Plotters writes colours as attribute values, so only quoted ones are the sentinel; a
    // literal "#000000" in label text is escaped so none is left in the output.
    let svg = svg
        .replace("\"#000000\"", "\"currentColor\"")
        .replace("#000000", "&#35;000000");
    defang_http(&svg)
}

/// XML-escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            other => out.push(other),
        }
    }
    out
}

/// The page is checked for external URLs by looking for "http", so any occurrence coming from
/// titles or labels is written with a character reference for its first letter (renders the same).
/// Markup never contains "http" (the plotters `xmlns` is removed), so only text is touched.
fn defang_http(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(pos) = rest
        .as_bytes()
        .windows(4)
        .position(|w| w.eq_ignore_ascii_case(b"http"))
    {
        out.push_str(&rest[..pos]);
        out.push_str(if rest.as_bytes()[pos] == b'H' {
            "&#72;"
        } else {
            "&#104;"
        });
        // The match starts with an ASCII letter, so `pos + 1` is a char boundary.
        rest = &rest[pos + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The series colour as plotters writes it.
    const BLUE: &str = "stroke=\"#3B82F6\"";

    fn point(label: &str, score: Option<f64>, interval: Option<[f64; 2]>) -> TrendPoint<'_> {
        TrendPoint {
            label,
            score,
            interval,
        }
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("2026-W{i:02}")).collect()
    }

    /// Opaque polylines in the series colour, i.e. the line segments (not the band).
    fn series_lines(svg: &str) -> Vec<&str> {
        svg.split('<')
            .filter(|t| {
                t.starts_with("polyline") && t.contains(BLUE) && t.contains("opacity=\"1\"")
            })
            .collect()
    }

    /// The x coordinates of a polyline's points.
    fn xs(polyline: &str) -> Vec<f64> {
        let start = polyline.find("points=\"").map(|p| p + 8).unwrap_or(0);
        let points = &polyline[start..];
        let end = points.find('"').unwrap_or(points.len());
        points[..end]
            .split_whitespace()
            .filter_map(|p| p.split(',').next()?.parse().ok())
            .collect()
    }

    fn circles(svg: &str) -> usize {
        svg.matches("<circle").count()
    }

    /// The checks every chart must pass, whatever it shows.
    fn assert_well_formed(svg: &str, title_escaped: &str) {
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("viewBox=\"0 0 "));
        let id_start = svg.find("aria-labelledby=\"").expect("aria-labelledby") + 17;
        let id = &svg[id_start..id_start + svg[id_start..].find('"').expect("closing quote")];
        assert!(id.starts_with("chart-"));
        let title = format!("><title id=\"{id}\">{title_escaped}</title>");
        assert!(svg.contains(&title), "title is not the first child: {svg}");
        assert!(!svg.contains("http"));
        assert!(!svg.contains("xmlns"));
        assert!(!svg.contains("#000000"));
        assert!(!svg.contains("height=\"260\""), "fixed size kept");
    }

    #[test]
    fn trend_output_is_inline_ready() {
        let l = labels(5);
        let pts: Vec<_> = (0..5)
            .map(|i| {
                point(
                    &l[i],
                    Some(i as f64 * 10.0),
                    Some([i as f64, i as f64 * 20.0]),
                )
            })
            .collect();
        let svg = trend("NPS <weekly> & more", (-100.0, 100.0), &pts);
        assert_well_formed(&svg, "NPS &lt;weekly&gt; &amp; more");
        assert!(svg.contains("width=\"100%\""));
        assert!(svg.contains("currentColor"));
        assert!(svg.contains("<polygon"), "interval band missing");
        assert!(svg.contains("opacity=\"0.2\""), "band is not translucent");
        assert_eq!(series_lines(&svg).len(), 1);
        assert_eq!(circles(&svg), 5);
    }

    #[test]
    fn ids_are_unique() {
        let a = sparkline("a", (0.0, 1.0), &[Some(0.5)]);
        let b = sparkline("a", (0.0, 1.0), &[Some(0.5)]);
        assert_ne!(a, b);
    }

    #[test]
    fn trend_gap_splits_line() {
        let l = labels(12);
        let pts: Vec<_> = (0..12)
            .map(|i| point(&l[i], (i != 5).then_some(i as f64), None))
            .collect();
        let svg = trend("gap", (0.0, 20.0), &pts);
        let lines = series_lines(&svg);
        assert_eq!(lines.len(), 2, "{svg}");
        let (first, second) = (xs(lines[0]), xs(lines[1]));
        assert_eq!((first.len(), second.len()), (5, 6));
        // The segments must not overlap: the first ends before the second starts.
        let first_end = first.iter().cloned().fold(f64::MIN, f64::max);
        let second_start = second.iter().cloned().fold(f64::MAX, f64::min);
        assert!(first_end < second_start);
        assert_eq!(circles(&svg), 11);
    }

    #[test]
    fn trend_band_splits_at_missing_interval() {
        let l = labels(6);
        let pts: Vec<_> = (0..6)
            .map(|i| point(&l[i], Some(50.0), (i != 2).then_some([40.0, 60.0])))
            .collect();
        let svg = trend("band", (0.0, 100.0), &pts);
        // Runs [0,1] and [3,4,5] are polygons.
        assert_eq!(svg.matches("<polygon").count(), 2, "{svg}");
    }

    #[test]
    fn trend_single_interval_is_error_bar() {
        let l = labels(3);
        let pts = vec![
            point(&l[0], Some(50.0), None),
            point(&l[1], Some(50.0), Some([40.0, 60.0])),
            point(&l[2], Some(50.0), None),
        ];
        let svg = trend("bar", (0.0, 100.0), &pts);
        assert_eq!(svg.matches("<polygon").count(), 0);
        assert!(svg.contains("opacity=\"0.4\""), "{svg}");
    }

    #[test]
    fn trend_thins_x_labels() {
        for n in [53usize, 400] {
            let l = labels(n);
            let pts: Vec<_> = (0..n).map(|i| point(&l[i], Some(1.0), None)).collect();
            let svg = trend("many", (0.0, 10.0), &pts);
            let shown = l
                .iter()
                .filter(|label| svg.contains(&format!(">\n{label}\n<")))
                .count();
            assert!((2..=8).contains(&shown), "{n} points: {shown} labels");
            // The latest bucket is always labelled.
            assert!(svg.contains(&format!(">\n{}\n<", l[n - 1])));
        }
    }

    #[test]
    fn trend_single_point_has_marker() {
        let svg = trend(
            "one",
            (0.0, 100.0),
            &[point("2026-03-02", Some(42.0), None)],
        );
        assert_eq!(circles(&svg), 1);
        assert!(svg.contains("2026-03-02"));
        assert!(series_lines(&svg).is_empty());
    }

    #[test]
    fn trend_without_scores_says_so() {
        let pts = vec![
            point("a", None, Some([1.0, 2.0])),
            point("b", Some(f64::NAN), None),
        ];
        let svg = trend("empty", (0.0, 100.0), &pts);
        assert_well_formed(&svg, "empty");
        assert!(svg.contains(NO_DATA));
        assert!(!svg.contains("<circle"));
        assert!(trend("none", (0.0, 1.0), &[]).contains(NO_DATA));
    }

    #[test]
    fn trend_treats_non_finite_as_gap_and_clamps() {
        let pts = vec![
            point("a", Some(1.0), Some([f64::NAN, 2.0])),
            point("b", Some(2.0), None),
            point("c", Some(f64::INFINITY), None),
            point("d", Some(500.0), None),
            point("e", Some(-500.0), None),
        ];
        let svg = trend("nan", (-100.0, 100.0), &pts);
        assert_eq!(series_lines(&svg).len(), 2);
        assert_eq!(circles(&svg), 4);
        assert!(!svg.contains("<polygon"));
        // Clamped markers stay inside the viewBox.
        for c in svg.split("<circle").skip(1) {
            let cy: f64 = c
                .split("cy=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse().ok())
                .expect("cy");
            assert!((0.0..=260.0).contains(&cy), "{cy}");
        }
    }

    #[test]
    fn degenerate_ranges_do_not_break() {
        let pts = vec![point("a", Some(3.0), None), point("b", Some(3.0), None)];
        for y in [
            (5.0, 5.0),
            (f64::NAN, 1.0),
            (7.0, 1.0),
            (-f64::MAX, f64::MAX),
        ] {
            let svg = trend("range", y, &pts);
            assert_well_formed(&svg, "range");
            assert_eq!(circles(&svg), 2, "{y:?}");
            let spark = sparkline("range", y, &[Some(3.0), Some(3.0)]);
            assert_eq!(series_lines(&spark).len(), 1, "{y:?}");
        }
    }

    #[test]
    fn bars_write_every_count_and_label() {
        let data: Vec<(String, u64)> = (0..=10).map(|i| (i.to_string(), i * 3 + 1)).collect();
        let svg = bars("NPS answers", &data);
        assert_well_formed(&svg, "NPS answers");
        assert!(svg.contains("currentColor"));
        let bars_drawn = svg
            .split('<')
            .filter(|t| t.starts_with("rect") && t.contains("fill=\"#3B82F6\""))
            .count();
        assert_eq!(bars_drawn, 11);
        for (label, count) in &data {
            assert!(svg.contains(&format!(">\n{count}\n<")), "count {count}");
            assert!(svg.contains(&format!(">\n{label}\n<")), "label {label}");
        }
    }

    #[test]
    fn bars_handle_zero_and_empty() {
        let svg = bars("zeros", &[("down".into(), 0), ("up".into(), 0)]);
        assert_well_formed(&svg, "zeros");
        assert!(svg.contains(">\ndown\n<") && svg.contains(">\nup\n<"));
        let empty = bars("nothing", &[]);
        assert_well_formed(&empty, "nothing");
        assert!(empty.contains(NO_DATA));
        let huge = bars("huge", &[("a".into(), u64::MAX)]);
        assert!(huge.contains(&u64::MAX.to_string()));
    }

    #[test]
    fn sparkline_gap_gives_two_polylines() {
        let svg = sparkline(
            "spark",
            (0.0, 10.0),
            &[Some(1.0), Some(2.0), None, Some(3.0), Some(4.0)],
        );
        assert_well_formed(&svg, "spark");
        assert!(svg.contains("width=\"120\" height=\"28\" viewBox=\"0 0 120 28\""));
        assert_eq!(series_lines(&svg).len(), 2);
        assert_eq!(circles(&svg), 1, "dot on the last point");
        assert!(!svg.contains("<text"));
    }

    #[test]
    fn sparkline_nan_is_a_gap() {
        let svg = sparkline(
            "nan",
            (0.0, 10.0),
            &[Some(1.0), Some(2.0), Some(f64::NAN), Some(3.0), Some(4.0)],
        );
        assert_eq!(series_lines(&svg).len(), 2);
    }

    #[test]
    fn sparkline_all_missing_is_only_a_title() {
        let svg = sparkline("none", (0.0, 10.0), &[None, Some(f64::NAN)]);
        assert_well_formed(&svg, "none");
        assert!(svg.ends_with("none</title></svg>"), "{svg}");
        assert!(sparkline("empty", (0.0, 1.0), &[]).ends_with("</title></svg>"));
    }

    #[test]
    fn urls_and_sentinel_colour_in_text_are_neutralised() {
        let pts = vec![
            point("http://x", Some(1.0), None),
            point("#000000", Some(2.0), None),
        ];
        let svg = trend("see HTTP://example", (0.0, 10.0), &pts);
        assert!(!svg.to_ascii_lowercase().contains("http"));
        assert!(!svg.contains("#000000"));
        assert!(svg.contains("&#104;ttp://x"));
    }

    #[test]
    fn drawing_error_gives_fallback() {
        let svg = render("broken", CHART_SIZE, |_| Err("boom".into()));
        assert_well_formed(&svg, "broken");
        assert!(svg.contains(UNAVAILABLE));
    }
}
