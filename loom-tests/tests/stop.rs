//! The stop signal: whoever sees `Failed` finds the failure that caused it, and an
//! orderly stop never hides a failure.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use tickpipe_loom_tests::sys::{Failure, StopSignal};

fn failure(runner: &str) -> Failure {
    Failure {
        runner: runner.into(),
        stage: "risk".into(),
        message: "boom".into(),
    }
}

#[test]
fn seeing_failed_means_the_failure_is_recorded() {
    loom::model(|| {
        let stop = Arc::new(StopSignal::new());
        let runner = {
            let s = Arc::clone(&stop);
            thread::spawn(move || s.fail(failure("shard0/risk")))
        };
        if stop.is_failed() {
            assert_eq!(stop.failures().len(), 1);
        }
        runner.join().unwrap();
        assert!(stop.is_failed() && stop.should_stop());
    });
}

#[test]
fn a_concurrent_orderly_stop_does_not_mask_a_failure() {
    loom::model(|| {
        let stop = Arc::new(StopSignal::new());
        let a = {
            let s = Arc::clone(&stop);
            thread::spawn(move || s.fail(failure("shard0/risk")))
        };
        let b = {
            let s = Arc::clone(&stop);
            thread::spawn(move || s.request_stop())
        };
        a.join().unwrap();
        b.join().unwrap();
        assert!(stop.is_failed());
        assert_eq!(stop.failures()[0].runner, "shard0/risk");
    });
}

#[test]
fn two_failing_runners_are_both_recorded() {
    loom::model(|| {
        let stop = Arc::new(StopSignal::new());
        let a = {
            let s = Arc::clone(&stop);
            thread::spawn(move || s.fail(failure("a")))
        };
        stop.fail(failure("b"));
        a.join().unwrap();
        let mut names: Vec<_> = stop.failures().into_iter().map(|f| f.runner).collect();
        names.sort();
        assert_eq!(names, ["a", "b"]);
    });
}
