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
    if let Err(payload) = catch(f) {
        ignored(payload);
    }
}

/// Logs and drops the payload of a panic [`quietly`] caught (not generic:
/// compiled once, not once per closure).
fn ignored(payload: Payload) {
    // No error is made of this panic: forget where it happened, so the
    // next error made on this thread does not take its location.
    drop(take_location());
    tracing::warn!("a user value's drop (or a callback) panicked; ignored");
    // The payload's own `Drop` may panic too.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
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
    enter_catch();
    let caught = catch_unwind(AssertUnwindSafe(f));
    leave_catch();
    caught
}

// The thread-local updates of `catch`, outside the generic function: a
// `LocalKey::with` written inside it is compiled again for every closure
// type `catch` is called with (thousands of copies in the test suite's
// build; `cargo llvm-lines`).
#[inline]
fn enter_catch() {
    CATCHING.with(|c| c.set(c.get() + 1));
}

#[inline]
fn leave_catch() {
    CATCHING.with(|c| c.set(c.get() - 1));
}

/// Pushes `f(item, index)` onto `out` for the next `n` items of `items`
/// (fewer if they end first), `index` being the position in `out` the value
/// takes. A panicking item pushes `on_panic(payload, index)` in its place
/// and the run goes on with the next item.
///
/// One guard covers the run until a panic, not one per item (a guard costs
/// a thread-local update on entry and exit); after a panic a new guard
/// resumes after the item that panicked. The iterator and the count live
/// outside the guard, so they survive the unwind; each item is counted
/// before it is called, so the one that panicked is not run again.
pub(crate) fn push_caught<I, T>(
    out: &mut Vec<T>,
    items: &mut impl Iterator<Item = I>,
    n: usize,
    f: impl Fn(I, usize) -> T,
    on_panic: impl Fn(Payload, usize) -> T,
) {
    let mut left = n;
    while left > 0 {
        let run = catch(|| {
            while left > 0 {
                let Some(item) = items.next() else {
                    return;
                };
                left -= 1;
                let value = f(item, out.len());
                out.push(value);
            }
        });
        match run {
            Ok(()) => return, // `n` items, or the input ended
            // A panic comes from `f`: `push` and the count do not panic
            // (`out` is sized for its items).
            Err(payload) => out.push(on_panic(payload, out.len())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pushed(items: std::ops::Range<i32>, n: usize, out: &mut Vec<Result<i32, String>>) {
        let mut items = items;
        push_caught(
            out,
            &mut items,
            n,
            |x, at| {
                if x % 2 == 1 {
                    panic!("odd {x} at {at}");
                }
                Ok(x * 10)
            },
            |p, at| Err(format!("{} / {at}", payload_message(&*p).unwrap())),
        );
    }

    #[test]
    fn each_panicking_item_is_reported_in_place() {
        let mut seen = Vec::new();
        pushed(0..6, 100, &mut seen);
        let expected: Vec<Result<i32, String>> = vec![
            Ok(0),
            Err("odd 1 at 1 / 1".into()),
            Ok(20),
            Err("odd 3 at 3 / 3".into()),
            Ok(40),
            Err("odd 5 at 5 / 5".into()),
        ];
        assert_eq!(seen, expected);
    }

    #[test]
    fn stops_after_n_items_panicking_or_not() {
        let mut seen = Vec::new();
        let mut items = 0..100;
        // Items 1 and 3 panic; 4 items in all, then the rest is left.
        push_caught(
            &mut seen,
            &mut items,
            4,
            |x, _| {
                assert!(x % 2 == 0, "odd");
                x
            },
            |_, at| -(at as i32),
        );
        assert_eq!(seen, [0, -1, 2, -3]);
        assert_eq!(items.next(), Some(4));
        // A panic on the last counted item ends the run too.
        let mut seen = Vec::new();
        let mut items = 1..10;
        push_caught(
            &mut seen,
            &mut items,
            1,
            |x, _| -> i32 { panic!("{x}") },
            |_, _| 0,
        );
        assert_eq!((seen, items.next()), (vec![0], Some(2)));
    }
}
