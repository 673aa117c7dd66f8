//! Sync jobs: the only crate that wires the GSL client to the store.
//!
//! `engine` runs a job for every account and records it; `inventory`, `daily_flow`, `monthly` and `pools`
//! are the jobs; `planner` decides the daily-flow calls; `schedule` and `daemon` run jobs on time on exactly
//! one replica; `watch` re-checks the cards at risk in real time, in the budget the jobs leave.

pub mod daemon;
mod daily_flow;
pub mod engine;
mod feed;
pub mod guard;
mod inventory;
mod map;
mod monthly;
mod observe;
mod overlap;
pub mod planner;
mod pools;
pub mod progress;
pub mod schedule;
mod settings;
pub mod watch;
mod worker;

pub use engine::{Account, Engine, Fences, JobReport, JobRequest, SyncError};
pub use observe::{NoopRunObserver, RunObserver};
pub use schedule::JobKind;
pub use settings::SyncSettings;
pub use watch::{watch_account, AfterWatch, Watch, WatchRound, WatchSettings};
