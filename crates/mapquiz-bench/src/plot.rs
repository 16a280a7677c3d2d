//! The SVG drawing of a summary: the latency percentile spectrum of each series and, when the server was
//! watched, its RSS over the run.

use crate::summary::Summary;
use anyhow::anyhow;
use plotters::prelude::*;
use std::path::Path;

/// Where the maximum is drawn on the spectrum's x axis, just right of 99.99 % (x = 4).
const MAX_X: f64 = 4.3;

/// Draws `summary` to an SVG file at `path`.
pub fn write_svg(summary: &Summary, path: &Path) -> anyhow::Result<()> {
    let rss = summary.server.as_ref().filter(|s| !s.rss_samples.is_empty());
    let height = if rss.is_some() { 900 } else { 480 };
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let (top, bottom) = if rss.is_some() { root.split_vertically(480) } else { (root.clone(), root.clone()) };

    let y_max = summary.series.iter().map(|s| s.max_ms).fold(0.0, f64::max).max(0.001) * 1.05;
    // The x axis is log10(1/(1-q)): each further "9" of the percentile gets the same width, so the tail is
    // readable next to the median.
    let mut chart = ChartBuilder::on(&top)
        .caption(
            format!(
                "{}: latency by percentile ({} {}, {:.0}/s)",
                summary.scenario, summary.count, summary.unit, summary.rate_per_sec
            ),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..MAX_X, 0f64..y_max)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(6)
        .x_label_formatter(&|v| percentile_label(*v))
        .draw()
        .map_err(plot_error)?;
    for (i, s) in summary.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = s.spectrum.iter().map(|[p, ms]| (spectrum_x(*p), *ms));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(plot_error)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if !summary.series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
    }

    if let Some(server) = rss {
        let mib = |bytes: f64| bytes / 1024.0 / 1024.0;
        let x_max = server.rss_samples.iter().map(|s| s[0]).fold(0.0, f64::max).max(0.001);
        let y_max = mib(server.rss_samples.iter().map(|s| s[1]).fold(0.0, f64::max)).max(0.001) * 1.1;
        let mut chart = ChartBuilder::on(&bottom)
            .caption(format!("server RSS (pid {})", server.pid), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(plot_error)?;
        chart.configure_mesh().x_desc("seconds").y_desc("RSS (MiB)").draw().map_err(plot_error)?;
        let points = server.rss_samples.iter().map(|[t, b]| (*t, mib(*b)));
        chart.draw_series(LineSeries::new(points, BLUE.stroke_width(2))).map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

/// The x position of a percentile: log10(1/(1-q)), the maximum (100 %) just beyond 99.99 %.
fn spectrum_x(percentile: f64) -> f64 {
    let rest = 1.0 - percentile / 100.0;
    if rest <= 1e-4 { if rest <= 0.0 { MAX_X } else { 4.0 } } else { -rest.log10() }
}

/// The label of an x position: `50%`, `99.9%`, `max`.
fn percentile_label(x: f64) -> String {
    if x > 4.1 {
        return "max".into();
    }
    let p = format!("{:.2}", 100.0 * (1.0 - 10f64.powf(-x)));
    format!("{}%", p.trim_end_matches('0').trim_end_matches('.'))
}

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the SVG: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(percentile_label(2f64.log10()), "50%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(MAX_X), "max");
        assert!((spectrum_x(99.0) - 2.0).abs() < 1e-9);
        assert_eq!(spectrum_x(100.0), MAX_X);
    }
}
