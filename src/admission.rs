//! The door into the queue: how a job gets a place and is queued, or is
//! refused (and counted), for every admission mode: `push` (refuse when
//! full), `submit` (shed), `push_when_room` (wait for room), permits
//! (`try_reserve`, `reserve`, then `push_placed`), a map's later chunks
//! (`submit_more`), and a worker that will wait on the job
//! (`submit_or_run_here`). The registry's lifecycle and the workers' side
//! are in `registry.rs`; the places and the admission estimate in
//! `places.rs`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use crate::job::{Job, LaneRef};
use crate::registry::{Refused, Registry};
use crate::resume::LaneResume;

impl Registry {
    /// Counts one refusal (a job, or a map refused before it was cut), in
    /// the pool and its lane.
    pub(crate) fn count_rejected(&self, lane: Option<&LaneRef>) {
        self.stats.rejected.fetch_add(1, Relaxed);
        if let Some(lane) = lane {
            lane.shared.rejected.fetch_add(1, Relaxed);
        }
    }

    /// Queues a job, or says why not. Counts it as submitted or rejected.
    pub(crate) fn push(&self, job: Job) -> Result<(), Refused> {
        let lane = job.head().lane().cloned();
        self.try_push(job).inspect_err(|_| {
            self.count_rejected(lane.as_ref());
        })
    }

    /// Queues a job, or says why not, counting only a success: for a caller
    /// that does something else with a refused job (waits for room, runs it
    /// in place), which is then counted.
    pub(crate) fn try_push(&self, job: Job) -> Result<(), Refused> {
        if self.queue.is_closed() {
            return Err(Refused::Closed);
        }
        if !self.places.try_take() {
            return Err(Refused::Full);
        }
        self.enqueue(job)
    }

    /// Takes a place for a permit (held until spent or given back): the
    /// refusal `try_push` would make.
    pub(crate) fn try_reserve(&self) -> Result<(), Refused> {
        if self.queue.is_closed() {
            return Err(Refused::Closed);
        }
        if !self.places.try_take() {
            return Err(Refused::Full);
        }
        self.places.hold();
        Ok(())
    }

    /// Takes a place for a permit once one is free; `Err(Closed)` if the
    /// pool closes first.
    pub(crate) async fn reserve(&self) -> Result<(), Refused> {
        let closed = || self.queue.is_closed();
        if self.places.take_when_free(closed).await {
            self.places.hold();
            Ok(())
        } else {
            Err(Refused::Closed)
        }
    }

    /// Gives back a place a permit held unused.
    pub(crate) fn unreserve(&self) {
        self.places.release_hold();
        self.places.give_back();
    }

    /// Queues a job on a place already taken (a permit's, or one taken
    /// beyond the capacity when `forced`). A queue closed meanwhile
    /// resolves the job as cancelled (`PoolClosed`).
    pub(crate) fn push_placed(&self, job: Job, forced: bool) {
        if forced {
            self.places.take_forced();
        } else {
            self.places.release_hold(); // the permit's place passes to the job
        }
        if let Err(why) = self.enqueue(job.clone()) {
            self.count_rejected(job.head().lane());
            job.reject(&self.places, why.cancellation());
        }
    }

    /// Queues a job on a place taken by `try_reserve`; gives the place back
    /// (and counts a refusal) if the queue closed meanwhile.
    pub(crate) fn enqueue_reserved(&self, job: Job) -> Result<(), Refused> {
        self.places.release_hold(); // the place passes to the job
        let lane = job.head().lane().cloned();
        self.enqueue(job).inspect_err(|_| {
            self.count_rejected(lane.as_ref());
        })
    }

    /// Queues a job that holds a place; gives the place back if the queue
    /// closed meanwhile.
    fn enqueue(&self, job: Job) -> Result<(), Refused> {
        let head = job.head();
        head.stamp_submitted();
        head.set_placed();
        let lane = head.lane().cloned();
        let level = lane.as_ref().map_or(1, |lane| lane.priority.level());
        if let Some(lane) = &lane {
            // Before the push: a worker may claim it at once.
            lane.queued_one();
        }
        // A capped lane's job waits in the lane; its token goes on the
        // queue (see `lane.rs`).
        let capped = lane.as_ref().filter(|lane| lane.is_capped());
        let pushed = match capped {
            None => self.queue.push(job.clone(), level).is_ok(),
            Some(lane) => {
                lane.push(job.clone());
                let token: Job = Arc::new(LaneResume::new(lane.clone()));
                let pushed = self.queue.push(token, level).is_ok();
                if !pushed {
                    lane.withdraw(|j| Arc::ptr_eq(j, &job));
                }
                pushed
            }
        };
        if pushed {
            self.stats.submitted.fetch_add(1, Relaxed);
            if let Some(lane) = &lane {
                lane.shared.submitted.fetch_add(1, Relaxed);
            }
            Ok(())
        } else {
            job.head().release_place(&self.places);
            Err(Refused::Closed)
        }
    }

    /// Queues a job, or resolves it as cancelled (shed) on this thread.
    pub(crate) fn submit(&self, job: Job) {
        if let Err(why) = self.push(job.clone()) {
            job.reject(&self.places, why.cancellation());
        }
    }

    /// Queues a later chunk of a map admitted by its first: within the
    /// capacity, whatever the queue's wait (the wait is the map's own), or
    /// resolves it as cancelled (shed).
    pub(crate) fn submit_more(&self, job: Job) {
        let refused = if self.queue.is_closed() {
            Some(Refused::Closed)
        } else if !self.places.try_take_room() {
            Some(Refused::Full)
        } else {
            self.enqueue(job.clone()).err()
        };
        if let Some(why) = refused {
            self.count_rejected(job.head().lane());
            job.reject(&self.places, why.cancellation());
        }
    }

    /// Queues a job for the worker `index` that will block on it; if the
    /// queue is full, that worker runs it right here instead of shedding it
    /// (it would run it inline while waiting anyway). A job that may not run
    /// here (its state is lent) is shed as usual.
    pub(crate) fn submit_or_run_here(&self, job: Job, index: usize, generation: u64) {
        match self.try_push(job.clone()) {
            Ok(()) => {}
            Err(Refused::Full) if job.may_run_inline() => self.run_here(job, index, generation),
            Err(why) => {
                self.count_rejected(job.head().lane());
                job.reject(&self.places, why.cancellation());
            }
        }
    }

    /// Queues a job once a place is free; `Err(Closed)` if the pool closes
    /// first. Dropping the future gives up without queuing.
    pub(crate) fn push_when_room(
        self: &Arc<Self>,
        job: Job,
    ) -> impl Future<Output = Result<(), Refused>> + Send + 'static {
        let registry = self.clone();
        async move {
            let lane = job.head().lane().cloned();
            let closed = || registry.queue.is_closed();
            if !registry.places.take_when_free(closed).await {
                registry.count_rejected(lane.as_ref());
                return Err(Refused::Closed);
            }
            registry.enqueue(job).inspect_err(|_| {
                registry.count_rejected(lane.as_ref());
            })
        }
    }
}
