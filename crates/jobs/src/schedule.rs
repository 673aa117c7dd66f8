//! When jobs run: cron triggers in `sync.timezone`, a de-duplicating queue, and catch-up of missed runs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::mpsc;

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

    /// How urgently this job's calls wait in the account's shared budget.
    pub fn priority(self) -> gsl_client::Priority {
        match self {
            JobKind::DailyFlow => gsl_client::Priority::DailyFlow,
            JobKind::Inventory => gsl_client::Priority::Inventory,
            JobKind::Monthly => gsl_client::Priority::MonthUsages,
            JobKind::Pools => gsl_client::Priority::Pools,
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

    /// Nothing queued or running.
    pub fn is_idle(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
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
    parse(cron)
        .ok()?
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

/// The next time `cron` fires after `now`, in `tz`: computed in the zone each time, so a daylight-saving
/// change moves the UTC instant and 02:30 stays 02:30 local.
pub fn next_fire(cron: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    parse(cron)
        .ok()?
        .find_next_occurrence(&now.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn parse(cron: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(cron)
}

/// Why the cron triggers could not start.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("sync.{job}_schedule: {reason}")]
    Cron { job: &'static str, reason: String },
}

/// The running cron triggers; `shutdown` stops them.
pub struct Triggers {
    stop: tokio_util::sync::CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Triggers {
    pub async fn shutdown(self) {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// The longest single sleep: the wall clock is looked at again after it, so a clock step (NTP, a
/// suspended VM) delays a trigger by at most this much.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts one trigger per job that pushes it onto the queue when its cron fires in `sync.timezone`.
///
/// Our own loop, not tokio-cron-scheduler: its 0.15 fixes a zone's UTC offset when a job is created
/// (issues #87 and #107), so a daily 02:30 would move to 03:30 or 01:30 after a daylight-saving change.
pub fn start_triggers(settings: &SyncSettings, queue: JobQueue) -> Result<Triggers, ScheduleError> {
    let stop = tokio_util::sync::CancellationToken::new();
    let mut tasks = Vec::new();
    for kind in JobKind::ALL {
        let cron = kind.cron(settings).to_owned();
        parse(&cron).map_err(|e| ScheduleError::Cron {
            job: kind.as_str(),
            reason: e.to_string(),
        })?;
        let (tz, queue, stop) = (settings.timezone, queue.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(due) = next_fire(&cron, tz, Utc::now()) {
                loop {
                    let left = (due - Utc::now()).to_std().unwrap_or_default();
                    if left.is_zero() {
                        break;
                    }
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(left.min(RECHECK)) => {}
                    }
                }
                queue.push(kind);
            }
        }));
    }
    Ok(Triggers { stop, tasks })
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
    fn daily_triggers_keep_local_time_across_daylight_saving_changes() {
        let berlin = chrono_tz::Europe::Berlin;
        let daily = "0 0 9 * * *";
        // 09:00 CET is 08:00 UTC; after the spring change (29 March 2026) 09:00 CEST is 07:00 UTC.
        assert_eq!(
            next_fire(daily, berlin, utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-03-29T07:00:00Z"))
        );
        assert_eq!(
            next_fire(daily, berlin, utc("2026-03-27T12:00:00Z")),
            Some(utc("2026-03-28T08:00:00Z"))
        );
        // And back in autumn (25 October 2026).
        assert_eq!(
            next_fire(daily, berlin, utc("2026-10-24T12:00:00Z")),
            Some(utc("2026-10-25T08:00:00Z"))
        );
        // A fire time inside the skipped hour still fires that day, once.
        let skipped = next_fire("0 30 2 * * *", berlin, utc("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(
            skipped.date_naive(),
            utc("2026-03-29T00:00:00Z").date_naive()
        );
        let after = next_fire("0 30 2 * * *", berlin, skipped).unwrap();
        assert_eq!(after, utc("2026-03-30T00:30:00Z"));
        // Through the autumn change each local hour fires once: 02:00 happens twice on the wall clock
        // (00:00 and 01:00 UTC) and fires the first time only.
        let mut t = utc("2026-10-24T22:30:00Z");
        let mut fires = Vec::new();
        for _ in 0..5 {
            t = next_fire("0 0 * * * *", berlin, t).unwrap();
            fires.push(t);
        }
        let gaps: Vec<i64> = fires
            .windows(2)
            .map(|w| (w[1] - w[0]).num_minutes())
            .collect();
        assert_eq!(gaps, vec![60, 120, 60, 60], "{fires:?}");
    }

    #[tokio::test]
    async fn a_bad_cron_string_is_refused_with_its_key() {
        let hourly = "0 0 * * * *".to_owned();
        let settings = SyncSettings {
            timezone: chrono_tz::Asia::Shanghai,
            page_size: 500,
            daily_flow_batch_size: 100,
            monthly_batch_size: 100,
            request_timeout: std::time::Duration::from_secs(30),
            connect_timeout: std::time::Duration::from_secs(5),
            max_retries: 5,
            retry_base_delay: std::time::Duration::from_millis(500),
            retry_max_delay: std::time::Duration::from_secs(30),
            inventory_schedule: hourly.clone(),
            daily_flow_schedule: hourly.clone(),
            monthly_schedule: hourly,
            pools_schedule: "not a cron".into(),
            retention_days: 1095,
            leader_lock_key: 1,
            shutdown_grace: std::time::Duration::from_secs(25),
        };
        let (queue, _rx) = JobQueue::new();
        let err = start_triggers(&settings, queue).err().expect("refused");
        assert!(
            err.to_string().starts_with("sync.pools_schedule: "),
            "{err}"
        );
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
