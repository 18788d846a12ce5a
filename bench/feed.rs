//! Feed compute on one thread: ITCH decoding alone, and decoding plus the order book,
//! over the default sample session (2 000 000 messages), reported per message.
//!
//! - `feed/itch_decode`: frame and `itch::decode` every message: the codec alone, each
//!   message materialised as a [`Message`](tickpipe::codec::itch::Message).
//! - `feed/decode_stage`: frame, copy into a [`RawFrame`] (the source's work) and run the
//!   decode stage: locate → symbol, ITCH → [`MarketEvent`] for the configured symbols.
//! - `feed/decode_book`: the same, each event applied to the features stage's
//!   [`BookSet`] (sized as `config/tickpipe.toml` says) and the new top of book read, as
//!   the features stage does.
//! - `feed/decode_book_map4k`: the same with the order map pre-sized for 4 096 orders
//!   instead of the configured 16 384. The sample holds under 1 500 live orders, so both
//!   stay in L2; the difference is what the headroom costs (at 262 144, a 12.6 MB table,
//!   it was 46 ns a message of cache misses: BENCHMARKS.md).
//!
//! One iteration is one pass over the whole session; the decode stage and the book set
//! are built fresh outside the timing (`iter_batched`), since a second pass over the
//! same orders would only meet duplicate references. Every frame counts as a message,
//! including those for unconfigured symbols (IBM, ORCL) that decode drops without an
//! event: that is what a shard's hot path sees. `Throughput::Elements` makes criterion
//! print messages/s; ns/message is the time per iteration over the message count.
//! No clock is read: `ts_recv` is 0, so this is compute only.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tickpipe::codec::itch::{Framer, decode};
use tickpipe::msg::{MarketEvent, RawFrame, SymbolId};
use tickpipe::runtime::config::Config;
use tickpipe::stages::Stage;
use tickpipe::stages::decode::Decode;
use tickpipe::stages::features::book::{BookSet, Capacity};
use tickpipe::sys::edge::Emit;
use tickpipe::tools::sample::{SampleSpec, generate};
use tickpipe::universe::Universe;

/// Counts the decode stage's events, keeping each one observable.
struct Count(u64);

impl Emit<MarketEvent> for Count {
    #[inline]
    fn emit(&mut self, event: MarketEvent) {
        black_box(&event);
        self.0 += 1;
    }
}

/// Applies each event to the books and reads the top, as the features stage does.
struct Books(BookSet);

impl Emit<MarketEvent> for Books {
    #[inline]
    fn emit(&mut self, event: MarketEvent) {
        if let Ok(applied) = self.0.apply(event.symbol, &event.update) {
            black_box(applied.book.top());
        }
    }
}

/// Runs the session's frames through `decode`, emitting into `out`.
#[inline]
fn replay<O: Emit<MarketEvent>>(bytes: &[u8], decode: &mut Decode, out: &mut O) {
    for frame in Framer::new(bytes).flatten() {
        if let Some(raw) = RawFrame::new(0, frame.bytes) {
            decode.on_event(raw, out);
        }
    }
}

fn feed(c: &mut Criterion) {
    let bytes = generate(&SampleSpec::default_session());
    let messages = Framer::new(&bytes).count() as u64;
    let (config, universe) =
        Config::load(Path::new("config/tickpipe.toml")).expect("bundled config is valid");
    let universe: Arc<Universe> = Arc::new(universe);
    let ids: Vec<SymbolId> = universe.ids().collect();
    let capacity = Capacity {
        max_orders: config.features.max_orders,
        max_levels: config.features.max_levels,
    };

    let mut group = c.benchmark_group("feed");
    group.throughput(Throughput::Elements(messages));
    // One iteration is 2M messages (tens of ms): 20 samples over 15 s is plenty.
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(15));

    group.bench_function("itch_decode", |b| {
        b.iter(|| {
            for frame in Framer::new(black_box(&bytes)).flatten() {
                if let Ok(msg) = decode(frame.bytes) {
                    black_box(msg);
                }
            }
        })
    });

    group.bench_function("decode_stage", |b| {
        b.iter_batched(
            || (Decode::new(Arc::clone(&universe)), Count(0)),
            |(mut stage, mut out)| {
                replay(black_box(&bytes), &mut stage, &mut out);
                (stage, out)
            },
            BatchSize::PerIteration,
        )
    });

    let map4k = Capacity {
        max_orders: 4096,
        ..capacity
    };
    for (name, capacity) in [("decode_book", capacity), ("decode_book_map4k", map4k)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    (
                        Decode::new(Arc::clone(&universe)),
                        Books(BookSet::new(&ids, capacity)),
                    )
                },
                |(mut stage, mut books)| {
                    replay(black_box(&bytes), &mut stage, &mut books);
                    (stage, books)
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, feed);
criterion_main!(benches);
