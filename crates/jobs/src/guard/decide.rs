//! The guard's arithmetic, without I/O: how much room the brakes leave a policy, the candidate query's
//! filter, and the decision recorded for a card (its status and its reason, with the figures).

use chrono::NaiveDate;
use serde_json::json;

use super::settings::{GuardSettings, Mode, Policy};
use gsl_domain::{CardAction, Carrier};
use gsl_store::guard::{Brake, Candidate, NewAction, PolicyCounts, PolicyFilter};

/// What the brakes leave one policy in this pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    /// New decisions allowed now: the smaller of what the hour and the day leave.
    pub take: i64,
    /// What the fleet brake leaves for the rest of the day.
    pub day: i64,
    /// The fleet brake's limit for the day, and the policy's decisions so far today.
    pub limit: i64,
    pub today: i64,
}

/// The room `policy` has, given its decisions so far (`counts`) on an account of `fleet_cards` cards.
pub fn room(
    settings: &GuardSettings,
    policy: &Policy,
    counts: Option<&PolicyCounts>,
    fleet_cards: i64,
) -> Room {
    let (last_hour, today) = counts.map_or((0, 0), |c| (c.last_hour, c.today));
    let limit = settings.daily_limit(fleet_cards);
    let day = (limit - today).max(0);
    let hour = (i64::from(policy.max_per_hour) - last_hour).max(0);
    Room {
        take: day.min(hour),
        day,
        limit,
        today,
    }
}

/// The candidate query's view of `policy`.
pub fn filter(policy: &Policy, take: i64) -> PolicyFilter {
    PolicyFilter {
        price_plan: policy.scope.price_plan.clone(),
        sim_pool_id: policy.scope.sim_pool_id,
        tag: policy.scope.tag.clone(),
        min_ratio: policy.when.min_ratio,
        projected_days: policy.when.projected_days,
        anomaly: policy.when.anomaly,
        over_quota: policy.when.over_quota,
        mode: policy.mode.as_str().to_owned(),
        take,
    }
}

/// The fleet brake: a policy that would decide on more new cards than the day leaves it is held there.
pub fn brake(policy: &Policy, room: Room, matched: i64, fleet_cards: i64) -> Option<Brake> {
    (matched > room.day).then(|| Brake {
        policy: policy.name.clone(),
        matched,
        limit: room.limit,
        today: room.today,
        fleet_cards,
    })
}

/// Why `c` matched `policy`, in words with the figures: every condition of the policy that holds.
pub fn reason(policy: &Policy, c: &Candidate) -> String {
    let w = &policy.when;
    let mut why = Vec::new();
    if let (Some(min), Some(r)) = (w.min_ratio, c.ratio) {
        if r >= min {
            why.push(format!(
                "used {:.1}% of its quota (at or above {:.1}%)",
                r * 100.0,
                min * 100.0
            ));
        }
    }
    if let (Some(max), Some(d)) = (w.projected_days, c.projected_days) {
        if d <= max {
            why.push(format!(
                "runs out in {d:.1} days at its recent rate (within {max})"
            ));
        }
    }
    if let (true, Some(mb)) = (w.anomaly, c.anomaly_mb) {
        why.push(format!("used {mb:.0} MB in a day, far above its usual"));
    }
    let left = c.flow_left_mb.unwrap_or(0.0);
    if w.over_quota && left <= 0.0 && c.flow_used_mb.unwrap_or(0.0) > 0.0 {
        why.push("is over its quota".to_owned());
    }
    let as_of = c
        .data_date
        .map(|d| format!(" as of {d}"))
        .unwrap_or_default();
    format!(
        "{}: {} ({} MB used, {} MB left{as_of})",
        policy.name,
        why.join("; "),
        mb(c.flow_used_mb),
        mb(c.flow_left_mb)
    )
}

fn mb(v: Option<f64>) -> String {
    v.map_or_else(|| "?".into(), |v| format!("{v:.2}"))
}

