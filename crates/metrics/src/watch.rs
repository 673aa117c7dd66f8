//! The watch's families: real-time figures of the watched cards (per SIM, label `iccid`, only with
//! `metrics.per_sim` and only cards of this target's shard) and `gsl_watch_cards{account}` (on the fleet
//! shard). A few thousand lines at most, so they are rendered on their own after every round of checks
//! without touching the per-SIM rendering of the whole fleet.

use super::options::MetricsOptions;
use super::text::{mb_to_bytes, push_header, push_sample};
use gsl_store::realtime::WatchedCard;

/// Watched cards shown at most (the watchlist is ordered most urgent first).
pub const MAX_WATCHED: i64 = 100_000;

const FAMILIES: [(&str, &str); 3] = [
    (
        "gsl_sim_realtime_flow_used_bytes",
        "Real-time flow used by a watched card (an estimate: today so far; the nightly figures are billed).",
    ),
    (
        "gsl_sim_realtime_flow_left_bytes",
        "Real-time flow left on a watched card (an estimate until the night's figures).",
    ),
    (
        "gsl_sim_realtime_checked_timestamp_seconds",
        "When the real-time figure of a watched card was read.",
    ),
];

/// Renders the families from the watched cards and the watchlist sizes per account.
pub fn render(cards: &[WatchedCard], counts: &[(String, i64)], opts: &MetricsOptions) -> Vec<u8> {
    let mut out = Vec::new();
    if opts.per_sim {
        let shown: Vec<&WatchedCard> = cards
            .iter()
            .filter(|c| c.checked_at.is_some() && opts.shard.contains(c.sim_card_id))
            .collect();
        for (i, (name, help)) in FAMILIES.iter().enumerate() {
            push_header(&mut out, name, "gauge", help);
            for c in &shown {
                let value = match i {
                    0 => c.flow_used_mb.map(mb_to_bytes),
                    1 => c.flow_left_mb.map(mb_to_bytes),
                    _ => c.checked_at.map(|t| t.timestamp_millis() as f64 / 1000.0),
                };
                if let Some(v) = value {
                    push_sample(&mut out, name, &[("iccid", &identity(c))], v);
                }
            }
        }
    }
    if opts.shard.serves_fleet() {
        push_header(
            &mut out,
            "gsl_watch_cards",
            "gauge",
            "Cards on the account's watchlist (re-checked in real time).",
        );
        for (account, n) in counts {
            push_sample(
                &mut out,
                "gsl_watch_cards",
                &[("account", account)],
                *n as f64,
            );
        }
    }
    out
}

/// The same identity as the other per-SIM families: the ICCID, else the card id.
fn identity(c: &WatchedCard) -> String {
    match c.iccid.as_deref().filter(|s| !s.is_empty()) {
        Some(i) => i.to_owned(),
        None => c.sim_card_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn watched(id: i64, checked: bool) -> WatchedCard {
        WatchedCard {
            account: "main".into(),
            sim_card_id: id.into(),
            iccid: Some(format!("ICC{id}")),
            reasons: vec!["ratio".into()],
            daily_rate_mb: None,
            checked_at: checked
                .then(|| chrono::Utc.with_ymd_and_hms(2026, 11, 20, 3, 0, 0).unwrap()),
            flow_used_mb: checked.then_some(1.5),
            flow_left_mb: checked.then_some(0.5),
            days_left: None,
        }
    }

    #[test]
    fn only_checked_watched_cards_show_in_bytes_with_their_check_time() {
        let opts = MetricsOptions::default();
        let text = render(
            &[watched(1, true), watched(2, false)],
            &[("main".into(), 2)],
            &opts,
        );
        let text = String::from_utf8(text).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "gsl_sim_realtime_flow_used_bytes{iccid=\"ICC1\"} 1572864",
                "gsl_sim_realtime_flow_left_bytes{iccid=\"ICC1\"} 524288",
                "gsl_sim_realtime_checked_timestamp_seconds{iccid=\"ICC1\"} 1795143600",
                "gsl_watch_cards{account=\"main\"} 2",
            ]
        );
        let off = MetricsOptions {
            per_sim: false,
            ..MetricsOptions::default()
        };
        let text = String::from_utf8(render(&[watched(1, true)], &[], &off)).unwrap();
        assert!(!text.contains("gsl_sim_realtime"), "{text}");
        assert!(text.contains("# TYPE gsl_watch_cards gauge"));
    }
}
