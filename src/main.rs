//! The `tickpipe` binary: parses arguments, loads configuration, calls the library.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tickpipe::app::ctl;
use tickpipe::app::export::{self, Labeller, Recording};
use tickpipe::app::logging::{self, LogFormat};
use tickpipe::app::metrics::MetricsServer;
use tickpipe::app::model::eval;
use tickpipe::app::progress::Progress;
use tickpipe::app::report::{self as render, ReportFile};
use tickpipe::app::verify;
use tickpipe::app::{check_config, ibkr, inspect, latency_out};
use tickpipe::codec::mold::Session;
use tickpipe::runtime::builder::Engine;
use tickpipe::runtime::config::{Config, decision_identity};
use tickpipe::runtime::control::ControlServer;
use tickpipe::runtime::journal::store as journal_store;
use tickpipe::runtime::journal::{JournalMeta, LogFactory};
use tickpipe::runtime::topology::{self, Topology};
use tickpipe::source::live::{CAPTURE_FILE, LiveConfig};
use tickpipe::source::replay::{IbInput, Input, Pacing};
use tickpipe::stages::inference::builtin::BuiltIn;
use tickpipe::stages::inference::onnx::EngineKind;
use tickpipe::sys::StopSignal;
use tickpipe::tools::sample::{MAX_MESSAGES, SampleSpec, generate};
use tickpipe::tools::server::{DropPolicy, FeedServer, SendRate, ServerConfig};

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
    /// deterministic) through pipelines/fused-inline.toml with config/tickpipe.toml.
    /// Exit status: 0 on success, 1 if any runner failed (the report says which stage
    /// and why), 2 on bad arguments or configuration (checked before the run starts,
    /// --report-json's directory included), 3 if the report could not be written (a
    /// full disk: stdout or --report-json). A reader that closes stdout early (`| head`)
    /// is not an error: the rest of the text report is dropped quietly.
    Run(RunArgs),
    /// Write the bundled sample session (or a variant) to an ITCH 5.0 file.
    Generate(GenerateArgs),
    /// Play an ITCH 5.0 file (or the sample session) as a MoldUDP64 feed over UDP.
    ///
    /// Packs the messages, numbered from 1, into MoldUDP64 packets and sends them to
    /// --dest (a unicast address, or a multicast group with --multicast-interface) at
    /// the chosen rate, open loop. Answers re-requests on --request-listen from the last
    /// --retransmit-window messages sent, sends a heartbeat whenever the feed has been
    /// idle for --heartbeat-ms, and at the end sends end of session, repeating it while
    /// it lingers for late re-requests. It can drop message packets on purpose, to test
    /// a receiver's recovery; re-request answers are never dropped. Point
    /// `tickpipe run --live FILE` at it (config/live-loopback.toml matches the
    /// defaults below). Exit status: 0 when the whole session was played, 1 when any
    /// datagram could not be sent, 2 on bad arguments or a socket that cannot be opened,
    /// 3 when the statistics could not be written to stdout.
    FeedServer(FeedServerArgs),
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
    /// the file cannot be read or is empty, 3 if the summary could not be written to
    /// stdout (a full disk; a reader that closes the pipe early is not an error).
    Inspect(InspectArgs),
    /// ONNX models: check one before trading it.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Replay market data and write one CSV row per feature view, labelled with the mid
    /// price --horizon-ms later, for training a policy (scripts/train_policy.py).
    ///
    /// Columns: symbol, ts_event_ns, every feature, mid (empty when the book is
    /// one-sided), mid_later (the mid in effect --horizon-ms later; empty when the session
    /// ends first). The last line is `# digest HEX`, the run's decision digest. The run is
    /// `tickpipe run`'s, one shard, with the configured model deciding.
    ExportFeatures(ExportArgs),
    /// Validate a configuration and a topology as `run` would at start (the topology
    /// against this host's cores) and print the settings in effect.
    ///
    /// Exit status: 0 when both are valid; 2 with every problem found, each naming its
    /// file and key (or core).
    CheckConfig(CheckConfigArgs),
    /// Work with a write-ahead journal directory.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Operate a running engine through its control socket (`run --control PATH`).
    ///
    /// `halt` latches trading halted and every shard pulls its open orders (only
    /// `resume` lifts it); `reduce-only` lets orders only reduce positions (it never
    /// lowers a halt); `resume` sets trading active; `status` prints the trading state
    /// and why, each shard's health, positions, P&L, NLV and the breakers, and with a
    /// coordinator its degradation level and next scheduled tasks; `level` and
    /// `schedule add` instruct the coordinator. Exit status: 0 answered, 1 the engine
    /// refused the request, 2 no engine answered at PATH.
    Ctl(CtlArgs),
    /// Interactive Brokers (TWS or IB Gateway): check the connection before trading.
    #[command(subcommand)]
    Ibkr(IbkrCommand),
}

#[derive(Subcommand)]
enum IbkrCommand {
    /// Connect to IB Gateway (or TWS) as the config's [venue] says and print the server
    /// version, the managed accounts, each configured contract as IB knows it, the
    /// account's positions and the open orders. Places nothing.
    ///
    /// Exit status: 0 when connected and IB knows every configured contract; 1 when the
    /// connection, the account check or a contract fails (the reason on stderr or beside
    /// the contract); 2 for an invalid config, or a build without the `ibkr` feature; 3
    /// when stdout cannot be written.
    Check(IbkrCheckArgs),
}

