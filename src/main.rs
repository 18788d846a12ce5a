//! The `tickpipe` binary: parses arguments, loads configuration, calls the library.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tickpipe::config::Config;
use tickpipe::feed::replay::{Input, Pacing};
use tickpipe::feed::sample::{SampleSpec, generate};
use tickpipe::inspect::inspect;
use tickpipe::runtime::pipeline::{Pipeline, PipelineSpec};
use tickpipe::runtime::topology::Topology;
use tickpipe::sys::mmap::MappedFile;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tickpipe",
    version,
    about = "Tick-to-trade engine: ITCH 5.0 in, orders out, five stages joined by SPSC rings.",
    long_about = "Tick-to-trade engine: ITCH 5.0 market data in, orders out. Five single-threaded stages \
(decode, features, inference, risk, routing) run per shard, fused on one thread or joined by \
lock-free rings as a topology file says, against a simulated exchange in event time.\n\n\
Paths are relative to the working directory; run from the repository root."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay market data through the whole pipeline and print a report.
    ///
    /// With no options, replays the bundled sample session (generated in memory,
    /// deterministic) through pipelines/fused.toml with config/tickpipe.toml.
    /// Exit status: 0 on success, 1 if any runner failed (the report says which stage
    /// and why), 2 on bad arguments or configuration.
    Run(RunArgs),
    /// Write the bundled sample session (or a variant) to an ITCH 5.0 file.
    Generate(GenerateArgs),
    /// Summarise an ITCH 5.0 file: message counts by type, each symbol's final best bid
    /// and ask and trading state, and anything malformed.
    ///
    /// Every symbol with a stock directory (R) entry in the file is covered, not only the
    /// configured ones; books are rebuilt from the order messages as the pipeline builds
    /// them. The best bid and ask are a price (four decimal places) and the aggregate
    /// shares at it; the state is the character of the symbol's last ITCH H message (T
    /// trading, H halted, P paused, Q quotation only).
    ///
    /// Malformed or inconsistent input (truncations, zero or wrong lengths, unknown types,
    /// unreadable codes, unknown locates or order references, ...) is counted by kind and
    /// reported on stderr as `FILE: offset N: CODE: type 'A': detail` for the first few of
    /// each kind; inspection goes on wherever the framing still lines up. Exit status: 0
    /// if the file is clean, 1 if any problem was found (the summary still prints), 2 if
    /// the file cannot be read.
    Inspect(InspectArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Topology: which stages run on which runner and core, rings, idle strategies.
    #[arg(long, value_name = "FILE", default_value = "pipelines/fused.toml")]
    pipeline: PathBuf,
    /// Number of shards (overrides the topology's [shards] count).
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// ITCH 5.0 file to replay, each message preceded by a 2-byte big-endian length
    /// (NASDAQ's format). Without it, the bundled sample session is replayed.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Replay open loop at this many messages per second (each message stamped with
    /// its intended send time, so queueing shows as latency); default: as fast as the
    /// pipeline takes it.
    #[arg(long, value_name = "MSGS_PER_SEC", value_parser = positive_rate)]
    rate: Option<f64>,
    /// Engine configuration: symbols, features, model, risk limits, execution, venue.
    #[arg(long, value_name = "FILE", default_value = "config/tickpipe.toml")]
    config: PathBuf,
    /// Also write the report as JSON to FILE (keys documented in the README).
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// Do not print progress to stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Where to write the session.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Approximate number of messages.
    #[arg(long, value_name = "N", default_value_t = SampleSpec::default_session().messages)]
    messages: u64,
    /// Random seed; the same seed and count give the same bytes.
    #[arg(long, value_name = "SEED", default_value_t = SampleSpec::default_session().seed)]
    seed: u64,
}

#[derive(clap::Args)]
struct InspectArgs {
    /// ITCH 5.0 file, each message preceded by a 2-byte big-endian length (NASDAQ's
    /// format, as `tickpipe generate` writes).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Print one JSON object instead of text: {"messages": N, "by_type": {"A": n, ...},
    /// "symbols": {"SYM": {"bid": ["101.2500", 300] | null, "ask": ... | null,
    /// "state": "T" | null}}}. Problems still go to stderr.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Generate(args) => generate_file(args).map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => inspect_file(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let (config, universe) = Config::load(&args.config)?;
    let cores: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let topology = Topology::load(&args.pipeline, args.shards, &universe, &cores)?;
    let input = match args.input {
        Some(path) => Input::File(path),
        None => Input::Sample(SampleSpec::default_session()),
    };
    if !args.quiet {
        eprintln!(
            "tickpipe: {} on {} ({} shard(s))",
            input.describe(),
            args.pipeline.display(),
            topology.shards
        );
    }
    let pacing = match args.rate {
        Some(messages_per_sec) => Pacing::Rate { messages_per_sec },
        None => Pacing::AsFastAsPossible,
    };
    let spec = PipelineSpec {
        topology,
        config,
        universe: Arc::new(universe),
        input,
        pacing,
    };
    let pipeline = Pipeline::start(spec)?;
    let stop = pipeline.stop_signal();
    ctrlc::set_handler(move || stop.request_stop())
        .context("installing the SIGINT/SIGTERM handler")?;

    let started = Instant::now();
    let progress = !args.quiet && std::io::stderr().is_terminal();
    pipeline.wait(
        Duration::from_millis(if progress { 250 } else { 50 }),
        |p| {
            if progress {
                let done = p.progress();
                let secs = started.elapsed().as_secs_f64();
                eprint!(
                    "\r  {:>12} messages framed  {:>8.2} M msgs/s ",
                    done,
                    done as f64 / secs / 1e6
                );
                let _ = std::io::stderr().flush();
            }
        },
    );
    if progress {
        eprintln!();
    }
    let report = pipeline.join();
    print!("{}", report.to_text());
    if let Some(path) = &args.report_json {
        write_json(path, &report.to_json())?;
    }
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn inspect_file(args: InspectArgs) -> Result<ExitCode> {
    let path = &args.file;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    // An empty file holds no messages; mmap refuses a zero length, so it is not mapped.
    let mapped = if len == 0 {
        None
    } else {
        Some(MappedFile::map(&file).with_context(|| format!("mapping {}", path.display()))?)
    };
    let inspection = inspect(mapped.as_ref().map_or(&[], MappedFile::bytes));
    let text = if args.json {
        serde_json::to_string_pretty(&inspection.to_json())
            .expect("an inspection always serialises")
            + "\n"
    } else {
        inspection.to_text()
    };
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(e).context("writing to stdout");
        }
        _ => {}
    }
    eprint!("{}", inspection.problems_text(&path.display().to_string()));
    Ok(if inspection.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of messages per second"
        )),
    }
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("a report always serialises");
    std::fs::write(path, text + "\n")
        .with_context(|| format!("writing the JSON report to {}", path.display()))
}

fn generate_file(args: GenerateArgs) -> Result<()> {
    let spec = SampleSpec {
        messages: args.messages,
        seed: args.seed,
        ..SampleSpec::default_session()
    };
    let bytes = generate(&spec);
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} bytes): {}",
        args.out.display(),
        bytes.len(),
        Input::Sample(spec).describe()
    );
    Ok(())
}
