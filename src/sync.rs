//! The synchronization primitives of corepool's concurrency core, behind a
//! facade (as tokio's `src/loom/`): the standard library's types normally,
//! loom's when built with `RUSTFLAGS="--cfg corepool_loom"`, so the loom models in
//! `src/tests/` explore every interleaving of the code that really ships.
//!
//! Only what the models exercise goes through here: the result slot's lock,
//! the map assembler's lock, the queue and the lifecycle flags. `Arc` stays
//! the standard one (loom's cannot hold `dyn Trait`); its reference counts
//! are not part of any protocol corepool relies on.

#[cfg(not(corepool_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(not(corepool_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(corepool_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(corepool_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

/// Locks `mutex`, recovering from poisoning.
///
/// corepool never runs user code while holding one of its own locks (user
/// closures, callbacks and `Drop`s of user values run after the guard is
/// released), so a poisoned lock can only come from a bug in corepool
/// itself; the data behind it is still consistent at every unlock point, so
/// carrying on is sound and better than turning one bug into a cascade of
/// panics.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks `mutex` if it is free now (recovering from poisoning); `None` if
/// another guard holds it.
pub(crate) fn try_lock<T>(mutex: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}
