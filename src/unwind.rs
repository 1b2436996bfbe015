//! All of corepool's panic catching lives here: user code (tasks, callbacks,
//! initializers, input iterators) runs through these functions and its
//! panics come back as values.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::Payload;

/// Runs `f`, returning its panic payload instead of unwinding.
///
/// `AssertUnwindSafe` is sound here in the sense the standard library means:
/// a caught panic is reported to the submitter as an error, and whatever `f`
/// captured is dropped, never observed again by corepool.
pub(crate) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Payload> {
    catch_unwind(AssertUnwindSafe(f))
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
                seen.push(r.map_err(|p| crate::error::payload_message(&*p).unwrap().to_owned()));
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
