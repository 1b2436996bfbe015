//! `imap` and `imap_unordered`: lazy, bounded, cancellable streams.

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

use crate::registry::Owner;
use feed::Feeder;
use window::Window;

/// The window of an `imap` over `input`, calling `f` on the pool.
fn window<S, T, F, Q>(owner: &Arc<Owner>, f: F, input: S, stateful: bool) -> Window<T, Q>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
    T: Send + 'static,
    Q: window::ChunkQueue<T>,
{
    let feed = Box::new(Feeder::new(owner.clone(), f, input, stateful));
    Window::new(feed, owner.registry.workers)
}

/// An ordered `imap` of `f` over `input`.
pub(crate) fn ordered<S, T, F>(owner: &Arc<Owner>, f: F, input: S, stateful: bool) -> Imap<T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    Imap::new(window(owner, move |item| Ok(f(item)), input, stateful))
}

/// An unordered `imap` of `f` over `input`.
pub(crate) fn unordered<S, T, F>(
    owner: &Arc<Owner>,
    f: F,
    input: S,
    stateful: bool,
) -> ImapUnordered<T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    ImapUnordered::new(window(owner, move |item| Ok(f(item)), input, stateful))
}
