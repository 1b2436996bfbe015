//! A one-shot cell that carries one job's outcome from a worker to whoever
//! waits for it: the task that owns the result (through its `Waker`), and any
//! number of threads blocked in `wait` on a shared reference.
//!
//! The sending half, [`Completer`], resolves the cell as *cancelled* if it is
//! dropped without completing, so a job that is thrown away (terminate, a
//! closed queue, a dropped closure) can never leave its waiters hanging.
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

use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::callbacks::Deliver;
use crate::error::{Cancellation, TaskError};
use crate::sync::{self, AtomicBool, Mutex, MutexGuard, Ordering};

pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Set when nobody wants the outcome any more (the receiving handle was
    /// dropped, or a map failed fast): work that has not started is skipped.
    abandoned: AtomicBool,
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
}

/// A registration of one blocked thread in a slot's waiter list; removes
/// itself when dropped.
pub(crate) struct Waiter<'a, T> {
    slot: &'a Slot<T>,
    key: u64,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Slot {
            state: Mutex::new(State {
                outcome: None,
                complete: false,
                owner: None,
                waiters: Vec::new(),
                next_key: 0,
            }),
            abandoned: AtomicBool::new(false),
        })
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

    /// Registers a thread that will wait for completion without taking the
    /// outcome.
    pub(crate) fn waiter(&self) -> Waiter<'_, T> {
        let mut state = self.lock();
        let key = state.next_key;
        state.next_key += 1;
        Waiter { slot: self, key }
    }

    fn complete(&self, outcome: Result<T, TaskError>) {
        let (owner, waiters) = {
            let mut state = self.lock();
            debug_assert!(!state.complete, "a slot is completed once");
            state.outcome = Some(outcome);
            state.complete = true;
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

/// The sending half of a [`Slot`]. Completing consumes it; dropping it
/// uncompleted resolves the slot as cancelled.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
    /// The submission's id, for the errors made here.
    id: u64,
}

impl<T> Completer<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>, id: u64) -> Self {
        Completer {
            slot: Some(slot),
            id,
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn slot(&self) -> &Slot<T> {
        self.slot.as_ref().expect("completer used after completion")
    }

    pub(crate) fn complete(mut self, outcome: Result<T, TaskError>) {
        if let Some(slot) = self.slot.take() {
            slot.complete(outcome);
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.complete(Err(TaskError::cancelled(self.id, Cancellation::Abandoned)));
        }
    }
}

impl<T: Send> crate::cancel::Wanted for Slot<T> {
    fn is_abandoned(&self) -> bool {
        Slot::is_abandoned(self)
    }
}

// ===== impl Finisher =====

/// Delivers an outcome: the callbacks first (Python's order), then the slot.
pub(crate) struct Finisher<T> {
    completer: Completer<T>,
    callbacks: Option<Deliver<T>>,
}

impl<T> Finisher<T> {
    /// A new slot for submission `id`, and the finisher that delivers to it.
    pub(crate) fn pair(id: u64, callbacks: Option<Deliver<T>>) -> (Arc<Slot<T>>, Self) {
        let slot = Slot::new();
        let finisher = Finisher {
            completer: Completer::new(slot.clone(), id),
            callbacks,
        };
        (slot, finisher)
    }

    pub(crate) fn slot(&self) -> &Slot<T> {
        self.completer.slot()
    }

    /// The submission's id.
    pub(crate) fn id(&self) -> u64 {
        self.completer.id()
    }

    /// What a running task checks to learn its result is no longer wanted.
    pub(crate) fn wanted(&self) -> Arc<dyn crate::cancel::Wanted>
    where
        T: Send + 'static,
    {
        self.completer
            .slot
            .clone()
            .expect("completer used after completion")
    }

    pub(crate) fn finish(self, outcome: Result<T, TaskError>) {
        let outcome = match self.callbacks {
            Some(deliver) => deliver(outcome, self.completer.id()),
            None => outcome,
        };
        self.completer.complete(outcome);
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    #[test]
    fn dropped_completer_cancels() {
        let slot = Slot::<u8>::new();
        drop(Completer::new(slot.clone(), 0));
        let mut cx = Context::from_waker(noop_waker_ref());
        match slot.poll_take(&mut cx) {
            Poll::Ready(Some(Err(e))) => assert!(e.is_cancelled()),
            _ => panic!("expected a cancelled outcome"),
        }
        assert!(matches!(slot.poll_take(&mut cx), Poll::Ready(None)));
    }

    #[test]
    fn outcome_is_taken_once() {
        let slot = Slot::new();
        let mut cx = Context::from_waker(noop_waker_ref());
        assert!(slot.poll_take(&mut cx).is_pending());
        Completer::new(slot.clone(), 0).complete(Ok(3));
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
