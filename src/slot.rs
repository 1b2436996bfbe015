//! A one-shot cell that carries one job's outcome from a worker to whoever
//! waits for it: an async task (through its `Waker`) or a blocked thread
//! (through the thread-parking waker of `blocking.rs`).
//!
//! The sending half, [`Completer`], resolves the cell as *cancelled* if it is
//! dropped without completing, so a job that is thrown away (terminate, a
//! closed queue, a dropped closure) can never leave its waiter hanging.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::error::TaskError;

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
    waker: Option<Waker>,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Slot {
            state: Mutex::new(State {
                outcome: None,
                complete: false,
                waker: None,
            }),
            abandoned: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // No user code runs under this lock, so it cannot be poisoned by a
        // user panic; recover rather than propagate if it ever is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Polls for the outcome, taking it out. Returns `Ready(None)` if it was
    /// already taken.
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        let mut state = self.lock();
        if state.complete {
            return Poll::Ready(state.outcome.take());
        }
        store_waker(&mut state.waker, cx);
        Poll::Pending
    }

    /// Polls for completion without taking the outcome.
    pub(crate) fn poll_complete(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.lock();
        if state.complete {
            return Poll::Ready(());
        }
        store_waker(&mut state.waker, cx);
        Poll::Pending
    }

    fn complete(&self, outcome: Result<T, TaskError>) {
        let waker = {
            let mut state = self.lock();
            debug_assert!(!state.complete, "a slot is completed once");
            state.outcome = Some(outcome);
            state.complete = true;
            state.waker.take()
        };
        // Wake outside the lock so the woken task does not contend on it.
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

fn store_waker(slot: &mut Option<Waker>, cx: &mut Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// The sending half of a [`Slot`]. Completing consumes it; dropping it
/// uncompleted resolves the slot as cancelled.
pub(crate) struct Completer<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Completer<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>) -> Self {
        Completer { slot: Some(slot) }
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
            slot.complete(Err(TaskError::cancelled()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;

    #[test]
    fn dropped_completer_cancels() {
        let slot = Slot::<u8>::new();
        drop(Completer::new(slot.clone()));
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
        Completer::new(slot.clone()).complete(Ok(3));
        assert_eq!(slot.peek_ok(), Some(true));
        assert!(matches!(slot.poll_take(&mut cx), Poll::Ready(Some(Ok(3)))));
        assert!(slot.is_complete());
        assert_eq!(slot.peek_ok(), None);
    }
}
