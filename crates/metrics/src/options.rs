//! What /metrics shows: the cardinality knobs from `[metrics]` plus the sync time zone, and card sharding.

use chrono_tz::Tz;
use gsl_domain::SimCardId;

/// A slice of the fleet: cards with `shard_of(sim_card_id, total) == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl Shard {
    pub const ALL: Shard = Shard { index: 0, total: 1 };

    /// Validates `index < total` and `1 <= total <= 1024` (the same bounds as `metrics.total_shards`).
    pub fn new(index: u32, total: u32) -> Option<Shard> {
        ((1..=1024).contains(&total) && index < total).then_some(Shard { index, total })
    }

    pub fn contains(&self, sim_card_id: SimCardId) -> bool {
        shard_of(sim_card_id, self.total) == self.index
    }

    /// Fleet aggregates go to shard 0 only, so `sum()` across shard targets counts each card once.
    pub fn serves_fleet(&self) -> bool {
        self.index == 0
    }
}

/// The shard of a card: a fixed mix of its id (splitmix64 finalizer), stable across versions and restarts.
pub fn shard_of(sim_card_id: SimCardId, total: u32) -> u32 {
    let mut z = sim_card_id.get() as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z % u64::from(total.max(1))) as u32
}

/// The validated `[metrics]` section, as configured.
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    pub per_sim: bool,
    pub min_usage_ratio: f64,
    pub tags: Vec<String>,
    pub shard: u32,
    pub total_shards: u32,
    pub gzip_level: u32,
}

/// Settings for rendering /metrics.
#[derive(Debug, Clone)]
pub struct MetricsOptions {
    /// Per-SIM families on or off; fleet families are always rendered.
    pub per_sim: bool,
    /// Per-SIM series only for cards whose usage ratio is at least this (cards without a ratio count as 0).
    pub min_usage_ratio: f64,
    /// Per-SIM series only for cards carrying one of these tags; empty keeps every card.
    pub tags: Vec<String>,
    /// This target's shard of the per-SIM series (`metrics.shard` / `metrics.total_shards`).
    pub shard: Shard,
    /// Level of the gzip body compressed once per refresh.
    pub gzip_level: u32,
    /// `sync.timezone`: the zone of usage days and billing cycles.
    pub timezone: Tz,
}

impl MetricsOptions {
    pub fn new(settings: &MetricsSettings, timezone: Tz) -> Self {
        Self {
            per_sim: settings.per_sim,
            min_usage_ratio: settings.min_usage_ratio,
            tags: settings.tags.clone(),
            shard: Shard::new(settings.shard, settings.total_shards).unwrap_or(Shard::ALL),
            gzip_level: settings.gzip_level.min(9),
            timezone,
        }
    }

    /// True when the card passes the ratio and tag filters.
    pub fn keeps(&self, ratio: Option<f64>, tags: &[String]) -> bool {
        if self.min_usage_ratio > 0.0 && ratio.unwrap_or(0.0) < self.min_usage_ratio {
            return false;
        }
        self.tags.is_empty() || tags.iter().any(|t| self.tags.contains(t))
    }
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            per_sim: true,
            min_usage_ratio: 0.0,
            tags: Vec::new(),
            shard: Shard::ALL,
            gzip_level: 1,
            timezone: chrono_tz::Asia::Shanghai,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_fleet_exactly() {
        for total in [1u32, 2, 3, 7, 16] {
            let mut sizes = vec![0usize; total as usize];
            for id in -500i64..20_000 {
                let owners: Vec<u32> = (0..total)
                    .filter(|&i| Shard::new(i, total).unwrap().contains(id.into()))
                    .collect();
                assert_eq!(owners.len(), 1, "card {id} with {total} shards");
                sizes[owners[0] as usize] += 1;
            }
            let expected = 20_500 / total as usize;
            assert!(
                sizes.iter().all(|&s| s > expected * 8 / 10),
                "uneven shards {sizes:?}"
            );
        }
    }

    #[test]
    fn shard_parameters_are_validated() {
        for (index, total, ok) in [
            (0, 1, true),
            (3, 4, true),
            (4, 4, false),
            (0, 0, false),
            (0, 1025, false),
        ] {
            assert_eq!(Shard::new(index, total).is_some(), ok, "{index}/{total}");
        }
    }

    #[test]
    fn filters_keep_cards_by_ratio_and_tag() {
        let opts = MetricsOptions {
            min_usage_ratio: 0.5,
            tags: vec!["fleet-a".into(), "重点".into()],
            ..MetricsOptions::default()
        };
        for (ratio, tags, kept) in [
            (Some(0.5), Some("fleet-a"), true),
            (Some(0.9), Some("x, 重点"), true),
            (Some(0.9), Some("x，fleet-a"), true),
            (Some(0.49), Some("fleet-a"), false),
            (None, Some("fleet-a"), false),
            (Some(0.9), Some("fleet-b"), false),
            (Some(0.9), None, false),
        ] {
            let tags: Vec<String> = tags
                .map(|t| gsl_domain::split_tags(t).map(String::from).collect())
                .unwrap_or_default();
            assert_eq!(opts.keeps(ratio, &tags), kept, "{ratio:?} {tags:?}");
        }
        let all = MetricsOptions::default();
        assert!(all.keeps(None, &[]));
    }
}
