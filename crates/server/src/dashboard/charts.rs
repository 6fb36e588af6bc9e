//! Charts drawn on the server as SVG with `plotters`. Values stay integers (minor units, basis
//! points, counts) all the way to the axis labels, which the caller formats.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

const WIDTH: u32 = 680;
const HEIGHT: u32 = 260;
/// Colours of the series, in order (the stylesheet's accent, then muted tones).
const COLOURS: [RGBColor; 3] = [
    RGBColor(0x1f, 0x6f, 0xeb),
    RGBColor(0xbf, 0x87, 0x00),
    RGBColor(0x1a, 0x7f, 0x37),
];

/// The stylesheet's muted text, its lines, and a lighter grid.
const MUTED: RGBColor = RGBColor(0x5f, 0x6b, 0x7a);
const LINE: RGBColor = RGBColor(0xd9, 0xde, 0xe5);
const GRID: RGBColor = RGBColor(0xee, 0xf1, 0xf4);

/// One line of a chart: its name and a value per period (`None`: nothing to show there, e.g.
/// a rate with no buyers).
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<Option<i64>>,
}

/// A chart inside a `figure` with its caption; the SVG carries a title for screen readers.
fn figure(id: &str, caption: &str, svg: Result<String, String>) -> Markup {
    html! {
        figure.chart id=(id) {
            @match svg {
                Ok(svg) => (PreEscaped(svg)),
                Err(e) => p.problem { "The chart could not be drawn: " (e) },
            }
            figcaption { (caption) }
        }
    }
}

/// Adds `role="img"` and an accessible title to the SVG plotters wrote.
fn titled(svg: String, title: &str) -> String {
    let escaped = html! { (title) }.into_string();
    match svg.find('>') {
        Some(end) if svg.starts_with("<svg") => format!(
            "{} role=\"img\" aria-label=\"{escaped}\"><title>{escaped}</title>{}",
            &svg[..end],
            &svg[end + 1..]
        ),
        _ => svg,
    }
}

/// A line chart over the periods: one line per series, the periods' labels on the x axis. The
/// y axis reaches at least `least_top` (100 % for a rate), so small values look small.
pub fn lines(
    id: &str,
    caption: &str,
    periods: &[String],
    series: &[Series<'_>],
    label: &dyn Fn(i64) -> String,
    least_top: i64,
) -> Markup {
    figure(
        id,
        caption,
        draw_lines(caption, periods, series, label, least_top),
    )
}

fn draw_lines(
    caption: &str,
    periods: &[String],
    series: &[Series<'_>],
    label: &dyn Fn(i64) -> String,
    least_top: i64,
) -> Result<String, String> {
    let n = periods.len().max(1) as i32;
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    // Room above the highest point, unless the axis already reaches further.
    let top = if top >= least_top {
        top + top / 10
    } else {
        least_top
    };
    let bottom = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .copied()
        .min()
        .unwrap_or(0)
        .min(0);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(84)
            .build_cartesian_2d(0..(n - 1).max(1), bottom..top)
            .map_err(|e| e.to_string())?;
        let period_label = |i: &i32| {
            usize::try_from(*i)
                .ok()
                .and_then(|i| periods.get(i))
                .cloned()
                .unwrap_or_default()
        };
        let value_label = |v: &i64| label(*v);
        chart
            .configure_mesh()
            .x_labels(periods.len().clamp(2, 8))
            .x_label_formatter(&period_label)
            .y_labels(5)
            .y_label_formatter(&value_label)
            .light_line_style(GRID)
            .bold_line_style(LINE)
            .axis_style(MUTED)
            .label_style(("sans-serif", 12).into_font().color(&MUTED))
            .draw()
            .map_err(|e| e.to_string())?;
        for (s, colour) in series.iter().zip(COLOURS.iter().cycle()) {
            let points: Vec<(i32, i64)> = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| Some((i32::try_from(i).ok()?, (*v)?)))
                .collect();
            let style = ShapeStyle::from(colour).stroke_width(2);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), style))
                .map_err(|e| e.to_string())?
                .label(s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new(*p, 3, ShapeStyle::from(colour).filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.9))
                .border_style(LINE)
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(titled(svg, caption))
}

/// A bar per category (a distribution): the categories' names under their bars.
pub fn bars(id: &str, caption: &str, bars: &[(String, i64)]) -> Markup {
    figure(id, caption, draw_bars(caption, bars))
}

fn draw_bars(caption: &str, bars: &[(String, i64)]) -> Result<String, String> {
    // A segmented range `0..k` has k + 1 slots.
    let last = i32::try_from(bars.len().saturating_sub(1).max(1)).map_err(|e| e.to_string())?;
    let top = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d((0..last).into_segmented(), 0..top + top / 10 + 1)
            .map_err(|e| e.to_string())?;
        let name = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(i) => usize::try_from(*i)
                .ok()
                .and_then(|i| bars.get(i))
                .map(|(name, _)| name.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(bars.len().max(1))
            .x_label_formatter(&name)
            .y_labels(5)
            .light_line_style(GRID)
            .bold_line_style(LINE)
            .axis_style(MUTED)
            .label_style(("sans-serif", 12).into_font().color(&MUTED))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(COLOURS[0].filled())
                    .margin(14)
                    .data(
                        bars.iter()
                            .enumerate()
                            .filter_map(|(i, (_, v))| Some((i32::try_from(i).ok()?, *v))),
                    ),
            )
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(titled(svg, caption))
}