#[derive(clap::Args)]
struct IbkrCheckArgs {
    /// Engine configuration with [venue] kind = "ibkr".
    #[arg(long, value_name = "FILE", default_value = "config/ibkr-paper.toml")]
    config: PathBuf,
    /// Allow a live account (one whose id does not start DU). Without it, a live
    /// account is refused.
    #[arg(long)]
    live_account: bool,
}

#[derive(clap::Args)]
struct CtlArgs {
    /// The engine's control socket.
    #[arg(long, value_name = "PATH")]
    socket: PathBuf,
    #[command(subcommand)]
    request: CtlRequest,
}

#[derive(Subcommand)]
enum CtlRequest {
    /// Halt trading (latched) and pull every open order.
    Halt,
    /// Only orders that reduce a position.
    ReduceOnly,
    /// Trading active again.
    Resume,
    /// The engine's state.
    Status {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Clear a symbol's repeated-execution latch (journaled).
    Reenable {
        /// A ticker of symbols.tickers.
        symbol: String,
    },
    /// Trading active again and every symbol's latch cleared (journaled).
    ResumeAll,
    /// Set every shard's degradation level (the floor its health task keeps):
    /// normal, reduced, limited or emergency. Needs `[coordinator]`.
    Level { name: String },
    /// Scheduled orders (DCA/TWAP) worked by the coordinator.
    #[command(subcommand)]
    Schedule(CtlSchedule),
}

#[derive(Subcommand)]
enum CtlSchedule {
    /// A parent order: QUANTITY shares of SYMBOL in SLICES equal slices, one every
    /// INTERVAL_NS from START_NS (event time, ns since midnight), each limited at the
    /// near touch moved OFFSET (dollars) toward the far side. Every slice passes risk.
    Add {
        symbol: String,
        /// buy or sell
        side: String,
        quantity: String,
        slices: String,
        start_ns: String,
        interval_ns: String,
        offset: String,
    },
}

#[derive(Subcommand)]
enum JournalCommand {
    /// Check every record's CRC and sequence number and summarise the session: the
    /// header, per shard the orders, cancels, mass cancels, reports by kind, state
    /// changes, last sequence number, highest client order id, whether it finished, and
    /// any torn tail (reported, not repaired). The text lists each shard's last
    /// --records records. Exit status: 0 on a valid journal (a torn tail included), 1 on
    /// a damaged one (the error names the segment file and byte offset), 2 on bad
    /// arguments or a directory that holds no journal.
    Inspect(JournalInspectArgs),
    /// Re-derive every decision of a journaled session (the audit replay): the same
    /// stages over the same input and config, each decision checked against the journal.
    /// Prints the first divergence (shard, record, both values, input position) or
    /// "verified N records, session finished/unfinished", and checks that no client
    /// order id was journaled twice. Writes and sends nothing. Exit status: 0 verified,
    /// 1 a divergence, a damaged journal or one of another config or input, 2 bad
    /// arguments or unreadable files.
    Verify(JournalVerifyArgs),
}

#[derive(clap::Args)]
struct JournalVerifyArgs {
    /// The journal directory.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// The session's input: the ITCH 5.0 file it replayed.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The session's engine configuration.
    #[arg(long, value_name = "FILE", default_value = "config/tickpipe.toml")]
    config: PathBuf,
    /// Topology to replay on (the shard count is the journal's; decisions never depend
    /// on the topology).
    #[arg(long, value_name = "FILE", default_value = "pipelines/fused.toml")]
    pipeline: PathBuf,
}

#[derive(clap::Args)]
struct JournalInspectArgs {
    /// The journal directory.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Print one JSON object instead of text (keys in README.md); no records listed.
    #[arg(long)]
    json: bool,
    /// How many of each shard's last records the text lists: a number, or `all`.
    #[arg(long, value_name = "N|all", default_value = "20", value_parser = record_count)]
    records: RecordCount,
}

#[derive(clap::Args)]
struct CheckConfigArgs {
    /// Engine configuration to check.
    #[arg(long, value_name = "FILE", default_value = "config/tickpipe.toml")]
    config: PathBuf,
    /// Topology to check against the configuration's symbols and this host's cores.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "pipelines/fused-inline.toml"
    )]
    pipeline: PathBuf,
    /// Number of shards to check the topology with (overrides its [shards] count).
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Run MODEL.onnx on raw observations and print every output tensor, per row, and
    /// which engine ran. Exit status: 0, or 2 for an unreadable model or input.
    Eval(EvalArgs),
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The ONNX model.
    #[arg(value_name = "MODEL.onnx")]
    model: PathBuf,
    /// Observations: little-endian f32, one row per model input width.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// The engine; default native when every output is an MLP chain, else tract (when
    /// built with the `tract` feature).
    #[arg(long, value_parser = ["native", "tract"])]
    engine: Option<String>,
    /// Print {"engine": ..., "why": ..., "outputs": {NAME: [[...], ...]}, "skipped": {NAME: WHY}}.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// ITCH 5.0 file to replay. Without it, the bundled sample session.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Where to write the CSV.
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
    /// The label's horizon: the mid this many milliseconds of event time after each view
    /// (1 to 86 400 000).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    horizon_ms: u64,
    /// Engine configuration, as for `run`.
    #[arg(long, value_name = "FILE", default_value = "config/tickpipe.toml")]
    config: PathBuf,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Topology: which stages run on which runner and core, rings, idle strategies.
    // fused-inline: at 1 M msgs/s risk's p99 service time was 250–320 ns inline against
    // 21–38 µs with the venue on its own thread, where decisions waited for it
    // (BENCHMARKS.md, "2026-12-04, evening"); the decisions are the same.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "pipelines/fused-inline.toml"
    )]
    pipeline: PathBuf,
    /// Number of shards (overrides the topology's [shards] count): 1 to the number of
    /// configured symbols.
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// ITCH 5.0 file to replay, each message preceded by a 2-byte big-endian length
    /// (NASDAQ's format). Without it, the bundled sample session is replayed.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Take the market data live, as MoldUDP64 over UDP, configured by FILE (see
    /// config/live-loopback.toml): the run ends at the feed's end of session.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["input", "rate"])]
    live: Option<PathBuf>,
    /// Take the market data from a broker instead: `ibkr`, Interactive Brokers'
    /// tick-by-tick BidAsk and AllLast of every configured symbol, over the connection
    /// `[source.ibkr]` in --config names (a build with `--features ibkr`). Each quote and
    /// trade becomes ITCH messages through the same stages, with any venue; a symbol goes
    /// stale (FEED_STALE) when IB reports its data farm down or it has no tick for
    /// `stale_after_ms`, until its next tick. The run lasts until SIGINT/SIGTERM; with
    /// --journal DIR every message is captured to DIR/input.itch, which `run --input`
    /// replays to the same decisions.
    #[arg(long, value_name = "SOURCE", value_parser = ["ibkr"], conflicts_with_all = ["input", "live", "rate"])]
    source: Option<String>,
    /// Replay open loop at this many messages per second, 1 to 1e9 (each message stamped
    /// with its intended send time, so queueing shows as latency); default: as fast as
    /// the pipeline takes it.
    #[arg(long, value_name = "MSGS_PER_SEC", value_parser = replay_rate)]
    rate: Option<f64>,
    /// Engine configuration: symbols, features, model, risk limits, execution, venue.
    /// With `[venue] kind = "ibkr"` (config/ibkr-paper.toml) the orders go to Interactive
    /// Brokers through IB Gateway, in a build with `--features ibkr`, with one shard.
    #[arg(long, value_name = "FILE", default_value = "config/tickpipe.toml")]
    config: PathBuf,
    /// With `[venue] kind = "ibkr"`: allow a live account (one whose id does not start
    /// DU). Without it, a live account is refused before anything is sent.
    #[arg(long)]
    live_account: bool,
    /// Also write the report as JSON to FILE (keys documented in the README). Its
    /// directory must be writable when the run starts; the report is written beside it
    /// and renamed over it, so FILE is never seen half written.
    #[arg(long, value_name = "FILE")]
    report_json: Option<PathBuf>,
    /// No banner and no progress bar on stderr (the bar shows only on a terminal).
    #[arg(long)]
    quiet: bool,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics while the run lasts (port 0:
    /// any free port; the address bound is printed on stderr). Loopback only unless
    /// --metrics-public.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<SocketAddr>,
    /// Allow --metrics on an address other than loopback (the endpoint has no
    /// authentication).
    #[arg(long, requires = "metrics")]
    metrics_public: bool,
    /// After the report, keep serving the final metrics this many seconds, so a scraper
    /// collects them.
    #[arg(long, value_name = "SECS", default_value_t = 0, requires = "metrics")]
    metrics_linger: u64,
    /// After the run, write each stage's and tick-to-order's latency histogram into DIR
    /// as an HdrHistogram interval log (STAGE.hlog, tick_to_order.hlog) and plot them
    /// all as latency.svg. DIR is created if missing, before the run starts.
    #[arg(long, value_name = "DIR")]
    latency_out: Option<PathBuf>,
    /// Lifecycle log lines on stderr (start, topology, trading-state changes, the drain,
    /// failures, the live feed's gaps): text, or one JSON object a line.
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Which log lines to write, in RUST_LOG's syntax (`info`, `warn`, `tickpipe=debug`);
    /// overrides RUST_LOG. Default: RUST_LOG if set, else `info` (`warn` with --quiet).
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Journal every decision to DIR (policy: [journal] in --config). If DIR holds an
    /// unfinished session of the same config and input, resume it: the input is
    /// replayed from the start, each re-derived decision checked against the journal
    /// (the first divergence refuses, exit 1), nothing it holds sent again, then the
    /// session goes on. A finished session is verified and nothing is sent. Another
    /// config or input is refused (exit 2), naming which.
    ///
    /// With --live or --source ibkr, every message the feed applies is captured first into
    /// DIR/input.itch (NASDAQ's file format), so `journal verify DIR --input
    /// DIR/input.itch` replays the session exactly; resuming a live session is refused.
    #[arg(long, value_name = "DIR")]
    journal: Option<PathBuf>,
    /// Serve the kill switch on a Unix socket at PATH (mode 0600; it must not exist):
    /// `tickpipe ctl --socket PATH halt | reduce-only | resume | reenable SYMBOL |
    /// resume-all | status [--json]`.
    #[arg(long, value_name = "PATH")]
    control: Option<PathBuf>,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// Where to write the session.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Approximate number of messages, at most 100 000 000 (the session is built in
    /// memory before it is written, about 33 bytes a message).
    #[arg(long, value_name = "N", default_value_t = SampleSpec::default_session().messages, value_parser = generate_messages)]
    messages: u64,
    /// Random seed; the same seed and count give the same bytes.
    #[arg(long, value_name = "SEED", default_value_t = SampleSpec::default_session().seed)]
    seed: u64,
    /// No progress spinner on stderr (it shows only on a terminal).
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct FeedServerArgs {
    /// Where to send the feed: a unicast ADDR:PORT, or a multicast group's.
    #[arg(long, value_name = "ADDR:PORT")]
    dest: SocketAddr,
    /// Where to receive re-requests and answer them from (port 0: any free port).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:26401")]
    request_listen: SocketAddr,
    /// ITCH 5.0 file to play (2-byte big-endian length before each message). Without
    /// it, the bundled sample session is generated and played.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Without --input: messages in the generated sample session, at most 100 000 000 (it
    /// is built in memory first, about 33 bytes a message).
    #[arg(long, value_name = "N", conflicts_with = "input", value_parser = generate_messages)]
    messages: Option<u64>,
    /// MoldUDP64 session name, 1 to 10 printable ASCII characters.
    #[arg(long, value_name = "NAME", default_value = "TICKPIPE01")]
    session: String,
    /// Largest datagram in bytes, the 20-byte MoldUDP64 header included (72 to 65507).
    #[arg(long, value_name = "BYTES", default_value_t = 1400)]
    packet_bytes: usize,
    /// Send this many messages per second, open loop. Default: as fast as possible.
    #[arg(long, value_name = "MSGS_PER_SEC", value_parser = positive_rate)]
    rate: Option<f64>,
    /// Send this many packets per second, open loop, instead of --rate.
    #[arg(long, value_name = "PACKETS_PER_SEC", value_parser = positive_rate, conflicts_with = "rate")]
    packets_per_sec: Option<f64>,
    /// Drop message packets number K, 2K, 3K, … on purpose (K ≥ 1).
    #[arg(long, value_name = "K", value_parser = at_least_one)]
    drop_every: Option<u64>,
    /// Drop each message packet with probability P (0 to 1), drawn from --seed.
    #[arg(long, value_name = "P", value_parser = probability, conflicts_with = "drop_every")]
    drop_random: Option<f64>,
    /// Seed for --drop-random: the same seed drops the same packets.
    #[arg(
        long,
        value_name = "SEED",
        default_value_t = 1,
        requires = "drop_random"
    )]
    seed: u64,
    /// Messages kept for re-requests: requests for older ones are ignored. 0 disables
    /// re-requests. Default: the whole session.
    #[arg(long, value_name = "N")]
    retransmit_window: Option<u64>,
    /// Send a heartbeat when nothing was sent for this long; also the interval at which
    /// end of session is repeated while lingering.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = at_least_one)]
    heartbeat_ms: u64,
    /// After end of session, keep answering re-requests this long (Ctrl-C ends it sooner).
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    linger_ms: u64,
    /// Local interface address to send a multicast feed from (required when --dest is
    /// a multicast group).
    #[arg(long, value_name = "IPV4")]
    multicast_interface: Option<Ipv4Addr>,
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
        Command::FeedServer(args) => feed_server(args),
        Command::Inspect(args) => inspect_file(args),
        Command::Journal(JournalCommand::Inspect(args)) => journal_inspect(args),
        Command::CheckConfig(args) => check_config(args),
        Command::Model(ModelCommand::Eval(args)) => model_eval(args),
        Command::ExportFeatures(args) => export_features(args),
        Command::Journal(JournalCommand::Verify(args)) => journal_verify(args),
        Command::Ctl(args) => ctl(args),
        Command::Ibkr(IbkrCommand::Check(args)) => ibkr_check(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            say(format_args!("error: {e:#}\n"));
            ExitCode::from(2)
        }
    }
}

