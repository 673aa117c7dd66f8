//! Progress of a running job, for a person watching (the demo's progress line); no-op by default.

use std::sync::Arc;

/// A snapshot of one account's job: items done out of the expected total, and calls made out of planned.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressEvent {
    pub account: String,
    pub job: &'static str,
    pub what: &'static str,
    pub done: u64,
    pub total: Option<u64>,
    pub calls_done: u64,
    pub calls_total: Option<u64>,
}

pub trait ProgressSink: Send + Sync {
    fn update(&self, event: &ProgressEvent);
}

#[derive(Clone, Default)]
pub struct Progress(Option<Arc<dyn ProgressSink>>);

impl Progress {
    pub fn new(sink: Arc<dyn ProgressSink>) -> Self {
        Self(Some(sink))
    }

    pub fn report(&self, event: impl FnOnce() -> ProgressEvent) {
        if let Some(sink) = &self.0 {
            sink.update(&event());
        }
    }
}
