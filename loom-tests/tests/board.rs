//! The P&L board: two shards publishing and raising the day's peak at once never lose a
//! raise, and every sum a shard reads is a sum of values the shards published.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tickpipe_loom_tests::sys::PnlBoard;

#[test]
fn no_raise_of_the_peak_is_lost() {
    loom::model(|| {
        let board = Arc::new(PnlBoard::new(2));
        let shard = |board: Arc<PnlBoard>, slot: usize, pnl: i64| {
            thread::spawn(move || {
                board.publish(slot, pnl);
                let total = board.total();
                assert!([pnl, 30].contains(&total), "{total}");
                board.peak(total)
            })
        };
        let a = shard(Arc::clone(&board), 0, 10);
        let b = shard(Arc::clone(&board), 1, 20);
        let (pa, pb) = (a.join().unwrap(), b.join().unwrap());
        assert!(pa >= 10 && pb >= 20);
        // Whoever read 30 raised the peak to it; whoever read alone, to its own.
        assert_eq!(board.peak(0), pa.max(pb));
    });
}
