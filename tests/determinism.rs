//! The same input gives the same orders and fills whatever the topology or shard count:
//! decisions run in event time, never on thread timing (ARCHITECTURE.md, "Event time").

mod common;

/// Enough of the sample for hundreds of orders and fills, small enough for a debug build.
const MESSAGES: u64 = 300_000;

#[test]
fn fused_and_staged_with_one_and_two_shards_give_identical_decisions() {
    let base = common::run("pipelines/fused.toml", 1, MESSAGES);
    let risk = &base.shard.risk;
    assert!(
        risk.orders_sent > 50,
        "the sample must make the strategy trade: {} orders",
        risk.orders_sent
    );
    assert!(risk.fills > 10, "and get filled: {} fills", risk.fills);
    for (topology, shards) in [
        ("pipelines/fused.toml", 2),
        ("pipelines/staged.toml", 1),
        ("pipelines/staged.toml", 2),
    ] {
        let other = common::run(topology, shards, MESSAGES);
        assert_eq!(
            (
                other.digest(),
                other.shard.risk.orders_sent,
                other.shard.risk.fills
            ),
            (base.digest(), risk.orders_sent, risk.fills),
            "{topology} with {shards} shard(s) decided differently from fused with 1"
        );
        assert_eq!(other.source.messages, base.source.messages);
    }
}

/// The venue inline on the shard's thread decides as the venue on its own thread does:
/// fused and staged (risk and routing on one runner), with 1 and 2 shards.
#[test]
fn an_inline_venue_decides_as_a_venue_thread_does() {
    let base = common::run("pipelines/fused.toml", 1, MESSAGES);
    assert!(base.shard.risk.fills > 10, "the sample must trade and fill");
    let path = std::env::temp_dir().join(format!(
        "tickpipe-staged-inline-{}.toml",
        std::process::id()
    ));
    std::fs::write(&path, staged_inline()).unwrap();
    for (topology, shards) in [
        ("pipelines/fused-inline.toml", 1),
        ("pipelines/fused-inline.toml", 2),
        (path.to_str().unwrap(), 1),
        (path.to_str().unwrap(), 2),
    ] {
        let inline = common::run(topology, shards, MESSAGES);
        assert!(inline.failures.is_empty(), "{:?}", inline.failures);
        assert_eq!(
            (
                inline.digest(),
                inline.shard.risk.orders_sent,
                inline.shard.risk.fills,
                inline.shard.risk.orders_open_at_end
            ),
            (
                base.digest(),
                base.shard.risk.orders_sent,
                base.shard.risk.fills,
                0
            ),
            "{topology} with {shards} shard(s) decided differently from the venue on its thread"
        );
        assert_eq!(
            inline.venue.stats.commands.new,
            base.venue.stats.commands.new
        );
    }
    std::fs::remove_file(&path).unwrap();
}

