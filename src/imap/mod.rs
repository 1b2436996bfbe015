//! `imap` and `imap_unordered`: lazy, bounded, cancellable streams.

mod adaptive;
mod chunk;
mod feed;
mod input;
mod iter;
mod ordered;
mod unordered;
mod window;

use futures::Stream;

pub use input::{Input, StreamInput, from_stream};
pub use iter::BlockingIter;
pub use ordered::Imap;
pub use unordered::ImapUnordered;

use crate::error::UserResult;
use std::sync::Arc;

use crate::job::LaneRef;
use crate::registry::Owner;

/// Whose jobs an `imap` makes: a stateful pool's, a lane's.
#[derive(Clone, Default)]
pub(crate) struct Target {
    /// The chunks borrow their worker's state (`StatefulPool`).
    pub(crate) stateful: bool,
    pub(crate) lane: Option<LaneRef>,
}
use feed::Feeder;
use window::Window;

/// The window of an `imap` over `input`, calling `f` on the pool.
fn window<S, T, F, Q>(owner: &Arc<Owner>, f: F, input: S, target: Target) -> Window<T, Q>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
    T: Send + 'static,
    Q: window::ChunkQueue<T>,
{
    let feed = Box::new(Feeder::new(owner.clone(), f, input, target));
    Window::new(feed, owner.registry.workers)
}

/// An ordered `imap` of `f` over `input`.
pub(crate) fn ordered<S, T, F>(owner: &Arc<Owner>, f: F, input: S, target: Target) -> Imap<T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    Imap::new(window(owner, move |item| Ok(f(item)), input, target))
}

/// An unordered `imap` of `f` over `input`.
pub(crate) fn unordered<S, T, F>(
    owner: &Arc<Owner>,
    f: F,
    input: S,
    target: Target,
) -> ImapUnordered<T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    ImapUnordered::new(window(owner, move |item| Ok(f(item)), input, target))
}