fn ctl(args: CtlArgs) -> Result<ExitCode> {
    let request = match args.request {
        CtlRequest::Halt => ctl::Request::Halt,
        CtlRequest::ReduceOnly => ctl::Request::ReduceOnly,
        CtlRequest::Resume => ctl::Request::Resume,
        CtlRequest::Status { json } => ctl::Request::Status { json },
        CtlRequest::Level { name } => ctl::Request::Level(name),
        CtlRequest::Schedule(CtlSchedule::Add {
            symbol,
            side,
            quantity,
            slices,
            start_ns,
            interval_ns,
            offset,
        }) => ctl::Request::ScheduleAdd(vec![
            symbol,
            side,
            quantity,
            slices,
            start_ns,
            interval_ns,
            offset,
        ]),
        CtlRequest::Reenable { symbol } => ctl::Request::Reenable {
            symbol: tickpipe::msg::SymbolName::new(&symbol).with_context(|| {
                format!("{symbol:?} is not a ticker: 1 to 8 printable ASCII characters")
            })?,
        },
        CtlRequest::ResumeAll => ctl::Request::ResumeAll,
    };
    let answer = ctl::send(&args.socket, request)?;
    print!("{answer}");
    Ok(if ctl::is_refusal(&answer) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let format = if args.log_format == "json" {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    logging::init(
        format,
        args.log_level.as_deref(),
        if args.quiet { "warn" } else { "info" },
    )?;
    let (config, universe) = Config::load_for(&args.config, ibkr::kinds_for(&args.config))?;
    let cores = topology::host_cores();
    let topology = Topology::load(&args.pipeline, args.shards, &universe, &cores)?;
    // Before anything connects: the venue's shards connect as venue.client_id + k and
    // the Gateway takes one connection per client id, so the market data's must lie
    // outside that range.
    if let (Some(venue), Some(ib), Some(_)) = (
        config.venue.ibkr(),
        config.source.as_ref().and_then(|s| s.ibkr.as_ref()),
        args.source.as_ref(),
    ) {
        let ids = venue.client_id..venue.client_id + topology.shards as i64;
        if venue.address() == ib.address() && ids.contains(&ib.client_id) {
            anyhow::bail!(
                "{}: source.ibkr.client_id {} is one of the venue's client ids with \
                 --shards {} ({} to {}): the Gateway takes one connection per client id",
                args.config.display(),
                ib.client_id,
                topology.shards,
                ids.start,
                ids.end - 1
            );
        }
    }
    #[cfg(feature = "ibkr")]
    let ib_venue = match config.venue.ibkr() {
        Some(ib) => Some(ibkr::venue(
            ib,
            &universe,
            topology.shards,
            args.live_account,
        )?),
        None => None,
    };
    #[cfg(not(feature = "ibkr"))]
    let ib_venue: Option<std::convert::Infallible> = match config.venue.ibkr() {
        Some(_) => anyhow::bail!(
            "{}: [venue] kind = \"ibkr\" needs a build with `--features ibkr`",
            args.config.display()
        ),
        None => None,
    };
    let input = match (args.source, args.live, args.input) {
        (Some(_), _, _) => {
            let Some(ib) = config.source.as_ref().and_then(|s| s.ibkr.as_ref()) else {
                anyhow::bail!(
                    "{}: --source ibkr needs [source.ibkr] (host, port, client_id, \
                     stale_after_ms and [source.ibkr.contracts.TICKER] con_id; README, \
                     \"IBKR market data\")",
                    args.config.display()
                );
            };
            if cfg!(not(feature = "ibkr")) {
                anyhow::bail!("--source ibkr needs a build with `--features ibkr`");
            }
            Input::Ibkr(Box::new(IbInput {
                config: ib.clone(),
                tickers: universe.ids().map(|id| universe.name(id)).collect(),
            }))
        }
        (None, Some(live), _) => Input::Live(Box::new(LiveConfig::load(&live)?)),
        (None, None, Some(path)) => Input::File(path),
        (None, None, None) => Input::Sample(SampleSpec::default_session()),
    };
    let pacing = match args.rate {
        Some(messages_per_sec) => Pacing::Rate { messages_per_sec },
        None => Pacing::AsFastAsPossible,
    };
    let input_name = input.describe();
    let total = match &input {
        Input::Sample(spec) => Some(spec.messages),
        Input::File(_) | Input::Live(_) | Input::Ibkr(_) => None,
    };
    let banner = format!(
        "{input_name} on {} ({} shard(s))",
        args.pipeline.display(),
        topology.shards
    );
    let shards = topology.shards;
    let runners: Vec<(String, String, String, String)> = topology
        .runners
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                format!("{}..{}", r.first.name(), r.last.name()),
                format!("{:?}", r.cores),
                format!("{:?}", r.idle),
            )
        })
        .collect();
    let json = args
        .report_json
        .as_deref()
        .map(ReportFile::create)
        .transpose()?;
    if let Some(dir) = &args.latency_out {
        latency_out::prepare(dir)?;
    }
    let server = args
        .metrics
        .map(|addr| MetricsServer::bind(addr, args.metrics_public))
        .transpose()?;
    let (model, selection) = BuiltIn::load(&config.model)?;
    let kind = config.model.kind.clone();
    if let (Some(dir), Input::Live(_) | Input::Ibkr(_)) = (&args.journal, &input)
        && dir.join(tickpipe::journal::header::HEADER_FILE).exists()
    {
        anyhow::bail!(
            "--journal {}: it holds a session, and resuming a live session is not \
                 supported (the feed has moved on); verify it with `tickpipe journal verify \
                 {} --input {}`, and journal this session into a new directory",
            dir.display(),
            dir.display(),
            dir.join(CAPTURE_FILE).display()
        );
    }
    let journal = match &args.journal {
        Some(dir) => Some(open_journal(
            dir,
            &args.config,
            &config,
            &input,
            topology.shards,
        )?),
        None => None,
    };
    let source = match &args.journal {
        Some(dir) => input.source_capturing(pacing, &dir.join(CAPTURE_FILE))?,
        None => input.source(pacing)?,
    };
    let mut engine =
        Engine::new(topology, config, Arc::new(universe), source).model(move |_| model.clone());
    if server.is_some() {
        engine = engine.metrics(tickpipe::runtime::metrics::PERIOD);
    }
    if let Some((meta, logs)) = journal {
        engine = engine.journal(meta, logs);
    }
    let pipeline = match ib_venue {
        #[cfg(feature = "ibkr")]
        Some(venue) => engine.venue(venue).start()?,
        #[cfg(not(feature = "ibkr"))]
        Some(never) => match never {},
        None => engine.start()?,
    };
    let control = match &args.control {
        Some(path) => match ControlServer::start(path, pipeline.control_hub()) {
            Ok(server) => Some(server),
            Err(e) => {
                pipeline.request_stop();
                pipeline.join();
                return Err(e.into());
            }
        },
        None => None,
    };
    if !args.quiet {
        say(format_args!("tickpipe: {banner}\n"));
        if let Some(s) = &selection {
            say(format_args!(
                "tickpipe: model onnx, engine {}: {}\ntickpipe: model cost: {}\n",
                s.engine.name(),
                s.why,
                s.cost
            ));
        }
    }
    tracing::info!(
        input = %input_name,
        topology = %args.pipeline.display(),
        shards,
        config = %args.config.display(),
        "run started"
    );
    if let Some(s) = selection.as_ref().filter(|s| s.cost.allocates()) {
        tracing::warn!(engine = s.engine.name(), cost = %s.cost, "the model allocates on the decision thread");
    }
    for runner in &runners {
        tracing::info!(runner = %runner.0, stages = %runner.1, cores = %runner.2, idle = %runner.3, "topology");
    }
    if let (Some(server), Some(metrics)) = (server, pipeline.metrics()) {
        let addr = server.local_addr().context("--metrics")?;
        server
            .serve(metrics.clone())
            .context("starting the metrics thread")?;
        // Printed even with --quiet: with port 0 it is the only way to learn the port.
        say(format_args!("tickpipe: metrics on http://{addr}/metrics\n"));
        tracing::info!(%addr, "metrics endpoint listening");
    }
    let stop = pipeline.stop_signal();
    ctrlc::set_handler(move || {
        tracing::info!("stop requested by signal: the source stops, the rings drain");
        stop.request_stop();
    })
    .context("installing the SIGINT/SIGTERM handler")?;

    let progress = Progress::messages(total, args.quiet);
    let mut state = pipeline.trading_state();
    pipeline.wait(Duration::from_millis(50), |p| {
        progress.set(p.progress());
        let now = p.trading_state();
        if now != state {
            tracing::warn!(
                from = state.as_str(),
                to = now.as_str(),
                "trading state changed"
            );
            state = now;
        }
    });
    progress.finish();
    // The socket goes before the join: an operator must not reach a run that has ended.
    drop(control);
    let report = pipeline.join();
    log_end(&report);
    // Both outputs are attempted whatever happens to the other.
    // Which model ran is the binary's choice, so its report key is added here.
    let engine = selection.as_ref().map(|s| s.engine.name());
    let why = selection.as_ref().map(|s| s.why.as_str());
    let mut text = render::text(&report);
    text.push_str(&format!(
        "model        {kind}{}\n",
        selection.as_ref().map_or(String::new(), |s| format!(
            ", engine {}: {}",
            s.engine.name(),
            s.why
        ))
    ));
    if let Some(s) = &selection {
        text.push_str(&format!("model cost   {}\n", s.cost));
    }
    let mut value = render::json(&report);
    value["model"] = serde_json::json!({"kind": kind, "engine": engine, "why": why});
    if let Some(cost) = selection.as_ref().map(|s| s.cost) {
        value["model"]["cost"] = serde_json::json!({
            "kernel": cost.kernel.map(|k| k.name()),
            "ns_per_inference": cost.ns_per_inference,
            "allocates": cost.allocates(),
        });
    }
    let printed = print_report(&text);
    let saved = json.map_or(Ok(()), |file| file.commit(&value));
    let mut unwritten = false;
    if let Err(e) = printed {
        say(format_args!("error: writing the report to stdout: {e}\n"));
        unwritten = true;
    }
    if let Err(e) = saved {
        say(format_args!("error: {:#}\n", anyhow::Error::from(e)));
        unwritten = true;
    }
    if let Some(dir) = &args.latency_out
        && let Err(e) = latency_out::write(dir, &report)
    {
        say(format_args!("error: {e}\n"));
        unwritten = true;
    }
    if args.metrics_linger > 0 {
        say(format_args!(
            "tickpipe: run over; final metrics served for {} s\n",
            args.metrics_linger
        ));
        std::thread::sleep(Duration::from_secs(args.metrics_linger));
    }
    Ok(if unwritten {
        ExitCode::from(3)
    } else if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The run's end as log lines: the drain, failures, the live feed's losses.
fn log_end(report: &tickpipe::runtime::report::RunReport) {
    tracing::info!(
        elapsed_s = report.elapsed.as_secs_f64(),
        messages = report.source.messages,
        orders = report.shard.risk.orders_sent,
        digest = %format!("{:016x}", report.digest()),
        "drained: every ring emptied and every runner joined"
    );
    for f in &report.failures {
        tracing::error!(runner = %f.runner, stage = %f.stage, message = %f.message, "runner failed");
    }
    if report.shard.risk.invalid_reports > 0 {
        tracing::warn!(
            invalid_reports = report.shard.risk.invalid_reports,
            "invalid execution reports halted trading"
        );
    }
    if let Some(feed) = &report.feed {
        tracing::info!(
            gaps = feed.gaps,
            gap_messages = feed.gap_messages,
            recovered = feed.recovered,
            lost = feed.lost,
            "live feed gaps and recovery"
        );
        if report.source.stale_notices > 0 {
            tracing::warn!(
                notices = report.source.stale_notices,
                "feed data lost: every symbol marked stale"
            );
        }
    }
}

/// Opens `--journal DIR` for a run: its policy from `[journal]`, its session header from
/// the config's decisions and the input's bytes.
fn open_journal(
    dir: &std::path::Path,
    config_path: &std::path::Path,
    config: &Config,
    input: &Input,
    shards: usize,
) -> Result<(JournalMeta, LogFactory)> {
    let policy = config.journal_policy().map_err(|problems| {
        let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{}: {}", config_path.display(), list.join("; "))
    })?;
    let segment_bytes = config.journal.as_ref().map_or(0, |j| j.segment_bytes);
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let config_hash = decision_identity(&text)?;
    let header = journal_store::header(config_hash, journal_store::input_identity(input)?, shards);
    Ok(journal_store::open_for_run(
        dir,
        &header,
        policy,
        segment_bytes,
    )?)
}

fn journal_verify(args: JournalVerifyArgs) -> Result<ExitCode> {
    let cores = topology::host_cores();
    match verify::verify(&args.dir, &args.input, &args.config, &args.pipeline, &cores) {
        Ok(found) => {
            if print_report(&found.text()).is_err() {
                return Ok(ExitCode::from(3));
            }
            Ok(if found.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Err(e) => {
            say(format_args!("error: {e}\n"));
            Ok(ExitCode::from(e.exit_code()))
        }
    }
}

/// Writes the text report to stdout. `print!` would panic on a full disk; here that is
/// an error for the caller, and a reader that closed the pipe (`| head`) ends the
/// output quietly: it chose to stop reading.
fn print_report(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        result => result,
    }
}

/// Writes to stderr. `eprint!` panics when stderr cannot be written (`2> /dev/full`); a
/// diagnostic with nowhere to go is dropped instead, and the exit status still tells.
fn say(text: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(text).and_then(|()| err.flush());
}

fn feed_server(args: FeedServerArgs) -> Result<ExitCode> {
    if args.dest.ip().is_multicast() && args.multicast_interface.is_none() {
        anyhow::bail!(
            "--dest {} is a multicast group: --multicast-interface must name the local interface to send it from",
            args.dest
        );
    }
    let input = match (args.input, args.messages) {
        (Some(path), _) => Input::File(path),
        (None, messages) => {
            let spec = SampleSpec {
                messages: messages.unwrap_or(SampleSpec::default_session().messages),
                ..SampleSpec::default_session()
            };
            spec.validate().context("--messages")?;
            Input::Sample(spec)
        }
    };
    let rate = match (args.rate, args.packets_per_sec) {
        (Some(r), _) => SendRate::MessagesPerSec(r),
        (None, Some(r)) => SendRate::PacketsPerSec(r),
        (None, None) => SendRate::AsFastAsPossible,
    };
    let drops = match (args.drop_every, args.drop_random) {
        (Some(k), _) => DropPolicy::EveryKth(k),
        (None, Some(probability)) => DropPolicy::Random {
            probability,
            seed: args.seed,
        },
        (None, None) => DropPolicy::None,
    };
    let config = ServerConfig {
        session: Session::new(&args.session).context("--session")?,
        request_listen: args.request_listen,
        max_packet_bytes: args.packet_bytes,
        rate,
        drops,
        retransmit_window: args.retransmit_window.unwrap_or(u64::MAX),
        heartbeat_interval: Duration::from_millis(args.heartbeat_ms),
        linger: Duration::from_millis(args.linger_ms),
        multicast_interface: args.multicast_interface,
    };
    let mut server = FeedServer::bind(config)?;
    let bytes = input.load()?;
    let stop = Arc::new(StopSignal::new());
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.request_stop())
        .context("installing the SIGINT/SIGTERM handler")?;
    say(format_args!(
        "tickpipe feed-server: {} to {}, re-requests on {}\n",
        input.describe(),
        args.dest,
        server.request_addr()
    ));
    let stats = server.run(&bytes, args.dest, &stop)?;
    let json = serde_json::to_string_pretty(&stats).expect("stats always serialise") + "\n";
    if let Err(e) = print_report(&json) {
        say(format_args!(
            "error: writing the feed statistics to stdout: {e}\n"
        ));
        return Ok(ExitCode::from(3));
    }
    if let Some(e) = &stats.truncated_input {
        say(format_args!(
            "warning: the input ends inside a message ({e}); what came before it was played\n"
        ));
    }
    if stats.skipped_input_bytes > 0 {
        say(format_args!(
            "warning: {} bytes of the input were skipped where its framing was lost (a corrupted length prefix)\n",
            stats.skipped_input_bytes
        ));
    }
    // A destination that refuses everything must not look like a feed delivered.
    if stats.send_errors > 0 {
        say(format_args!(
            "error: {} datagram(s) could not be sent (to {} or to re-requesters)\n",
            stats.send_errors, args.dest
        ));
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn at_least_one(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s:?} is not a probability from 0 to 1")),
    }
}

fn ibkr_check(args: IbkrCheckArgs) -> Result<ExitCode> {
    let config = match ibkr::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            say(format_args!("error: {e}\n"));
            return Ok(ExitCode::from(2));
        }
    };
    #[cfg(feature = "ibkr")]
    {
        let (text, contracts_ok) = match ibkr::check(&config, args.live_account) {
            Ok(checked) => checked,
            Err(e) => {
                say(format_args!("error: {e}\n"));
                return Ok(ExitCode::from(1));
            }
        };
        if let Err(e) = print_report(&text) {
            say(format_args!("error: writing to stdout: {e}\n"));
            return Ok(ExitCode::from(3));
        }
        Ok(if contracts_ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        })
    }
    #[cfg(not(feature = "ibkr"))]
    {
        let _ = (config, args.live_account);
        say(format_args!(
            "error: this build has no Interactive Brokers wire; build with `--features ibkr`\n"
        ));
        Ok(ExitCode::from(2))
    }
}

