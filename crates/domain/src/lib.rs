//! The vocabulary every gsl-sync crate shares. It depends on no other crate of the workspace, does no I/O and
//! knows nothing of HTTP, SQL or the command line. (Its one tie to SQL is the optional `sqlx` feature: the
//! ids' `sqlx::Type` derive, which the orphan rule allows only here; it sends no query.)

pub mod backoff;
mod carrier;
mod ids;
mod month;
mod period;
mod report;
mod tags;
mod usage;

pub use carrier::{CardAction, Carrier};
pub use ids::{BadId, PoolId, SimCardId};
pub use month::{BadYearMonth, YearMonth};
pub use period::FlowPeriod;
pub use report::{GroupBy, OutputFormat};
pub use tags::{split_tags, TAG_SEPARATORS};
pub use usage::usage_ratio;
