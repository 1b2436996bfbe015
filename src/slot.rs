//! A one-shot cell that carries one job's outcome from a worker to whoever
//! waits for it: the task that owns the result (through its `Waker`), and any
//! number of threads blocked in `wait` on a shared reference.
//!
//! A slot lives inside the allocation of whatever fills it (an `apply`'s
//! job cell, a map's assembler), as tokio's `JoinHandle` reads from its
//! task's cell; the job cell guarantees it is completed exactly once,
//! whether the job runs, is rejected or is dropped (see `job.rs`).
//!
//! # Protocol
//!
//! Everything lives under one mutex: the outcome, the `complete` flag and the
//! wakers. A poll checks `complete` and, if it is not set, stores its waker
//! *under the same lock*; `complete` sets the flag and takes every stored
//! waker under that lock, then wakes them after releasing it. So a waker is
//! either stored before completion (and taken and woken by it) or its poll
//! sees `complete`: no wake-up is lost. The lock also gives the
//! happens-before edge that publishes the outcome to the waiter that takes
//! it. The model in `src/tests/loom_slot.rs` checks both, with two waiters.
//!
//! The `abandoned` flag is a hint, read with `Relaxed`: a worker that misses
//! a concurrent `abandon` merely runs work nobody wants, and nothing is read
//! through it.

use std::task::{Context, Poll, Waker};

use crate::callbacks::Deliver;
use crate::error::TaskError;
use crate::sync::{self, AtomicBool, Mutex, MutexGuard, Ordering};

pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Set when nobody wants the outcome any more (the receiving handle was
    /// dropped, or a map failed fast): work that has not started is skipped.
    abandoned: AtomicBool,
    /// Set when the outcome is wanted whoever holds the handle (callbacks,
    /// `detach`): the work then does not follow its parent job's
    /// cancellation either.
    detached: AtomicBool,
}

struct State<T> {
    outcome: Option<Result<T, TaskError>>,
    /// Whether an outcome was ever stored (it stays true once taken).
    complete: bool,
    /// The waker of the handle's owner (`.await`, `get`): one at a time,
    /// since those take `&mut`.
    owner: Option<Waker>,
    /// Threads blocked in `wait`/`wait_timeout` through `&self`, each under
    /// its own key so it can remove exactly its entry when it gives up.
    waiters: Vec<(u64, Waker)>,
    next_key: u64,
    /// The handle is gone (dropped or detached): an outcome that arrives
    /// now is dropped where it is made (on the worker), not kept.
    released: bool,
}

/// A registration of one blocked thread in a slot's waiter list; removes
/// itself when dropped.
pub(crate) struct Waiter<'a, T> {
    slot: &'a Slot<T>,
    key: u64,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot {
            state: Mutex::new(State {
                outcome: None,
                complete: false,
                owner: None,
                waiters: Vec::new(),
                next_key: 0,
                released: false,
            }),
            abandoned: AtomicBool::new(false),
            detached: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        sync::lock(&self.state)
    }

    pub(crate) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }

    pub(crate) fn detach(&self) {
        self.detached.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Relaxed)
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.lock().complete
    }

    /// `Some(true)` if complete and successful, `Some(false)` if complete with
    /// an error, `None` if not complete or the outcome was already taken.
    pub(crate) fn peek_ok(&self) -> Option<bool> {
        self.lock().outcome.as_ref().map(Result::is_ok)
    }

    /// Polls for the outcome on behalf of the handle's owner, taking it out.
    /// Returns `Ready(None)` if it was already taken.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        let mut state = self.lock();
        if state.complete {
            return Poll::Ready(state.outcome.take());
        }
        match &state.owner {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.owner = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The handle is gone: an outcome already here is handed back to be
    /// dropped by the caller (the handle's thread); one that arrives later is
    /// dropped by the worker that makes it.
    pub(crate) fn release(&self) -> Option<Result<T, TaskError>> {
        let mut state = self.lock();
        state.released = true;
        state.outcome.take()
    }

    /// Registers a thread that will wait for completion without taking the
    /// outcome.
    pub(crate) fn waiter(&self) -> Waiter<'_, T> {
        let mut state = self.lock();
        let key = state.next_key;
        state.next_key += 1;
        Waiter { slot: self, key }
    }

    /// Stores the outcome and wakes every waiter. Called once.
    pub(crate) fn complete(&self, outcome: Result<T, TaskError>) {
        let (owner, waiters) = {
            let mut state = self.lock();
            debug_assert!(!state.complete, "a slot is completed once");
            state.complete = true;
            if state.released {
                // Nobody can take it: drop it here, on the worker, and
                // quietly (a user `Drop` may panic).
                drop(state);
                return crate::unwind::drop_quietly(outcome);
            }
            state.outcome = Some(outcome);
            (state.owner.take(), std::mem::take(&mut state.waiters))
        };
        // Wake outside the lock so the woken do not contend on it.
        for (_, waker) in waiters {
            waker.wake();
        }
        if let Some(waker) = owner {
            waker.wake();
        }
    }
}

impl<T> Waiter<'_, T> {
    /// Polls for completion, leaving the outcome in place.
    pub(crate) fn poll_complete(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.slot.lock();
        if state.complete {
            return Poll::Ready(());
        }
        let key = self.key;
        match state.waiters.iter_mut().find(|(k, _)| *k == key) {
            Some((_, waker)) if waker.will_wake(cx.waker()) => {}
            Some((_, waker)) => *waker = cx.waker().clone(),
            None => state.waiters.push((key, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl<T> Drop for Waiter<'_, T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.slot.lock();
            let key = self.key;
            state
                .waiters
                .iter()
                .position(|(k, _)| *k == key)
                .map(|at| state.waiters.swap_remove(at))
        };
        drop(waker); // outside the lock
    }
}

/// Delivers an outcome: the callbacks first (Python's order), then the slot.
pub(crate) fn deliver<T>(
    slot: &Slot<T>,
    callbacks: Option<Deliver<T>>,
    outcome: Result<T, TaskError>,
    id: u64,
) {
    let outcome = match callbacks {
        Some(deliver) => deliver(outcome, id),
        None => outcome,
    };
    slot.complete(outcome);
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    #[test]
    fn outcome_is_taken_once() {
        let slot = Slot::new();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(slot.poll_take(&mut cx).is_pending());
        slot.complete(Ok(3));
        assert_eq!(slot.peek_ok(), Some(true));
        assert!(matches!(slot.poll_take(&mut cx), Poll::Ready(Some(Ok(3)))));
        assert!(slot.is_complete());
        assert_eq!(slot.peek_ok(), None);
    }

    #[test]
    fn a_waiter_that_gives_up_leaves_no_waker_behind() {
        let slot = Slot::<u8>::new();
        let mut cx = Context::from_waker(noop_waker_ref());
        for _ in 0..100 {
            let waiter = slot.waiter();
            assert!(waiter.poll_complete(&mut cx).is_pending());
            assert!(waiter.poll_complete(&mut cx).is_pending()); // re-poll: no duplicate
        }
        assert!(slot.lock().waiters.is_empty());
    }
}
