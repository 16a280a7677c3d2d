//! The soak's SVG: one panel per sampled resource over time, each with the end of the warm-up and the line
//! fitted to the steady part.

use super::SoakReport;
use super::sampler::Sample;
use anyhow::anyhow;
use plotters::prelude::*;
use std::path::Path;

/// One panel: its title (the name of its series' verdict), unit, and the series drawn in it.
type Panel = (&'static str, &'static str, Vec<(&'static str, fn(&Sample) -> Option<f64>)>);

/// Draws `soak` to an SVG file at `path`.
pub fn write_svg(soak: &SoakReport, path: &Path) -> anyhow::Result<()> {
    let panels: Vec<Panel> = vec![
        ("server RSS", "MiB", vec![("RSS", |s| s.rss_mib)]),
        ("open file descriptors", "fds", vec![("fds", |s| s.fds)]),
        ("tokio alive tasks", "tasks", vec![("tasks", |s| s.tasks)]),
        ("pool connections in use", "conns", vec![("in use", |s| s.pool_in_use), ("idle", |s| s.pool_idle)]),
    ];
    let root = SVGBackend::new(path, (960, 300 * panels.len() as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let x_max = soak.samples.iter().map(|s| s.t).fold(0.0, f64::max).max(1.0);
    let areas = root.split_evenly((panels.len(), 1));
    for ((title, unit, lines), area) in panels.into_iter().zip(areas) {
        let values = |get: fn(&Sample) -> Option<f64>| soak.samples.iter().filter_map(move |s| Some((s.t, get(s)?)));
        let y_max = lines.iter().flat_map(|(_, get)| values(*get).map(|p| p.1)).fold(0.0, f64::max).max(1.0) * 1.15;
        let verdict = soak.verdicts.iter().find(|v| v.name == title);
        let caption = match verdict {
            Some(v) if !v.inconclusive => format!(
                "{title}: {} (slope {:+.2} {unit}/h, allowed {:.1} {unit} over the run)",
                if v.growing { "KEEPS GROWING" } else { "steady" },
                v.slope_per_hour,
                v.allowed
            ),
            _ => title.to_owned(),
        };
        let mut chart = ChartBuilder::on(&area)
            .caption(caption, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(plot_error)?;
        chart.configure_mesh().x_desc("seconds").y_desc(unit).draw().map_err(plot_error)?;
        for (i, (name, get)) in lines.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(values(*get), color.stroke_width(1)))
                .map_err(plot_error)?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        let warm = soak.warmup_secs.min(x_max);
        chart
            .draw_series(LineSeries::new([(warm, 0.0), (warm, y_max)], BLACK.mix(0.4).stroke_width(1)))
            .map_err(plot_error)?
            .label("end of warm-up")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4).stroke_width(1)));
        if let Some(v) = verdict.filter(|v| !v.inconclusive) {
            let [a, b] = v.fit;
            chart
                .draw_series(LineSeries::new([(a[0], a[1]), (b[0], b[1])], RED.stroke_width(2)))
                .map_err(plot_error)?
                .label("least-squares fit")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}

fn plot_error(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the soak SVG: {e}")
}