/// The decision `policy` takes on candidate `c` of `account` on `today`: refused (with why) when the
/// card's carrier does not offer the action, else dry-run or queued for sending.
pub fn decision(account: &str, policy: &Policy, c: &Candidate, today: NaiveDate) -> NewAction {
    let carrier = Carrier::of(c.iccid.as_deref(), c.price_plan_name.as_deref());
    let why = reason(policy, c);
    let quota_mb = (policy.action == CardAction::CutAtQuota).then(|| {
        let total = c.flow_used_mb.unwrap_or(0.0) + c.flow_left_mb.unwrap_or(0.0);
        total.max(0.0).floor() as i64
    });
    let (status, reason) = match policy.action.supported(carrier, c.sim_pool_id.is_some()) {
        Err(not) => ("refused", format!("{why}; not sent: {not}")),
        Ok(()) if policy.mode == Mode::DryRun => ("dry_run", why),
        Ok(()) => ("queued", why),
    };
    NewAction {
        account: account.to_owned(),
        sim_card_id: c.sim_card_id,
        iccid: c.iccid.clone(),
        policy: policy.name.clone(),
        action: policy.action.as_str().to_owned(),
        mode: policy.mode.as_str().to_owned(),
        restore: policy.restore.as_str().to_owned(),
        speed_kbps: policy.speed_kbps.and_then(|k| i32::try_from(k).ok()),
        quota_mb,
        reason,
        figures: json!({
            "carrier": carrier.as_str(),
            "flow_used_mb": c.flow_used_mb,
            "flow_left_mb": c.flow_left_mb,
            "ratio": c.ratio,
            "projected_days": c.projected_days,
            "anomaly_mb": c.anomaly_mb,
            "data_date": c.data_date.map(|d| d.to_string()),
        }),
        status: status.to_owned(),
        next_cycle: carrier.next_cycle_start(today),
        value: c.ratio,
    }
}

#[cfg(test)]
mod tests {
    use super::super::settings::{Conditions, Restore, Scope};
    use super::*;

    fn policy(action: CardAction, mode: Mode, max_per_hour: u32) -> Policy {
        Policy {
            name: "p".into(),
            when: Conditions {
                min_ratio: Some(0.9),
                projected_days: Some(2.0),
                ..Conditions::default()
            },
            scope: Scope::default(),
            action,
            speed_kbps: Some(64),
            mode,
            restore: Restore::NextCycle,
            max_per_hour,
        }
    }

    fn candidate(iccid: &str, pooled: bool, ratio: f64) -> Candidate {
        Candidate {
            ord: 0,
            sim_card_id: 7.into(),
            iccid: Some(iccid.into()),
            price_plan_name: None,
            sim_pool_id: pooled.then_some(gsl_domain::PoolId::new(4_940_000_001)),
            flow_used_mb: Some(ratio * 1000.0),
            flow_left_mb: Some((1.0 - ratio) * 1000.0),
            ratio: Some(ratio),
            data_date: NaiveDate::from_ymd_opt(2026, 11, 27),
            projected_days: Some(1.5),
            anomaly_mb: None,
            matched: 1,
            rank: 1,
        }
    }

    fn settings(share: Option<f64>, cards: Option<u64>) -> GuardSettings {
        GuardSettings {
            fleet_brake: share,
            fleet_brake_cards: cards,
            ..GuardSettings::default()
        }
    }

    #[test]
    fn brakes_leave_the_smaller_of_the_hour_and_the_day() {
        let p = policy(CardAction::Stop, Mode::Enforce, 10);
        let counts = |h, d| PolicyCounts {
            policy: "p".into(),
            last_hour: h,
            today: d,
        };
        // (share, count, fleet, last hour, today) -> (take, day, limit)
        type Case = (Option<f64>, Option<u64>, i64, i64, i64, (i64, i64, i64));
        let cases: &[Case] = &[
            (Some(0.01), None, 40_000, 0, 0, (10, 400, 400)),
            (Some(0.01), None, 40_000, 4, 4, (6, 396, 400)),
            (Some(0.01), None, 40_000, 0, 398, (2, 2, 400)),
            (Some(0.01), None, 40_000, 12, 400, (0, 0, 400)),
            (Some(0.01), Some(5), 40_000, 0, 0, (5, 5, 5)),
            (None, Some(3), 100, 0, 1, (2, 2, 3)),
            (Some(0.01), None, 50, 0, 0, (0, 0, 0)),
            (None, None, 10, 0, 0, (10, i64::MAX, i64::MAX)),
        ];
        for &(share, count, fleet, h, d, want) in cases {
            let r = room(&settings(share, count), &p, Some(&counts(h, d)), fleet);
            assert_eq!(
                (r.take, r.day, r.limit),
                want,
                "{share:?} {count:?} {fleet} {h} {d}"
            );
        }
    }