fn check_config(args: CheckConfigArgs) -> Result<ExitCode> {
    let checked = check_config::check(
        &args.config,
        &args.pipeline,
        args.shards,
        &topology::host_cores(),
    );
    if !checked.problems.is_empty() {
        for problem in &checked.problems {
            say(format_args!("error: {problem}\n"));
        }
        return Ok(ExitCode::from(2));
    }
    if let Err(e) = print_report(&checked.settings) {
        say(format_args!("error: writing the settings to stdout: {e}\n"));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

fn inspect_file(args: InspectArgs) -> Result<ExitCode> {
    let path = &args.file;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let inspection = inspect::inspect_file(file).with_context(|| path.display().to_string())?;
    let text = if args.json {
        serde_json::to_string_pretty(&inspection.to_json())
            .expect("an inspection always serialises")
            + "\n"
    } else {
        inspection.to_text()
    };
    // A reader that stops early (`| head`) is not an error.
    if let Err(e) = print_report(&text) {
        say(format_args!(
            "error: writing the inspection to stdout: {e}\n"
        ));
        return Ok(ExitCode::from(3));
    }
    say(format_args!(
        "{}",
        inspection.problems_text(&path.display().to_string())
    ));
    Ok(if inspection.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Clone, Copy)]
struct RecordCount(Option<usize>);

fn record_count(s: &str) -> Result<RecordCount, String> {
    if s == "all" {
        return Ok(RecordCount(None));
    }
    s.parse::<usize>()
        .map(|n| RecordCount(Some(n)))
        .map_err(|_| format!("{s:?} is neither a number of records nor `all`"))
}

fn journal_inspect(args: JournalInspectArgs) -> Result<ExitCode> {
    let scan = match tickpipe::journal::scan(&args.dir) {
        Ok(scan) => scan,
        Err(e @ tickpipe::journal::JournalError::MissingHeader { .. }) => return Err(e.into()),
        Err(e) => {
            say(format_args!("error: {e}\n"));
            return Ok(ExitCode::from(1));
        }
    };
    let text = if args.json {
        serde_json::to_string_pretty(&tickpipe::app::journal::to_json(&scan))
            .expect("an inspection always serialises")
            + "\n"
    } else {
        tickpipe::app::journal::to_text(&scan, args.records.0)
    };
    if let Err(e) = print_report(&text) {
        say(format_args!(
            "error: writing the inspection to stdout: {e}\n"
        ));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "{s:?} is not a positive number of messages per second"
        )),
    }
}