/// Our own ring (`ring = "seq"`) on every edge decides as rtrb on every edge (fused,
/// its feed ring too): staged
/// (every ring a pipeline can have: feed, the four stage rings, venue, reports,
/// control) with 1 and 2 shards, and fused with the venue inline.
#[test]
fn the_seq_ring_on_every_edge_decides_as_rtrb_does() {
    let dir = std::env::temp_dir().join(format!("tickpipe-seq-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rtrb = dir.join("fused-rtrb.toml");
    let fused = std::fs::read_to_string("pipelines/fused.toml").unwrap();
    std::fs::write(&rtrb, fused.replace("ring = \"seq\"", "ring = \"rtrb\"")).unwrap();
    let base = common::run(rtrb.to_str().unwrap(), 1, MESSAGES);
    assert!(base.shard.risk.fills > 10, "the sample must trade and fill");
    for (topology, shards) in [
        ("pipelines/staged.toml", 1),
        ("pipelines/staged.toml", 2),
        ("pipelines/fused-inline.toml", 1),
    ] {
        let text = std::fs::read_to_string(topology)
            .unwrap()
            .replace("ring = \"rtrb\"", "ring = \"seq\"");
        assert!(
            text.matches("ring = \"seq\"").count() >= 2 && !text.contains("\"rtrb\""),
            "{topology} names each ring's implementation"
        );
        let path = dir.join(topology.rsplit('/').next().unwrap());
        std::fs::write(&path, text).unwrap();
        let seq = common::run(path.to_str().unwrap(), shards, MESSAGES);
        assert!(seq.failures.is_empty(), "{:?}", seq.failures);
        assert_eq!(
            (
                seq.digest(),
                seq.shard.risk.orders_sent,
                seq.shard.risk.fills
            ),
            (
                base.digest(),
                base.shard.risk.orders_sent,
                base.shard.risk.fills
            ),
            "{topology} on seq rings with {shards} shard(s) decided differently"
        );
        assert_eq!(seq.source.messages, base.source.messages);
        // With one shard the seq feed ring carried every frame rtrb's did (with two,
        // system events go to both).
        if shards == 1 {
            let fed = |r: &tickpipe::runtime::report::RunReport| {
                r.edges
                    .iter()
                    .find(|e| e.name == "shard0/feed")
                    .map(|e| e.pushed)
            };
            assert_eq!(fed(&seq), fed(&base), "{topology}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_replay_repeats_itself_exactly() {
    let a = common::run("pipelines/staged.toml", 2, MESSAGES / 3);
    let b = common::run("pipelines/staged.toml", 2, MESSAGES / 3);
    assert_eq!(a.digest(), b.digest());
}

/// Every way to cut the five stages into contiguous runners (16), so every generated
/// launch arm (each run of stages a runner can drive, 15) starts a chain, and each split
/// decides as fused does.
#[test]
fn every_split_of_the_stages_into_runners_decides_the_same() {
    const STAGES: [&str; 5] = ["decode", "features", "inference", "risk", "routing"];
    let messages = MESSAGES / 6;
    let base = common::run("pipelines/fused.toml", 1, messages);
    assert!(base.shard.risk.orders_sent > 0, "the cut must trade");
    let staged = std::fs::read_to_string("pipelines/staged.toml").unwrap();
    let rings = &staged[staged.find("[rings]").unwrap()..];
    // The ring after each stage but the last, named as in the topology file.
    const BOUNDARIES: [&str; 4] = ["market", "features", "signals", "orders"];
    let head = &staged[..staged.find("[[runner]]").unwrap()];
    let dir = std::env::temp_dir().join(format!("tickpipe-splits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut runs = std::collections::BTreeSet::new();
    // Bit i of `cuts` set: a runner ends after stage i.
    for cuts in 0..1u32 << (STAGES.len() - 1) {
        let mut text = head.to_string();
        let mut first = 0;
        for last in 0..STAGES.len() {
            if last == STAGES.len() - 1 || cuts & (1 << last) != 0 {
                let stages: Vec<String> = STAGES[first..=last]
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect();
                text.push_str(&format!(
                    "[[runner]]\nname = \"r{first}{last}\"\nstages = [{}]\n\
                     idle = {{ strategy = \"backoff\", spins = 64, yields = 16, min_park_ns = 1000, max_park_ns = 50000 }}\n\n",
                    stages.join(", ")
                ));
                runs.insert((first, last));
                first = last + 1;
            }
        }
        // A ring exists only where a runner ends; the others must not be configured.
        for line in rings.lines() {
            let key = line.split(' ').next().unwrap_or("");
            match BOUNDARIES.iter().position(|b| *b == key) {
                Some(i) if cuts & (1 << i) == 0 => {}
                _ => text.push_str(&format!("{line}\n")),
            }
        }
        let path = dir.join(format!("split{cuts}.toml"));
        std::fs::write(&path, text).unwrap();
        let other = common::run(path.to_str().unwrap(), 1, messages);
        assert_eq!(
            (other.digest(), other.shard.risk.fills),
            (base.digest(), base.shard.risk.fills),
            "split {cuts:04b} decided differently from fused"
        );
    }
    assert_eq!(runs.len(), 15, "every run of stages was a runner");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `pipelines/staged.toml` with the venue inline: risk and routing on one runner (an
/// inline venue is called from it), no venue thread, no venue rings.
fn staged_inline() -> String {
    let staged = std::fs::read_to_string("pipelines/staged.toml").unwrap();
    let idle = "idle = { strategy = \"backoff\", spins = 64, yields = 16, min_park_ns = 1000, max_park_ns = 50000 }\n";
    let text = staged
        .replace(
            &format!("[venue]\nplacement = \"thread\"\n{idle}"),
            "[venue]\nplacement = \"inline\"\n",
        )
        .replace(
            &format!("[[runner]]\nname = \"routing\"\nstages = [\"routing\"]\n{idle}\n"),
            "",
        )
        .replace("stages = [\"risk\"]", "stages = [\"risk\", \"routing\"]");
    let text: String = text
        .lines()
        .filter(|l| {
            !["orders = ", "venue = ", "reports = "]
                .iter()
                .any(|r| l.starts_with(r))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        text.contains("placement = \"inline\"") && !text.contains("name = \"routing\""),
        "staged.toml changed shape: {text}"
    );
    text
}
