//! The firm-wide credit pool: no interleaving of shards drawing and returning grants
//! more than the pool holds, and credit a shard returns is never lost.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tickpipe_loom_tests::credit::RacyPool;
use tickpipe_loom_tests::sys::{CreditPool, CreditShare};

/// Two shards each try to commit 3 units from a pool of 5, in chunks of 2: at most one
/// can have all 3 (3 + 3 > 5), and whatever each holds fits in the pool.
#[test]
fn no_interleaving_grants_more_than_the_pool() {
    loom::model(|| {
        let pool = Arc::new(CreditPool::new(5));
        let shard = |pool: Arc<CreditPool>| {
            thread::spawn(move || {
                let mut share = CreditShare::new(2);
                let granted = share.commit(&pool, 3);
                (granted, share.held())
            })
        };
        let a = shard(Arc::clone(&pool));
        let b = shard(Arc::clone(&pool));
        let (ga, ha) = a.join().unwrap();
        let (gb, hb) = b.join().unwrap();
        assert!(!(ga && gb), "both shards were granted 3 of 5");
        assert!(ga || gb, "one of them fits");
        assert_eq!(ha + hb + pool.available(), 5, "credit is conserved");
    });
}

/// One shard returns what it drew while another draws: the return is never lost, so
/// once both are done and have settled, the pool is whole again.
#[test]
fn returned_credit_is_never_lost() {
    loom::model(|| {
        let pool = Arc::new(CreditPool::new(4));
        let a = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let mut share = CreditShare::new(1);
                assert!(share.commit(&pool, 2));
                share.release(&pool, 2);
                share.settle(&pool);
            })
        };
        let b = {
            let pool = Arc::clone(&pool);
            thread::spawn(move || {
                let mut share = CreditShare::new(1);
                let granted = share.commit(&pool, 2);
                share.release(&pool, 2);
                share.settle(&pool);
                granted
            })
        };
        a.join().unwrap();
        assert!(b.join().unwrap(), "4 units cover two commitments of 2");
        assert_eq!(pool.available(), 4);
    });
}

/// The negative control: a draw that loads, checks and stores separately lets both
/// shards take 3 of 5. Loom must find the interleaving; if it stops finding it, the
/// model above has lost its teeth.
#[test]
#[should_panic(expected = "both shards were granted")]
fn a_load_then_store_draw_can_overgrant() {
    loom::model(|| {
        let pool = Arc::new(RacyPool::new(5));
        let shard = |pool: Arc<RacyPool>| thread::spawn(move || pool.draw(3));
        let a = shard(Arc::clone(&pool));
        let b = shard(Arc::clone(&pool));
        let (ga, gb) = (a.join().unwrap(), b.join().unwrap());
        assert!(!(ga && gb), "both shards were granted 3 of 5");
    });
}