/// Replay rates `--rate` accepts. Below 1 msg/s the send interval is over a second and
/// a session takes days (and near 0 the interval is no longer a finite number of
/// nanoseconds); above 1e9 it is under the clock's 1 ns resolution.
const RATES: std::ops::RangeInclusive<f64> = 1.0..=1e9;

fn replay_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if RATES.contains(&r) => Ok(r),
        _ => Err(format!(
            "{s:?} is not a rate from {} to {:e} messages per second",
            RATES.start(),
            RATES.end()
        )),
    }
}

fn generate_messages(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n <= MAX_MESSAGES => Ok(n),
        Ok(_) => Err(format!(
            "{s} messages; at most {MAX_MESSAGES}: the session is built in memory before it \
             is written (about 33 bytes a message, 3.3 GB at the bound)"
        )),
        Err(_) => Err(format!("{s:?} is not a whole number of messages")),
    }
}

fn generate_file(args: GenerateArgs) -> Result<()> {
    let spec = SampleSpec {
        messages: args.messages,
        seed: args.seed,
        ..SampleSpec::default_session()
    };
    spec.validate().context("--messages/--seed")?;
    let progress = Progress::working(format!("generating {} messages", spec.messages), args.quiet);
    let bytes = generate(&spec);
    progress.finish();
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    say(format_args!(
        "wrote {} ({} bytes): {}\n",
        args.out.display(),
        bytes.len(),
        Input::Sample(spec).describe()
    ));
    Ok(())
}

