//! The IBKR venue's translation cost per report (criterion): what the venue thread
//! spends turning what IB said (already decoded by `ibapi` into an `IbEvent`) into
//! execution reports for the shard. The wire's decoding and IB's own latency
//! (milliseconds) are not in it.
//!
//! - `lifecycle`: one order's `Submitted` status, its execution and its `Filled` status:
//!   an `Ack` and a `Fill` out (divide by 3 for a per-event figure).
//! - `duplicate_execution`: an execution already applied, recognised by its `execId`
//!   and dropped.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tickpipe::msg::{ClOrdId, OrderIntent, Price, Side, Stamp, SymbolId, TimeInForce};
use tickpipe::venue::ibkr::events::{IbExecution, IbOrderStatus, IbStatus};
use tickpipe::venue::ibkr::orders::Book;

const IB_ID: i32 = 1_001;

fn order() -> OrderIntent {
    OrderIntent {
        cl_ord_id: ClOrdId::new(SymbolId(3), 17),
        price: Price(1_500_000),
        qty: 100,
        symbol: SymbolId(3),
        side: Side::Buy,
        tif: TimeInForce::Day,
    }
}

fn placed() -> Book {
    let mut book = Book::new(&[]);
    book.open(&order(), Stamp::default(), IB_ID, 265_598, 0);
    book
}

fn status(status: IbStatus, filled: u32) -> IbOrderStatus {
    IbOrderStatus {
        order_id: IB_ID,
        status,
        filled,
        remaining: 100 - filled,
        avg_price: None,
    }
}

fn execution() -> IbExecution {
    IbExecution {
        exec_id: "0000e0d5.6553a1b2.01.01".into(),
        order_id: IB_ID,
        order_ref: order().cl_ord_id.0.to_string(),
        con_id: 265_598,
        side: Side::Buy,
        shares: 100,
        price: Price(1_499_900),
        cum_qty: 100,
        time: "20261204 15:30:00".into(),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ibkr");
    let submitted = status(IbStatus::Submitted, 0);
    let filled = status(IbStatus::Filled, 100);
    let exec = execution();
    group.bench_function("lifecycle", |b| {
        b.iter_batched(
            || (placed(), Vec::with_capacity(4)),
            |(mut book, mut out)| {
                book.on_status(black_box(&submitted), &mut out);
                book.on_execution(black_box(&exec), &mut out);
                book.on_status(black_box(&filled), &mut out);
                (book, out)
            },
            BatchSize::SmallInput,
        )
    });
    let mut book = placed();
    let mut out = Vec::new();
    book.on_execution(&exec, &mut out);
    group.bench_function("duplicate_execution", |b| {
        b.iter(|| book.on_execution(black_box(&exec), &mut out))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
