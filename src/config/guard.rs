//! `[guard]` and `[[guard.policies]]` into `GuardSettings`; every error names its key, e.g.
//! `guard.policies[1].speed_kbps`.

use std::collections::BTreeSet;

use gsl_alerts::AlertSettings;
use gsl_client::actions::MAX_SPEED_KBPS;
use gsl_domain::CardAction;
use gsl_jobs::guard::{Conditions, GuardSettings, Mode, Policy, Restore, Scope};

use super::raw::{RawGuard, RawPolicy};
use super::validate::{duration, in_range, positive, ratio};
use super::{AccountSettings, ConfigError};

pub(super) fn guard(
    g: &RawGuard,
    accounts: &[AccountSettings],
    alerts: &AlertSettings,
) -> Result<GuardSettings, ConfigError> {
    if !(g.fleet_brake.is_finite() && (0.0..=1.0).contains(&g.fleet_brake)) {
        return Err(ConfigError::new(
            "guard.fleet_brake",
            format!("{} must be a share in 0..=1 (0: off)", g.fleet_brake),
        ));
    }
    let mut names = BTreeSet::new();
    let policies = g
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let key = format!("guard.policies[{i}]");
            if !names.insert(p.name.clone()) {
                return Err(ConfigError::new(
                    format!("{key}.name"),
                    format!("{:?} is already the name of another policy", p.name),
                ));
            }
            policy(&key, p, accounts, alerts)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let settings = GuardSettings {
        fleet_brake: (g.fleet_brake > 0.0).then_some(g.fleet_brake),
        fleet_brake_cards: (g.fleet_brake_cards > 0).then_some(g.fleet_brake_cards),
        interval: positive("guard.interval", &g.interval)?,
        order_check: duration("guard.order_check", &g.order_check)?,
        policies,
    };
    // A bad threshold must not stop a whole fleet: enforcing needs a brake.
    let enforcing = settings.policies.iter().any(|p| p.mode == Mode::Enforce);
    if enforcing && settings.fleet_brake.is_none() && settings.fleet_brake_cards.is_none() {
        return Err(ConfigError::new(
            "guard.fleet_brake",
            "a policy with mode = \"enforce\" needs a fleet brake (fleet_brake or fleet_brake_cards above 0)",
        ));
    }
    Ok(settings)
}

fn policy(
    key: &str,
    p: &RawPolicy,
    accounts: &[AccountSettings],
    alerts: &AlertSettings,
) -> Result<Policy, ConfigError> {
    let k = |name: &str| format!("{key}.{name}");
    let label_safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if p.name.is_empty() || p.name.len() > 64 || !p.name.chars().all(label_safe) {
        return Err(ConfigError::new(
            k("name"),
            "1 to 64 letters, digits, '-', '_' or '.' (it is a metric label)",
        ));
    }
    let when = Conditions {
        min_ratio: p.min_ratio.map(|r| ratio(&k("min_ratio"), r)).transpose()?,
        projected_days: p
            .projected_days
            .map(|d| projected_days(&k("projected_days"), d, alerts))
            .transpose()?,
        anomaly: p.anomaly.unwrap_or(false),
        over_quota: p.over_quota.unwrap_or(false),
    };
    if when == Conditions::default() {
        return Err(ConfigError::new(
            key,
            "needs a condition: min_ratio, projected_days, anomaly = true or over_quota = true",
        ));
    }
    if let Some(a) = &p.account {
        if !accounts.iter().any(|x| &x.name == a) {
            return Err(ConfigError::new(
                k("account"),
                format!("{a:?} is not a configured account"),
            ));
        }
    }
    let action = CardAction::from_name(&p.action).ok_or_else(|| {
        ConfigError::new(
            k("action"),
            format!(
                "{:?} must be \"speed_limit\", \"cut_net\", \"cut_at_quota\" or \"stop\"",
                p.action
            ),
        )
    })?;
    let speed_kbps = match (action, p.speed_kbps) {
        (CardAction::SpeedLimit, Some(s)) => {
            Some(in_range(&k("speed_kbps"), s, 1, MAX_SPEED_KBPS)?)
        }
        (CardAction::SpeedLimit, None) => {
            return Err(ConfigError::new(
                k("speed_kbps"),
                "is required with action = \"speed_limit\"",
            ))
        }
        (_, Some(_)) => {
            return Err(ConfigError::new(
                k("speed_kbps"),
                "is only for action = \"speed_limit\"",
            ))
        }
        (_, None) => None,
    };
    let mode = match p.mode.as_str() {
        "dry_run" => Mode::DryRun,
        "enforce" => Mode::Enforce,
        other => {
            return Err(ConfigError::new(
                k("mode"),
                format!("{other:?} must be \"dry_run\" or \"enforce\""),
            ))
        }
    };
    let restore = match p.restore.as_str() {
        "next_cycle" => Restore::NextCycle,
        "manual" => Restore::Manual,
        other => {
            return Err(ConfigError::new(
                k("restore"),
                format!("{other:?} must be \"next_cycle\" or \"manual\""),
            ))
        }
    };
    Ok(Policy {
        name: p.name.clone(),
        when,
        scope: Scope {
            account: p.account.clone(),
            price_plan: p.price_plan.clone(),
            sim_pool_id: p.sim_pool_id,
            tag: p.tag.clone(),
        },
        action,
        speed_kbps,
        mode,
        restore,
        max_per_hour: in_range(&k("max_per_hour"), p.max_per_hour, 1, 100_000)?,
    })
}

