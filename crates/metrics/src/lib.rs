//! Metrics: the pre-rendered per-SIM and fleet
//! gauges (`sims`, `table`, `fleet`) that a scrape only copies into lines (`scrape`).
//!
//! Sharding: with `metrics.total_shards = n` (or a scrape's `?shard=i&total=n`) a target serves the per-SIM
//! series of the cards with `shard_of(sim_card_id, n) == i`. Fleet families are served only by shard 0, so
//! `sum()` over all shard targets counts every card once. The daemon's own families describe the process:
//! every replica serves its own, but scrape-time shards of one process serve them on shard 0 only.
//! A scrape-time shard is served plain; the gzip cache holds the full body.
//!
//! Memory: a rendering is each card's pre-formatted pieces (~200 bytes, against ~450 bytes of lines in the
//! exposition), 18 bytes of index per card, and the gzip of the full text; during a refresh the old and the
//! new rendering coexist until the swap.

pub mod fleet;
pub mod options;
pub mod scrape;
pub mod sims;
mod table;
pub mod text;
pub mod watch;

pub use fleet::FleetExtras;
pub use options::{shard_of, MetricsOptions, MetricsSettings, Shard};
pub use scrape::{ScrapeBody, ScrapeRequest};
pub use sims::{MetricsError, RefreshStats, Rendering, SimGauges};
