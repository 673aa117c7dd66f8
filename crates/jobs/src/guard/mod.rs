//! Guard actions: policies that act on cards at the carrier (speed limit, data cut, cut at quota, stop)
//! when their usage says so, inside brakes, recorded in `guard_actions` and announced as alerts.
//!
//! A pass (`guard_account`) runs after the nightly jobs and on the daemon's tick. Dry run is the default:
//! a decision is recorded and announced, and nothing is sent until a policy says `mode = "enforce"` or a
//! person approves it (`gsl-sync guard approve`). Each enforced decision becomes one work order, followed
//! until the carrier confirms it, and undone at the card's next billing cycle (`restore = "next_cycle"`)
//! or by hand. The brakes: at most `max_per_hour` decisions per policy per hour, and a fleet brake — a
//! policy never decides on more than `fleet_brake` of an account's cards (or `fleet_brake_cards`) in a
//! day, and raises `GslGuardBrake` when it would. An action the card's carrier does not offer is refused
//! with the reason and never sent.

mod decide;
mod observe;
pub mod orders;
mod run;
mod runner;
mod settings;

pub use decide::{brake, decision, filter, reason, room, Room};
pub use observe::{GuardObserver, NoopGuardObserver, GUARD_RESULTS};
pub use run::{guard_account, GuardClock, GuardReport};
pub use runner::GuardRunner;
pub use settings::{Conditions, GuardSettings, Mode, Policy, Restore, Scope};
