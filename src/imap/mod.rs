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
use crate::pool::Pool;
use feed::Feeder;
use window::Window;

/// The window of an `imap` over `input`, calling `f` on the pool.
fn window<S, T, F, Q>(pool: &Pool, f: F, input: S, stateful: bool) -> Window<T, Q>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
    T: Send + 'static,
    Q: window::ChunkQueue<T>,
{
    let feed = Box::new(Feeder::new(pool.clone(), f, input, stateful));
    Window::new(feed, pool.workers())
}

/// An ordered `imap` of `f` over `input`.
pub(crate) fn ordered<S, T, F>(pool: &Pool, f: F, input: S, stateful: bool) -> Imap<T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    Imap::new(window(pool, move |item| Ok(f(item)), input, stateful))
}

/// An unordered `imap` of `f` over `input`.
pub(crate) fn unordered<S, T, F>(pool: &Pool, f: F, input: S, stateful: bool) -> ImapUnordered<T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> T + Send + Sync + 'static,
    T: Send + 'static,
{
    ImapUnordered::new(window(pool, move |item| Ok(f(item)), input, stateful))
}
