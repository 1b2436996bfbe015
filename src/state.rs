//! Per-worker state for [`StatefulPool`](crate::StatefulPool): each worker
//! thread owns one value, made on that thread when it starts, and stateful
//! jobs borrow it mutably while they run.
//!
//! The value lives in a thread-local slot, type-erased (`Box<dyn Any>`):
//! the engine stays free of the state's type, and the value need not be
//! `Send` (it is made, used and dropped on its own thread). The typing is
//! done by `StatefulPool<S>`: only it submits stateful jobs, and only to its
//! own workers, every one of which made an `S`, so the downcast in [`with`]
//! cannot fail (a test checks it across recycling and nesting).
//!
//! A worker waiting on its own pool may run the jobs it waits for itself
//! (`blocking.rs`). A stateful job cannot run that way while the worker's
//! state is lent to the job that waits: it is then left to another worker
//! (see `job::Cell::may_run_inline`).

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// The context of plain work: closures that take no state. A type
/// parameter of the sealed submission traits, never a value.
#[derive(Debug, Clone, Copy)]
#[allow(unreachable_pub)]
pub struct Stateless(());

/// The context of work for a [`StatefulPool<S>`](crate::StatefulPool):
/// closures that borrow the worker's `&mut S`.
#[allow(unreachable_pub)]
pub struct State<S>(PhantomData<fn(&mut S)>);

impl<S> fmt::Debug for State<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("State")
    }
}

/// Makes the state of worker `index`, on its own thread.
pub(crate) type MakeState = Arc<dyn Fn(usize) -> Box<dyn Any> + Send + Sync + 'static>;

thread_local! {
    static STATE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Gives this worker thread its state.
pub(crate) fn install(state: Box<dyn Any>) {
    STATE.with(|slot| *slot.borrow_mut() = Some(state));
}

/// Takes this worker thread's state back (to drop it before the thread
/// exits, where a panic in its `Drop` can still be caught).
pub(crate) fn take() -> Option<Box<dyn Any>> {
    STATE.with(|slot| slot.try_borrow_mut().ok().and_then(|mut s| s.take()))
}

/// Whether this thread's state is lent to a running job.
pub(crate) fn is_lent() -> bool {
    STATE.with(|slot| slot.try_borrow_mut().is_err())
}

/// Runs `f` with this worker's state.
///
/// # Panics
///
/// If the state is not an `S` or is already lent: impossible for the jobs of
/// a `StatefulPool<S>` (see the module docs). The panic would be caught by
/// the job and reported as its error, never abort.
pub(crate) fn with<S: 'static, R>(f: impl FnOnce(&mut S) -> R) -> R {
    STATE.with(|slot| {
        let mut lent = slot
            .try_borrow_mut()
            .expect("corepool: a worker's state is lent to one job at a time");
        let state = lent
            .as_mut()
            .and_then(|s| s.downcast_mut::<S>())
            .expect("corepool: a stateful job ran on a worker of its own pool");
        f(state)
    })
}
