//! The firm-wide credit pool's draw (criterion): what a shard pays when a commitment
//! needs credit from the shared atomic, alone and with a second thread drawing and
//! returning on the same pool the whole time (two shards contending on two cores).
//!
//! Each iteration is one draw and its return, the pair a shard makes when it takes a
//! chunk and later gives it back; a commitment that fits the chunk a shard holds touches
//! no atomic and costs a few plain additions.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use tickpipe::sys::CreditPool;

fn draw_and_return(pool: &CreditPool) {
    assert!(pool.draw(black_box(100)));
    pool.give_back(black_box(100));
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool");
    let pool = CreditPool::new(1 << 40);
    group.bench_function("draw_uncontended", |b| b.iter(|| draw_and_return(&pool)));

    let pool = Arc::new(CreditPool::new(1 << 40));
    let done = Arc::new(AtomicBool::new(false));
    let rival = {
        let (pool, done) = (Arc::clone(&pool), Arc::clone(&done));
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                draw_and_return(&pool);
            }
        })
    };
    group.bench_function("draw_2_threads", |b| b.iter(|| draw_and_return(&pool)));
    done.store(true, Ordering::Relaxed);
    rival.join().expect("the rival thread");
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
