//! The result slot: completion and cancellation racing the owner's poll and
//! a blocked waiter, and a waiter giving up racing completion.

use std::future::poll_fn;
use std::task::Poll;

use loom::thread;

use std::sync::Arc;

use crate::slot::Slot;

#[test]
fn completion_reaches_the_owner_and_a_waiter() {
    loom::model(|| {
        let slot = Arc::new(Slot::<u32>::new());
        let s = slot.clone();
        let worker = thread::spawn(move || s.complete(Ok(7)));
        let s = slot.clone();
        let waiter = thread::spawn(move || {
            let waiter = s.waiter();
            loom::future::block_on(poll_fn(|cx| waiter.poll_complete(cx)));
            assert!(s.is_complete());
        });
        // The owner takes the outcome; a lost wake-up would deadlock here.
        let outcome = loom::future::block_on(poll_fn(|cx| slot.poll_take(cx)));
        assert_eq!(outcome.unwrap().unwrap(), 7);
        worker.join().unwrap();
        waiter.join().unwrap();
    });
}

#[test]
fn two_waiters_are_both_woken() {
    loom::model(|| {
        let slot = Arc::new(Slot::<u32>::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = slot.clone();
                thread::spawn(move || {
                    let waiter = s.waiter();
                    loom::future::block_on(poll_fn(|cx| waiter.poll_complete(cx)));
                })
            })
            .collect();
        slot.complete(Ok(1));
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(slot.peek_ok(), Some(true));
    });
}

#[test]
fn a_waiter_giving_up_races_completion() {
    loom::model(|| {
        let slot = Arc::new(Slot::<u32>::new());
        let s = slot.clone();
        let waiter = thread::spawn(move || {
            let waiter = s.waiter();
            // One poll, then give up (a timed wait whose deadline passed).
            let polled =
                loom::future::block_on(poll_fn(|cx| Poll::Ready(waiter.poll_complete(cx))));
            drop(waiter);
            polled.is_ready()
        });
        slot.complete(Ok(2));
        let saw_it = waiter.join().unwrap();
        // Whatever the interleaving, the outcome is intact and no waiter
        // entry is left behind.
        assert!(slot.is_complete());
        assert_eq!(slot.peek_ok(), Some(true));
        let _ = saw_it;
    });
}

#[test]
fn a_released_handle_racing_completion_drops_the_outcome_once() {
    loom::model(|| {
        let drops = super::Drops::default();
        let slot = Arc::new(Slot::new());
        let value = drops.value(1);
        let s = slot.clone();
        // The worker completes while the handle is dropped (released).
        let worker = thread::spawn(move || s.complete(Ok(value)));
        let handed_back = slot.release();
        let dropped_here = handed_back.is_some();
        drop(handed_back);
        worker.join().unwrap();
        // Dropped exactly once: here if it came first, else by the worker.
        assert_eq!(drops.count(), 1, "dropped here: {dropped_here}");
        assert!(slot.is_complete());
    });
}