fn model_eval(args: EvalArgs) -> Result<ExitCode> {
    let engine = args.engine.as_deref().map(|e| match e {
        "tract" => EngineKind::Tract,
        _ => EngineKind::Native,
    });
    let evaluation = eval(&args.model, &args.input, engine)?;
    let text = if args.json {
        serde_json::to_string_pretty(&evaluation.to_json()).expect("always serialises") + "\n"
    } else {
        evaluation.to_text()
    };
    if let Err(e) = print_report(&text) {
        say(format_args!("error: writing the outputs to stdout: {e}\n"));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

fn export_features(args: ExportArgs) -> Result<ExitCode> {
    let (config, universe) = Config::load(&args.config)?;
    let cores = topology::host_cores();
    let topology = Topology::load(
        std::path::Path::new("pipelines/fused-inline.toml"),
        Some(1),
        &universe,
        &cores,
    )?;
    let input = match args.input {
        Some(path) => Input::File(path),
        None => Input::Sample(SampleSpec::default_session()),
    };
    let file = std::fs::File::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut labeller = Labeller::new(
        std::io::BufWriter::new(file),
        &universe,
        args.horizon_ms * 1_000_000,
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    let (model, _) = BuiltIn::load(&config.model)?;
    let (sender, rows) = std::sync::mpsc::channel();
    let source = input.source(Pacing::AsFastAsPossible)?;
    let pipeline = Engine::new(topology, config, Arc::new(universe), source)
        .model(move |_| Recording {
            inner: model.clone(),
            rows: sender.clone(),
        })
        .start()?;
    let mut written = Ok(());
    pipeline.wait(Duration::from_millis(20), |_| {
        if written.is_ok() {
            written = export::drain(&rows, &mut labeller);
        }
    });
    let report = pipeline.join();
    written
        .and_then(|()| export::drain(&rows, &mut labeller))
        .and_then(|()| labeller.finish(report.digest()))
        .map(|n| {
            say(format_args!(
                "wrote {} rows to {}, digest {:016x}\n",
                n,
                args.out.display(),
                report.digest()
            ))
        })
        .with_context(|| format!("writing {}", args.out.display()))?;
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        say(format_args!(
            "error: the run failed: {:?}\n",
            report.failures
        ));
        ExitCode::from(1)
    })
}
