//! The behaviour tests, as one test binary: each file of `tests/` is a
//! module here (one link instead of twenty, and shared monomorphizations,
//! so that the README's `cargo test` builds fast). The tests that need a
//! process of their own stay separate binaries (see `Cargo.toml`): a
//! counting global allocator (`allocations`, `leaks`, which also counts the
//! process's threads), a global tracing subscriber (`tracing`), address-space
//! limits (`os_faults`), and the `tower` feature.

mod common;

#[path = "adaptive.rs"]
mod adaptive;
#[path = "apply.rs"]
mod apply;
#[path = "arguments.rs"]
mod arguments;
#[path = "cancellation.rs"]
mod cancellation;
#[path = "deadlines.rs"]
mod deadlines;
#[path = "fallible.rs"]
mod fallible;
#[path = "imap.rs"]
mod imap;
#[path = "lanes.rs"]
mod lanes;
#[path = "lifecycle.rs"]
mod lifecycle;
#[path = "load_shedding.rs"]
mod load_shedding;
#[path = "map.rs"]
mod map;
#[path = "metrics.rs"]
mod metrics;
#[path = "model.rs"]
mod model;
#[path = "nesting.rs"]
mod nesting;
#[path = "one_door.rs"]
mod one_door;
#[path = "permits.rs"]
mod permits;
#[path = "recycling.rs"]
mod recycling;
#[path = "reliability.rs"]
mod reliability;
#[path = "runtime.rs"]
mod runtime;
#[path = "state.rs"]
mod state;