/// The projection comes from the projection alert, which looks only `alerts.projection_days` ahead.
fn projected_days(key: &str, d: f64, alerts: &AlertSettings) -> Result<f64, ConfigError> {
    let horizon = f64::from(alerts.projection_days);
    if d.is_finite() && d > 0.0 && d <= horizon {
        Ok(d)
    } else {
        Err(ConfigError::new(
            key,
            format!(
                "{d} must be above 0 and at most alerts.projection_days ({horizon}): the projection alert \
                 this reads looks no further"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Settings;
    use std::collections::BTreeMap;

    fn load(toml: &str) -> Result<Settings, crate::config::ConfigError> {
        Settings::load_from_toml(toml, BTreeMap::new())
    }

    const OK: &str = "[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.95\naction = \"speed_limit\"\nspeed_kbps = 64\n";

    #[test]
    fn a_policy_is_dry_run_by_default_with_a_one_percent_brake() {
        let s = load(OK).expect("valid");
        let p = &s.guard.policies[0];
        assert_eq!(p.mode, gsl_jobs::guard::Mode::DryRun);
        assert_eq!(p.restore, gsl_jobs::guard::Restore::NextCycle);
        assert_eq!(p.max_per_hour, 100);
        assert_eq!(s.guard.fleet_brake, Some(0.01));
        assert_eq!(s.guard.daily_limit(40_000), 400);
        // config check prints it back, and it loads as the same settings.
        let again = load(&s.to_redacted_toml()).expect("round trip");
        assert_eq!(again.guard, s.guard);
    }

    #[test]
    fn bad_policies_name_their_key() {
        let cases = [
            ("[[guard.policies]]\nname = \"p\"\naction = \"stop\"\n", "guard.policies[0]"),
            ("[[guard.policies]]\nname = \"p q\"\nmin_ratio = 0.9\naction = \"stop\"\n", "guard.policies[0].name"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 1.5\naction = \"stop\"\n", "guard.policies[0].min_ratio"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"explode\"\n", "guard.policies[0].action"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"speed_limit\"\n", "guard.policies[0].speed_kbps"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"stop\"\nspeed_kbps = 64\n", "guard.policies[0].speed_kbps"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"stop\"\nmode = \"yolo\"\n", "guard.policies[0].mode"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"stop\"\nrestore = \"never\"\n", "guard.policies[0].restore"),
            ("[[guard.policies]]\nname = \"p\"\nprojected_days = 9\naction = \"stop\"\n", "guard.policies[0].projected_days"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"stop\"\naccount = \"nope\"\n", "guard.policies[0].account"),
            ("[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"stop\"\n[[guard.policies]]\nname = \"p\"\nanomaly = true\naction = \"stop\"\n", "guard.policies[1].name"),
            ("[guard]\nfleet_brake = 0\n[[guard.policies]]\nname = \"p\"\nmin_ratio = 0.9\naction = \"stop\"\nmode = \"enforce\"\n", "guard.fleet_brake"),
            ("[guard]\nfleet_brake = 2\n", "guard.fleet_brake"),
            ("[guard]\ninterval = \"0s\"\n", "guard.interval"),
        ];
        for (toml, key) in cases {
            let e = load(toml).err().map(|e| e.key);
            assert_eq!(e.as_deref(), Some(key), "{toml}");
        }
    }

    #[test]
    fn a_count_brake_alone_lets_a_policy_enforce() {
        let toml =
            format!("[guard]\nfleet_brake = 0\nfleet_brake_cards = 50\n{OK}mode = \"enforce\"\n");
        let s = load(&toml).expect("valid");
        assert_eq!(s.guard.fleet_brake, None);
        assert_eq!(s.guard.daily_limit(1_000_000), 50);
    }
}
