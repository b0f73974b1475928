//! The SVG trend chart of one phase (plotters, SVG backend only): one line per service (its
//! completed runs over time), the DD-TEST-002 target as a red horizontal line, and a ring on the
//! current run of every series that regressed.

use plotters::prelude::*;

use super::analysis::{ChartData, ChartLine};
use super::stats::Verdict;

/// Colours of the service lines (the target is [`TARGET_COLOUR`], never one of these).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
    RGBColor(0x39, 0x3b, 0x79),
];
/// The target line.
pub(crate) const TARGET_COLOUR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const SIZE: (u32, u32) = (960, 440);
const DAY: f64 = 86_400.0;

/// The file name of a phase's chart (`charts/<phase>.svg`, the name made file-safe).
pub(crate) fn file_name(phase: &str) -> String {
    let safe: String = phase
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("charts/{safe}.svg")
}

/// The SVG text of one phase's chart.
pub(crate) fn render(chart: &ChartData) -> Result<String, String> {
    let mut svg = String::new();
    draw(chart, &mut svg).map_err(|error| format!("chart of {}: {error}", chart.phase))?;
    Ok(svg)
}

fn date(seconds: f64) -> String {
    chrono::DateTime::from_timestamp(seconds as i64, 0)
        .map(|time| time.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn draw(chart: &ChartData, svg: &mut String) -> Result<(), Box<dyn std::error::Error>> {
    let lines: Vec<&ChartLine> = chart.lines.iter().filter(|line| !line.points.is_empty()).collect();
    let (mut first, mut last) = lines
        .iter()
        .flat_map(|line| line.points.iter().map(|point| point.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)));
    if !first.is_finite() {
        (first, last) = (0.0, DAY);
    }
    if last - first < DAY {
        last = first + DAY;
    }
    let mut targets: Vec<f64> = chart.lines.iter().filter_map(|line| line.target).collect();
    targets.sort_by(f64::total_cmp);
    targets.dedup();
    let top = lines
        .iter()
        .flat_map(|line| line.points.iter().map(|point| point.1))
        .chain(targets.iter().copied())
        .fold(1.0_f64, f64::max)
        * 1.1;
    let root = SVGBackend::with_string(svg, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut plot = ChartBuilder::on(&root)
        .caption(
            format!("{}: seconds per run", chart.phase),
            ("sans-serif", 20).into_font(),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(first..last, 0.0..top)?;
    plot.configure_mesh()
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|x| date(*x))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("seconds")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (index, line) in lines.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        plot.draw_series(LineSeries::new(line.points.iter().copied(), colour.stroke_width(2)))?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        if line.status == Verdict::Regression
            && let Some(&current) = line.points.last()
        {
            plot.draw_series(std::iter::once(Circle::new(current, 6, TARGET_COLOUR.stroke_width(2))))?;
        }
    }
    for target in targets {
        plot.draw_series(LineSeries::new(
            [(first, target), (last, target)],
            TARGET_COLOUR.stroke_width(2),
        ))?
        .label(format!("target {target:.0} s"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], TARGET_COLOUR.stroke_width(2)));
    }
    plot.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests;
