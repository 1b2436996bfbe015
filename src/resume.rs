//! A capped lane's resume token: what a capped lane puts on the queue for
//! each of its jobs, which wait in the lane itself (see `lane.rs` for the
//! protocol and `Registry::execute` for what a worker does with a token).

use std::sync::Arc;

use crate::error::Cancellation;
use crate::job::{Head, Labels, LaneRef, Route, Task, Worker};
use crate::places::Places;

/// A capped lane's resume token (see `lane.rs`): on the queue for one of
/// the lane's jobs, at the lane's priority. Not work: never counted, holds
/// no place.
pub(crate) struct LaneResume {
    head: Head,
}

impl LaneResume {
    pub(crate) fn new(lane: LaneRef) -> Self {
        let labels = Labels {
            id: 0,
            kind: "lane-resume",
            chunk: 0,
            stateful: false,
        };
        let route = Route {
            lane: Some(lane),
            deadline: None,
        };
        LaneResume {
            head: Head::new(labels, route),
        }
    }
}

impl Task for LaneResume {
    fn run(self: Arc<Self>, _: &Worker<'_>) -> bool {
        false // `Registry::execute` resumes the lane instead
    }

    fn reject(&self, _: &Places, _: Cancellation) -> bool {
        false
    }

    fn may_run_inline(&self) -> bool {
        false
    }

    fn head(&self) -> &Head {
        &self.head
    }

    fn is_lane_resume(&self) -> bool {
        true
    }
}
