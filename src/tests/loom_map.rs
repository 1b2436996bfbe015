//! The in-order map assembler: chunks finishing in every order on several
//! threads with the seal racing them, and a failure racing an append.

use std::future::poll_fn;

use loom::thread;

use super::{Drops, Tracked};
use crate::error::{Cancellation, TaskError};
use crate::map::Assembler;
use crate::result::Pending;
use std::sync::Arc;

fn assembler() -> (Arc<Assembler<Tracked>>, Arc<Assembler<Tracked>>) {
    let map = Arc::new(Assembler::new(0, None, true, Arc::default()));
    (map.clone(), map)
}

#[test]
fn chunks_in_any_order_assemble_in_input_order() {
    loom::model(|| {
        let drops = Drops::default();
        let (slot, map) = assembler();
        let threads: Vec<_> = (0..2_u32)
            .map(|chunk| {
                let (map, value) = (map.clone(), drops.value(chunk));
                thread::spawn(move || map.chunk_done(chunk as usize, vec![value]))
            })
            .collect();
        map.chunk_done(2, vec![drops.value(2)]);
        map.seal(3, 3);
        for t in threads {
            t.join().unwrap();
        }
        let out = loom::future::block_on(poll_fn(|cx| slot.slot().poll_take(cx)));
        let out = out.unwrap().unwrap();
        assert_eq!(out.iter().map(|t| t.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(drops.count(), 0, "nothing dropped before the output");
        drop(out);
        assert_eq!(drops.count(), 3);
    });
}

#[test]
fn a_failure_racing_an_append_resolves_once_and_drops_everything_once() {
    loom::model(|| {
        let drops = Drops::default();
        let (slot, map) = assembler();
        let appender = {
            let (map, value) = (map.clone(), drops.value(0));
            thread::spawn(move || map.chunk_done(0, vec![value]))
        };
        let failer = {
            let map = map.clone();
            thread::spawn(move || map.fail(TaskError::cancelled(0, Cancellation::Abandoned)))
        };
        map.chunk_done(1, vec![drops.value(1)]);
        map.seal(2, 2);
        appender.join().unwrap();
        failer.join().unwrap();
        let outcome = loom::future::block_on(poll_fn(|cx| slot.slot().poll_take(cx))).unwrap();
        match outcome {
            // The failure came after the map was complete: it is a no-op.
            Ok(out) => {
                assert_eq!(out.len(), 2);
                drop(out);
            }
            Err(e) => assert!(e.is_cancelled()),
        }
        drop((map, slot));
        assert_eq!(drops.count(), 2, "each value dropped exactly once");
    });
}
