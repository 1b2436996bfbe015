//! All of corepool's panic catching lives here: user code (tasks, callbacks,
//! initializers, input iterators, `Drop`s of user values) runs through these
//! functions and its panics come back as values.
//!
//! # Where a task panicked
//!
//! A payload does not say where the panic happened; only the panic hook
//! sees that. The first pool built installs a hook that *chains* the one in
//! place then (the default hook, or the application's): while a thread is
//! inside [`catch`], it notes the panic's `file:line:column` in a
//! thread-local, then calls the previous hook, so whatever the application
//! logged before it still logs. [`take_location`] hands the note to the
//! error being made. An application that installs its own hook *after*
//! building a pool replaces ours: its tasks' errors then carry no location,
//! and nothing else changes.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use std::any::Any;

/// A panic's payload, as `catch_unwind` returns it.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// The message of a panic payload, when it is a `&str` or a `String`.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

thread_local! {
    /// How many `catch` frames this thread is inside.
    static CATCHING: Cell<usize> = const { Cell::new(0) };
    /// Where the last panic caught on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the location-noting panic hook, chained to the current one;
/// once per process.
pub(crate) fn install_location_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CATCHING.with(Cell::get) > 0 {
                if let Some(at) = info.location() {
                    let at = format!("{}:{}:{}", at.file(), at.line(), at.column());
                    LOCATION.with(|l| *l.borrow_mut() = Some(at));
                }
            }
            previous(info);
        }));
    });
}

/// Where the panic last caught on this thread happened, if the hook saw it.
pub(crate) fn take_location() -> Option<String> {
    LOCATION.with(|l| l.borrow_mut().take())
}

/// Runs `f` and drops what it returns, logging a panic instead of unwinding:
/// for dropping user values (a closure that will not run, items, results,
/// errors), whose `Drop` may panic, on a path that must go on.
pub(crate) fn quietly(f: impl FnOnce()) {
    if catch(f).is_err() {
        // No error is made of this panic: forget where it happened, so the
        // next error made on this thread does not take its location.
        drop(take_location());
        tracing::warn!("a user value's drop (or a callback) panicked; ignored");
    }
}

/// Drops `value`, catching a panic from its `Drop` (see [`quietly`]).
pub(crate) fn drop_quietly<T>(value: T) {
    quietly(move || drop(value));
}

/// Runs `f`, returning its panic payload instead of unwinding.
///
/// `AssertUnwindSafe` is sound here in the sense the standard library means:
/// a caught panic is reported to the submitter as an error, and whatever `f`
/// captured is dropped, never observed again by corepool.
#[inline]
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Payload> {
    // `catch_unwind` never unwinds out, so the count is restored without a
    // guard (a guard's landing pad cost the map's item loop ~5 instructions
    // an item, measured with callgrind).
    CATCHING.with(|c| c.set(c.get() + 1));
    let caught = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    caught
}

/// Applies `f` to each item, handing each outcome to `sink` in order, and
/// stops early when `sink` returns `false`.
///
/// A panic in `f` is caught per item, but without a `catch_unwind` per item:
/// one guard covers the run until a panic, then a new guard resumes after the
/// item that panicked. The iterator lives outside the guard, so its position
/// survives the unwind.
pub(crate) fn map_caught<I, T>(
    items: impl Iterator<Item = I>,
    f: impl Fn(I) -> T,
    mut sink: impl FnMut(Result<T, Payload>) -> bool,
) {
    let mut items = items;
    loop {
        let run = catch(|| {
            for item in items.by_ref() {
                if !sink(Ok(f(item))) {
                    return;
                }
            }
        });
        // A panic comes from `f`: corepool's sinks do not panic.
        match run {
            Ok(()) => return,
            Err(payload) => {
                if !sink(Err(payload)) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_panicking_item_is_reported_in_place() {
        let mut seen = Vec::new();
        map_caught(
            0..6,
            |x| {
                if x % 2 == 1 {
                    panic!("odd {x}");
                }
                x * 10
            },
            |r| {
                seen.push(r.map_err(|p| payload_message(&*p).unwrap().to_owned()));
                true
            },
        );
        let expected: Vec<Result<i32, String>> = vec![
            Ok(0),
            Err("odd 1".into()),
            Ok(20),
            Err("odd 3".into()),
            Ok(40),
            Err("odd 5".into()),
        ];
        assert_eq!(seen, expected);
    }

    #[test]
    fn sink_can_stop_early() {
        let mut calls = 0;
        map_caught(
            0..100,
            |x| x,
            |_| {
                calls += 1;
                calls < 3
            },
        );
        assert_eq!(calls, 3);
    }
}
