//! A unit of work on the queue: one `apply`, or one chunk of a `map`/`imap`.

use crate::error::TaskError;

/// What a job does. Dropping a task without calling either method must
/// resolve its result as cancelled (the tasks hold a `Completer`, which
/// does that on drop).
pub(crate) trait Task: Send + 'static {
    /// Runs the work on a worker thread. Never unwinds: user panics are
    /// caught inside.
    fn run(self: Box<Self>);

    /// Resolves the result with `error` without running the work.
    fn reject(self: Box<Self>, error: TaskError);
}

/// A task with the labels its tracing span carries.
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) chunk: usize,
    pub(crate) task: Box<dyn Task>,
}

impl Job {
    pub(crate) fn run(self, worker: usize) {
        let span = tracing::debug_span!(
            "corepool.job",
            id = self.id,
            kind = self.kind,
            chunk = self.chunk,
            worker
        );
        let _entered = span.enter();
        self.task.run();
    }
}
