//! Capacity permits: [`Permit`], one place in a pool's bounded queue held
//! ahead of the work, from [`Pool::reserve`](crate::Pool::reserve) (waits
//! for room) and [`Pool::try_reserve`](crate::Pool::try_reserve) (refuses
//! at once).
//!
//! A permit is a place taken from the queue's count (`places.rs`) before
//! the work exists: submitting through it cannot be refused for lack of
//! room, and dropping it unused gives the place back (waking a submitter
//! that waits). This is the shape `tower` admission needs (`poll_ready`
//! takes a permit, `call` spends it) and what `offer` (take a place now or
//! refuse) and `submit` (wait for a place) do inside, with the work in hand.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::job::LaneRef;
use crate::registry::{Refused, Registry};
use crate::result::AsyncResult;
use crate::work::sealed::{Door, Mode};
use crate::work::{Work, admitted};

/// One place in a pool's queue, held until work is submitted through it
/// ([`spawn`](Permit::spawn)) or the permit is dropped (the place is given
/// back). From [`Pool::reserve`](crate::Pool::reserve) or
/// [`Pool::try_reserve`](crate::Pool::try_reserve).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build()?;
/// let permit = pool.reserve().await?; // waits for room, holds it
/// assert!(pool.try_reserve().unwrap_err().is_full()); // the only place is held
/// assert_eq!(permit.spawn(|| 6 * 7).await?, 42); // cannot be refused
/// # Ok(()) }
/// ```
#[must_use = "a permit holds a place in the queue until it is used or dropped"]
pub struct Permit {
    registry: Arc<Registry>,
    lane: Option<LaneRef>,
    held: bool,
}

impl Permit {
    pub(crate) fn new(registry: Arc<Registry>, lane: Option<LaneRef>) -> Permit {
        Permit {
            registry,
            lane,
            held: true,
        }
    }

    /// Submits `work` on the place this permit holds: never refused or
    /// shed for lack of room (the queue's wait target included). A
    /// [`Map`](crate::Map) is admitted whole: its first job takes the
    /// permit's place, its other chunks take places beyond the capacity
    /// while they wait. If the pool was closed meanwhile, the result
    /// resolves as cancelled ([`PoolClosed`](crate::Cancellation::PoolClosed)).
    ///
    /// # Errors
    ///
    /// The result resolves to the work's error: see [`AsyncResult`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::Map;
    ///
    /// let pool = corepool::Pool::builder().workers(2).queue_capacity(1).build()?;
    /// let permit = pool.try_reserve()?;
    /// let mut doubled = permit.spawn(Map::new(|x: u32| x * 2, 0..100).chunksize(10));
    /// assert_eq!(doubled.get()?.len(), 100); // ten jobs on one permit
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn<W: Work>(mut self, work: W) -> AsyncResult<W::Output, W::Error> {
        let door = Door {
            registry: &self.registry,
            stateful: false,
            mode: Mode::Permit,
            lane: self.lane.as_ref(),
        };
        let result = admitted(work.start(door));
        // The place passed to the work's first job (or was given back for
        // an empty map). Until here the permit still held it: if the
        // user's code unwound out of `start` (a map's `into_iter`), the
        // permit's drop gives it back.
        self.held = false;
        result
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.held {
            self.registry.unreserve();
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("pool", &self.registry.id)
            .field("lane", &self.lane.as_ref().map(|lane| &lane.name))
            .finish()
    }
}

/// Why no [`Permit`] was given.
///
/// # Examples
///
/// ```
/// let pool = corepool::Pool::new(1)?;
/// pool.close();
/// let err = pool.try_reserve().unwrap_err();
/// assert!(err.is_closed() && !err.is_full());
/// assert_eq!(err.to_string(), "the pool is closed");
/// # Ok::<(), corepool::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReserveError {
    /// The bounded queue has no free place (or its wait is above the
    /// pool's [`queue_wait_target`](crate::PoolBuilder::queue_wait_target)):
    /// only [`try_reserve`](crate::Pool::try_reserve) says so.
    Full,
    /// The pool was closed or terminated.
    Closed,
}

impl ReserveError {
    pub(crate) fn from_refused(why: Refused) -> ReserveError {
        match why {
            Refused::Full => ReserveError::Full,
            Refused::Closed => ReserveError::Closed,
        }
    }

    /// Whether the queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build()?;
    /// let held = pool.try_reserve().unwrap();
    /// assert!(pool.try_reserve().unwrap_err().is_full());
    /// drop(held); // the place is given back
    /// assert!(pool.try_reserve().is_ok());
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn is_full(&self) -> bool {
        *self == ReserveError::Full
    }

    /// Whether the pool was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.terminate();
    /// assert!(pool.try_reserve().unwrap_err().is_closed());
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        *self == ReserveError::Closed
    }
}

impl fmt::Display for ReserveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReserveError::Full => "the pool's queue is full",
            ReserveError::Closed => "the pool is closed",
        })
    }
}

impl std::error::Error for ReserveError {}

/// The future of [`Pool::reserve`](crate::Pool::reserve): a [`Permit`] once
/// the queue has room.
///
/// # Cancel safety
///
/// Dropping it before it resolves takes nothing: no place is held.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Reserve {
    inner: Pin<Box<dyn Future<Output = Result<Permit, ReserveError>> + Send + Sync>>,
}

impl Reserve {
    pub(crate) fn new(registry: Arc<Registry>, lane: Option<LaneRef>) -> Reserve {
        Reserve {
            inner: Box::pin(async move {
                registry
                    .reserve()
                    .await
                    .map_err(ReserveError::from_refused)?;
                Ok(Permit::new(registry, lane))
            }),
        }
    }
}

impl Future for Reserve {
    type Output = Result<Permit, ReserveError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Reserve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reserve").finish_non_exhaustive()
    }
}