    #[test]
    fn a_policy_matching_more_than_the_day_leaves_is_braked() {
        let p = policy(CardAction::Stop, Mode::Enforce, 100);
        let s = settings(Some(0.01), None);
        let r = room(&s, &p, None, 40_000);
        assert_eq!(brake(&p, r, 400, 40_000), None, "exactly the limit");
        let b = brake(&p, r, 20_000, 40_000).expect("half the fleet is braked");
        assert_eq!((b.matched, b.limit, b.today), (20_000, 400, 0));
    }

    #[test]
    fn decisions_follow_mode_and_carrier_support() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default();
        let telecom = "89860312345678901234";
        let mobile = "89860012345678901234";
        let unicom = "89860112345678901234";
        // (action, mode, iccid, pooled) -> status
        let cases = [
            (
                CardAction::SpeedLimit,
                Mode::DryRun,
                telecom,
                false,
                "dry_run",
            ),
            (
                CardAction::SpeedLimit,
                Mode::Enforce,
                telecom,
                false,
                "queued",
            ),
            (
                CardAction::SpeedLimit,
                Mode::Enforce,
                mobile,
                false,
                "refused",
            ),
            (
                CardAction::SpeedLimit,
                Mode::DryRun,
                mobile,
                false,
                "refused",
            ),
            (CardAction::CutNet, Mode::Enforce, unicom, true, "refused"),
            (
                CardAction::CutAtQuota,
                Mode::Enforce,
                unicom,
                true,
                "queued",
            ),
            (
                CardAction::CutAtQuota,
                Mode::Enforce,
                mobile,
                false,
                "refused",
            ),
            (CardAction::Stop, Mode::Enforce, mobile, false, "queued"),
        ];
        for (action, mode, iccid, pooled, want) in cases {
            let d = decision(
                "main",
                &policy(action, mode, 5),
                &candidate(iccid, pooled, 0.95),
                today,
            );
            assert_eq!(d.status, want, "{action} {mode:?} {iccid} {pooled}");
            assert_eq!(d.mode, mode.as_str());
            if want == "refused" {
                assert!(d.reason.contains("not sent: "), "{}", d.reason);
            }
        }
        let d = decision(
            "main",
            &policy(CardAction::CutAtQuota, Mode::Enforce, 5),
            &candidate(telecom, false, 0.95),
            today,
        );
        assert_eq!(d.quota_mb, Some(1000));
        assert_eq!(
            d.next_cycle,
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default()
        );
        let u = decision(
            "main",
            &policy(CardAction::Stop, Mode::Enforce, 5),
            &candidate(unicom, false, 0.95),
            today,
        );
        assert_eq!(
            u.next_cycle,
            NaiveDate::from_ymd_opt(2026, 12, 27).unwrap_or_default()
        );
    }

    #[test]
    fn reasons_name_every_condition_that_holds_with_its_figures() {
        let p = policy(CardAction::Stop, Mode::DryRun, 5);
        let r = reason(&p, &candidate("89860312345678901234", false, 0.95));
        assert_eq!(
            r,
            "p: used 95.0% of its quota (at or above 90.0%); runs out in 1.5 days at its recent rate \
             (within 2) (950.00 MB used, 50.00 MB left as of 2026-11-27)"
        );
        let r = reason(&p, &candidate("89860312345678901234", false, 0.5));
        assert!(!r.contains("quota (at"), "{r}");
        assert!(r.contains("runs out in 1.5 days"), "{r}");
    }
}
