//! When jobs run: cron triggers in `sync.timezone`, a de-duplicating queue, and catch-up of missed runs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::SyncSettings;

/// The jobs the scheduler knows; their names are the `job` label and `sync_runs.job`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobKind {
    Inventory,
    DailyFlow,
    Monthly,
    Pools,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [
        JobKind::Inventory,
        JobKind::DailyFlow,
        JobKind::Monthly,
        JobKind::Pools,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Inventory => "inventory",
            JobKind::DailyFlow => "daily_flow",
            JobKind::Monthly => "monthly",
            JobKind::Pools => "pools",
        }
    }

    pub fn cron(self, s: &SyncSettings) -> &str {
        match self {
            JobKind::Inventory => &s.inventory_schedule,
            JobKind::DailyFlow => &s.daily_flow_schedule,
            JobKind::Monthly => &s.monthly_schedule,
            JobKind::Pools => &s.pools_schedule,
        }
    }
}

/// A queue that holds each job kind at most once, so a run that is still going (or waiting) is not started again.
#[derive(Clone)]
pub struct JobQueue {
    tx: mpsc::UnboundedSender<JobKind>,
    pending: Arc<Mutex<BTreeSet<JobKind>>>,
}

impl JobQueue {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<JobKind>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(Mutex::new(BTreeSet::new()));
        (Self { tx, pending }, rx)
    }

    /// Queues `kind` unless it is already queued or running; returns whether it was queued.
    pub fn push(&self, kind: JobKind) -> bool {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !pending.insert(kind) {
            tracing::info!(
                job = kind.as_str(),
                "job still queued or running; trigger skipped"
            );
            return false;
        }
        self.tx.send(kind).is_ok()
    }

    /// Marks a queued job as finished (or dropped), so its next trigger is accepted.
    pub fn done(&self, kind: JobKind) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&kind);
    }
}

/// The last time `cron` fired at or before `now`, in `tz`.
pub fn previous_fire(cron: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(cron)
        .ok()?;
    parsed
        .find_previous_occurrence(&now.with_timezone(&tz), true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A run is missed when the job has not succeeded since its schedule last fired.
pub fn missed(cron: &str, tz: Tz, now: DateTime<Utc>, last_success: Option<DateTime<Utc>>) -> bool {
    match (previous_fire(cron, tz, now), last_success) {
        (_, None) => true,
        (Some(fired), Some(ok)) => ok < fired,
        (None, Some(_)) => false,
    }
}

/// Why the cron triggers could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
    #[error("sync.{job}_schedule: {source}")]
    Cron {
        job: &'static str,
        source: tokio_cron_scheduler::JobSchedulerError,
    },
}

/// Starts cron triggers that push jobs onto the queue.
pub async fn start_triggers(
    settings: &SyncSettings,
    queue: JobQueue,
) -> Result<JobScheduler, ScheduleError> {
    let scheduler = JobScheduler::new().await?;
    for kind in JobKind::ALL {
        let queue = queue.clone();
        let job = Job::new_async_tz(kind.cron(settings), settings.timezone, move |_, _| {
            let queue = queue.clone();
            Box::pin(async move {
                queue.push(kind);
            })
        })
        .map_err(|source| ScheduleError::Cron {
            job: kind.as_str(),
            source,
        })?;
        scheduler.add(job).await?;
    }
    scheduler.start().await?;
    Ok(scheduler)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn queue_holds_each_kind_once_until_done() {
        let (queue, mut rx) = JobQueue::new();
        assert!(queue.push(JobKind::Inventory));
        assert!(!queue.push(JobKind::Inventory));
        assert!(queue.push(JobKind::DailyFlow));
        assert_eq!(rx.try_recv().ok(), Some(JobKind::Inventory));
        assert!(!queue.push(JobKind::Inventory), "still running");
        queue.done(JobKind::Inventory);
        assert!(queue.push(JobKind::Inventory));
    }

    #[test]
    fn previous_fire_is_in_the_configured_zone() {
        // 02:30 Beijing = 18:30 UTC the day before.
        let shanghai = chrono_tz::Asia::Shanghai;
        let fired = previous_fire("0 30 2 * * *", shanghai, utc("2026-11-28T12:00:00Z")).unwrap();
        assert_eq!(fired, utc("2026-11-27T18:30:00Z"));
    }

    #[test]
    fn missed_runs_are_detected() {
        let tz = chrono_tz::Asia::Shanghai;
        let now = utc("2026-11-28T12:00:00Z");
        let cron = "0 30 2 * * *";
        assert!(missed(cron, tz, now, None));
        assert!(missed(cron, tz, now, Some(utc("2026-11-26T19:00:00Z"))));
        assert!(!missed(cron, tz, now, Some(utc("2026-11-27T18:31:00Z"))));
    }
}
