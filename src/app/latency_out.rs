//! `run --latency-out DIR`: the run's latency histograms as HdrHistogram interval logs
//! (`STAGE.hlog`, `tick_to_order.hlog`: what HistogramLogAnalyzer and HdrHistogram's
//! plotter read) and one percentile-distribution plot of them all (`latency.svg`). The
//! benches write theirs with the same two functions.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::latency::SERVICE_SAMPLE_EVERY;
use crate::runtime::report::RunReport;

/// Why the latency output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LatencyOutError {
    #[error("--latency-out {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--latency-out {}: {message}", .path.display())]
    Encode { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LatencyOutError + '_ {
    move |source| LatencyOutError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn encode(path: &Path) -> impl FnOnce(String) -> LatencyOutError + '_ {
    move |message| LatencyOutError::Encode {
        path: path.to_path_buf(),
        message,
    }
}

/// Creates `dir` if it is missing and checks it takes files: called before the run, so
/// a bad directory is an error before any replay.
pub fn prepare(dir: &Path) -> Result<(), LatencyOutError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let probe = dir.join(".tickpipe-latency-out");
    fs::write(&probe, b"").map_err(io(&probe))?;
    fs::remove_file(&probe).map_err(io(&probe))
}

/// The histograms `--latency-out` writes, in pipeline order: time since receipt at
/// each stage (`STAGE`), each stage's service time (`STAGE.service`), then
/// tick-to-order.
pub fn histograms(report: &RunReport) -> Vec<(String, &Histogram<u64>)> {
    let mut all: Vec<_> = report
        .stage_latency
        .iter()
        .map(|(stage, h)| (stage.to_string(), h))
        .chain(
            report
                .stage_service
                .iter()
                .map(|(stage, h)| (format!("{stage}.service"), h)),
        )
        .collect();
    all.push((
        "tick_to_order".to_string(),
        &report.shard.routing.tick_to_order,
    ));
    all
}

/// Writes one `.hlog` per histogram and `latency.svg` into `dir`; returns the paths.
pub fn write(dir: &Path, report: &RunReport) -> Result<Vec<PathBuf>, LatencyOutError> {
    let histograms = histograms(report);
    let mut written = Vec::new();
    for (name, h) in &histograms {
        let path = dir.join(format!("{name}.hlog"));
        let clock = match name.as_str() {
            "tick_to_order" => "receipt to the order's hand-off".to_string(),
            n if n.ends_with(".service") => format!(
                "service time (the stage's work alone), sampled: 1 event in {SERVICE_SAMPLE_EVERY}"
            ),
            _ => "time since receipt".to_string(),
        };
        let comment = format!("tickpipe run: {name}, {clock}; values in nanoseconds");
        write_hlog(&path, &comment, report.elapsed, &[(name.as_str(), h)])?;
        written.push(path);
    }
    let path = dir.join("latency.svg");
    let series: Vec<_> = histograms.iter().map(|(n, h)| (n.as_str(), *h)).collect();
    let title = format!("{} on {}", report.meta.input, report.meta.topology);
    plot_percentiles(&path, &title, &series)?;
    written.push(path);
    Ok(written)
}

/// Writes `histograms` (tag, histogram) as one HDR interval log at `path`, each an
/// interval spanning `span` from the log's start.
pub fn write_hlog(
    path: &Path,
    comment: &str,
    span: Duration,
    histograms: &[(&str, &Histogram<u64>)],
) -> Result<(), LatencyOutError> {
    let mut file = fs::File::create(path).map_err(io(path))?;
    let mut serializer = V2DeflateSerializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment(comment)
        .with_start_time(SystemTime::now())
        .begin_log_with(&mut file, &mut serializer)
        .map_err(io(path))?;
    for (tag, h) in histograms {
        let tag = Tag::new(tag).ok_or_else(|| {
            encode(path)(format!("{tag:?} cannot be a tag (no spaces or commas)"))
        })?;
        log.write_histogram(*h, Duration::ZERO, span, Some(tag))
            .map_err(|e| encode(path)(format!("{e:?}")))?;
    }
    Ok(())
}

/// Plots latency against percentile (the x axis stretched toward the tail, as
/// HdrHistogram's plots are) for each series, as an SVG at `path`.
pub fn plot_percentiles(
    path: &Path,
    title: &str,
    series: &[(&str, &Histogram<u64>)],
) -> Result<(), LatencyOutError> {
    use plotters::prelude::*;
    let fail = |e: &dyn std::fmt::Display| encode(path)(e.to_string());
    // x = log10(1 / (1 - q)): 0 at p0, 1 at p90, 2 at p99, 3 at p99.9, 4 at p99.99.
    let points = |h: &Histogram<u64>| -> Vec<(f64, f64)> {
        (0..=400)
            .map(|i| {
                let x = f64::from(i) / 100.0;
                let q = 1.0 - 10f64.powf(-x);
                (x, h.value_at_quantile(q).max(1) as f64)
            })
            .collect()
    };
    let y_max = series
        .iter()
        .map(|(_, h)| h.value_at_quantile(0.9999).max(1))
        .max()
        .unwrap_or(1) as f64
        * 2.0;
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..4f64, (1f64..y_max).log_scale())
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ns)")
        // One label per decade of the tail: plotters' default spacing also puts labels
        // between the decades, which have no round percentile.
        .x_labels(5)
        .x_label_formatter(&|x| match (x * 2.0).round() as i64 {
            0 => "0%".into(),
            2 => "90%".into(),
            4 => "99%".into(),
            6 => "99.9%".into(),
            8 => "99.99%".into(),
            _ => String::new(),
        })
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, (label, h)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(points(h), color.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        // The curves rise to the right, so the upper left is where they are not.
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
