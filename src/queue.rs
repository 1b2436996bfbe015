//! The pool's job queue: an MPMC channel that submitters push to and workers
//! pop from, unbounded or of a fixed capacity, which can be closed (no more
//! pushes; pops drain what is left, then report `Closed`). Pushing is
//! lock-free (async-channel's `ConcurrentQueue`), so many tokio tasks
//! submitting at once do not serialize on a lock.
//!
//! Normally this is an `async-channel`. Under `cfg(corepool_loom)` it is a
//! `Mutex<VecDeque>` with the same contract, so the loom models of
//! close/terminate racing submission (`src/tests/loom_registry.rs`) can
//! explore the registry's protocol; the channel itself is async-channel's
//! to get right, and is linearizable, which the stand-in is too.

use std::future::Future;

use crate::job::Job;

/// Why [`Queue::push`] handed a job back.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Refused {
    Full,
    Closed,
}

/// Why [`Queue::try_pop`] returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Empty {
    /// Nothing queued now; more may come.
    Now,
    /// Closed and drained: nothing will ever come.
    Forever,
}

#[cfg(not(corepool_loom))]
pub(crate) struct Queue {
    sender: async_channel::Sender<Job>,
    receiver: async_channel::Receiver<Job>,
}

#[cfg(not(corepool_loom))]
impl Queue {
    /// A queue of `capacity` jobs, or unbounded.
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        let (sender, receiver) = match capacity {
            Some(capacity) => async_channel::bounded(capacity),
            None => async_channel::unbounded(),
        };
        Queue { sender, receiver }
    }

    /// Queues `job`, or hands it back with why: the queue is full or closed.
    pub(crate) fn push(&self, job: Job) -> Result<(), (Job, Refused)> {
        self.sender.try_send(job).map_err(|e| match e {
            async_channel::TrySendError::Full(job) => (job, Refused::Full),
            async_channel::TrySendError::Closed(job) => (job, Refused::Closed),
        })
    }

    /// Queues `job` once there is room; hands it back if the queue closes
    /// first. Dropping the future drops the job unqueued.
    pub(crate) fn push_when_room(
        &self,
        job: Job,
    ) -> impl Future<Output = Result<(), Job>> + Send + 'static {
        let sender = self.sender.clone();
        async move { sender.send(job).await.map_err(|e| e.into_inner()) }
    }

    pub(crate) fn try_pop(&self) -> Result<Job, Empty> {
        self.receiver.try_recv().map_err(|e| match e {
            async_channel::TryRecvError::Empty => Empty::Now,
            async_channel::TryRecvError::Closed => Empty::Forever,
        })
    }

    /// Blocks until a job arrives; `None` once closed and drained.
    pub(crate) fn pop_blocking(&self) -> Option<Job> {
        self.receiver.recv_blocking().ok()
    }

    /// Closes the queue; `true` if this call closed it.
    pub(crate) fn close(&self) -> bool {
        self.sender.close()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    pub(crate) fn len(&self) -> usize {
        self.receiver.len()
    }

    /// Free places in a bounded queue (a snapshot); `None` if unbounded.
    pub(crate) fn room(&self) -> Option<usize> {
        let capacity = self.sender.capacity()?;
        Some(capacity.saturating_sub(self.sender.len()))
    }
}

#[cfg(corepool_loom)]
pub(crate) struct Queue {
    inner: crate::sync::Mutex<(std::collections::VecDeque<Job>, bool)>,
}

#[cfg(corepool_loom)]
impl Queue {
    pub(crate) fn new(_capacity: Option<usize>) -> Self {
        Queue {
            inner: crate::sync::Mutex::new((std::collections::VecDeque::new(), false)),
        }
    }

    pub(crate) fn room(&self) -> Option<usize> {
        None
    }

    pub(crate) fn push(&self, job: Job) -> Result<(), (Job, Refused)> {
        let mut inner = crate::sync::lock(&self.inner);
        if inner.1 {
            return Err((job, Refused::Closed));
        }
        inner.0.push_back(job);
        Ok(())
    }

    pub(crate) fn push_when_room(
        &self,
        job: Job,
    ) -> impl Future<Output = Result<(), Job>> + Send + 'static {
        std::future::ready(self.push(job).map_err(|(job, _)| job))
    }

    pub(crate) fn try_pop(&self) -> Result<Job, Empty> {
        let mut inner = crate::sync::lock(&self.inner);
        match inner.0.pop_front() {
            Some(job) => Ok(job),
            None if inner.1 => Err(Empty::Forever),
            None => Err(Empty::Now),
        }
    }

    pub(crate) fn pop_blocking(&self) -> Option<Job> {
        loop {
            match self.try_pop() {
                Ok(job) => return Some(job),
                Err(Empty::Forever) => return None,
                Err(Empty::Now) => loom::thread::yield_now(),
            }
        }
    }

    pub(crate) fn close(&self) -> bool {
        !std::mem::replace(&mut crate::sync::lock(&self.inner).1, true)
    }

    pub(crate) fn is_closed(&self) -> bool {
        crate::sync::lock(&self.inner).1
    }

    pub(crate) fn len(&self) -> usize {
        crate::sync::lock(&self.inner).0.len()
    }
}
