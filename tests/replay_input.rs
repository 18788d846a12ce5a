//! Replaying a file that changes under the replay: it must never crash the process, and
//! what was accepted before the change is still reported.

mod common;

use std::path::PathBuf;

use tickpipe::app::report as render;
use tickpipe::codec::itch::Framer;
use tickpipe::runtime::pipeline::Pipeline;
use tickpipe::runtime::report::RunReport;
use tickpipe::source::replay::{Input, Pacing};
use tickpipe::tools::sample::{SampleSpec, generate};

/// A file cut by another process while it is replayed: what was cut, and the report.
struct Truncation {
    /// The file's size before the cut.
    len: u64,
    /// Offset of the message the cut falls in or before, and its index.
    frame_offset: u64,
    cut_frame: usize,
    /// The file's size after the cut.
    cut: u64,
    report: RunReport,
}

/// Replays a 200 k-message file and, 20 k messages in, cuts it `into_frame` bytes past the
/// start of its middle message: ~100 k messages and 3 MiB in, well past the first reads
/// (1 MiB each) when the cut comes.
fn truncated_mid_replay(name: &str, into_frame: u64) -> Truncation {
    let bytes = generate(&SampleSpec {
        messages: 200_000,
        ..SampleSpec::default_session()
    });
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, &bytes).unwrap();
    let offsets: Vec<u64> = Framer::new(&bytes).map(|f| f.unwrap().offset).collect();
    let cut_frame = offsets.len() / 2;
    let cut = offsets[cut_frame] + into_frame;

    let mut spec = common::spec("pipelines/fused.toml", 1, 0);
    spec.input = Input::File(path.clone());
    // Slow enough that the cut lands mid-run: 20 k messages in, the replay has read at
    // most ~1.7 MiB of the 6.5 MiB file.
    spec.pacing = Pacing::Rate {
        messages_per_sec: 50_000.0,
    };
    let pipeline = Pipeline::start(spec).expect("pipeline starts");
    common::wait_for(&pipeline, 20_000);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut)
        .unwrap();
    Truncation {
        len: bytes.len() as u64,
        frame_offset: offsets[cut_frame],
        cut_frame,
        cut,
        report: pipeline.join(),
    }
}

#[test]
fn a_file_truncated_mid_replay_ends_the_input_at_its_last_whole_message() {
    let t = truncated_mid_replay("replay-truncated.itch", 5);
    let report = &t.report;

    assert_eq!(
        report.source.messages, t.cut_frame as u64,
        "every whole message was routed"
    );
    assert!(!report.source.stopped_early);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(failure.runner, "source");
    assert!(
        failure.message.starts_with(&format!(
            "input ended short at byte {}: the file shrank from {} to {} bytes while being replayed, ending inside a message",
            t.frame_offset, t.len, t.cut
        )),
        "{}",
        failure.message
    );
    // The report still covers what was accepted: the shards decoded every message.
    let text = render::text(report);
    assert!(text.contains("input ended short"), "{text}");
}

#[test]
fn a_file_that_shrinks_to_a_message_boundary_is_reported_short() {
    let t = truncated_mid_replay("replay-shrunk.itch", 0);
    let report = &t.report;

    assert_eq!(report.source.messages, t.cut_frame as u64);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(
        report.failures[0].message,
        format!(
            "input ended short at byte {}: the file shrank from {} to {} bytes while being replayed",
            t.cut, t.len, t.cut
        )
    );
}

#[test]
fn a_corrupted_length_prefix_costs_one_message_and_its_bytes_exactly() {
    let mut bytes = generate(&SampleSpec {
        messages: 50_000,
        ..SampleSpec::default_session()
    });
    let offsets: Vec<u64> = Framer::new(&bytes).map(|f| f.unwrap().offset).collect();
    let (at, next) = (offsets[30_000], offsets[30_001]);
    // The high byte set: the prefix claims 256 bytes more than its message has.
    bytes[at as usize] = 1;
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay-desync.itch");
    std::fs::write(&path, &bytes).unwrap();

    let report = replay(path);
    // The same session with that message cut out cleanly.
    let mut without = bytes.clone();
    without.drain(at as usize..next as usize);
    let clean = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay-desync-clean.itch");
    std::fs::write(&clean, &without).unwrap();
    let expected = replay(clean);

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Every message after the resync point was decoded and applied as in the clean run.
    assert_eq!(report.shard.decode, expected.shard.decode);
    assert_eq!(report.shard.features.books, expected.shard.features.books);
    assert_eq!(report.digest(), expected.digest());
    let source = &report.source;
    assert_eq!((source.resyncs, source.resync_bytes), (1, next - at));
    assert_eq!(source.resync_samples[0].offset, at);
    assert_eq!(source.messages, 50_000 - 1);
    assert_eq!(source.bytes, bytes.len() as u64 - (next - at));
    let json = render::json(&report);
    assert_eq!(json["resyncs"], 1);
    assert_eq!(json["resync_bytes"], next - at);
    let text = render::text(&report);
    assert!(
        text.contains(&format!(
            "resyncs      1 (framing lost), {} bytes skipped to find it again",
            next - at
        )),
        "{text}"
    );
}

fn replay(path: PathBuf) -> RunReport {
    let mut spec = common::spec("pipelines/fused.toml", 1, 0);
    spec.input = Input::File(path);
    Pipeline::start(spec).expect("pipeline starts").join()
}

/// `zcat day.itch.gz | tickpipe run --input /dev/stdin`: a pipe has no size, so it is
/// streamed to its end, with the same decisions as the file it carries.
#[test]
fn a_pipe_is_replayed_like_the_file_it_carries_and_an_empty_one_is_an_error() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let bytes = generate(&SampleSpec {
        messages: 20_000,
        ..SampleSpec::default_session()
    });
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay-pipe.itch");
    std::fs::write(&path, &bytes).unwrap();
    let run = |input: &str, stdin: Option<&[u8]>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickpipe"))
            .args(["run", "--quiet", "--input", input])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            pipe.write_all(data).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    };
    let digest = |o: &std::process::Output| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("digest"))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no digest in {text}"))
    };

    let from_file = run(path.to_str().unwrap(), None);
    let from_pipe = run("/dev/stdin", Some(&bytes));
    assert_eq!(from_file.status.code(), Some(0));
    assert_eq!(
        from_pipe.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_pipe.stderr)
    );
    assert_eq!(digest(&from_pipe), digest(&from_file));

    let empty = run("/dev/stdin", Some(&[]));
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&empty.stdout).contains("the input is empty"),
        "{}",
        String::from_utf8_lossy(&empty.stdout)
    );
}
