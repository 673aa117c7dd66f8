//! The daemon's own observability: its metric families (`Telemetry`, which the client, the jobs and the
//! notifier report into through their observer traits) and the log subscriber.

mod families;
mod freshness;
mod guard;
mod logging;

pub use families::Telemetry;
pub use logging::{init, DEFAULT_FILTER, DEMO_FILTER};
