//! The firm-wide message count: no interleaving of shards counting in one window lets
//! more than the limit through `try_add`, and no count is lost.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tickpipe_loom_tests::sys::WindowCount;

/// Two shards each try to count two messages in a window that takes three: exactly three
/// get through, whatever the interleaving, and the window holds three.
#[test]
fn no_interleaving_counts_past_the_limit() {
    loom::model(|| {
        let count = Arc::new(WindowCount::new());
        let shard = |count: Arc<WindowCount>| {
            thread::spawn(move || (0..2).filter(|_| count.try_add(7, 3)).count())
        };
        let a = shard(Arc::clone(&count));
        let b = shard(Arc::clone(&count));
        let granted = a.join().unwrap() + b.join().unwrap();
        assert_eq!(granted, 3);
        assert_eq!(count.count(7), 3);
    });
}

/// Two shards count a cancel each in a window that has to take its slot over from an
/// older one (72 replaces 8): whichever moves the slot on, neither count is lost.
#[test]
fn a_new_window_and_a_count_in_it_are_both_kept() {
    loom::model(|| {
        let count = Arc::new(WindowCount::new());
        let a = {
            let count = Arc::clone(&count);
            thread::spawn(move || count.add(72))
        };
        let b = {
            let count = Arc::clone(&count);
            thread::spawn(move || count.add(72))
        };
        let mut seen = [a.join().unwrap(), b.join().unwrap()];
        seen.sort_unstable();
        assert_eq!(seen, [1, 2]);
        assert_eq!(count.count(72), 2);
    });
}
