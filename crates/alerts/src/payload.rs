//! The JSON sent to receivers: Alertmanager v2 alerts, and the webhook's `{status, alerts}` envelope.
//!
//! Webhook body (one POST per status): `{"status": "firing"|"resolved", "alerts": [A, ...]}` where each `A`
//! is the Alertmanager alert below plus `"status"` and `"episode_id"` (the `alerts.id`); firing ones carry
//! no `endsAt`.
//! Alertmanager alert: `{labels, annotations, startsAt, endsAt, generatorURL}`; a firing alert's `endsAt`
//! lies a few resend intervals ahead so that Alertmanager does not resolve it between two sends, a
//! resolved one's is its `resolved_at`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::rules::suspension_reason;
use gsl_store::alerts::DueAlert;

/// Labels: `alertname, severity, account`, and `iccid, sim_card_id` (cards) or `sim_pool_id, pool_kind`;
/// guard episodes add `policy`, `action` and `mode`.
pub fn labels(a: &DueAlert) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("alertname".into(), a.kind.clone());
    l.insert("severity".into(), a.severity.clone());
    l.insert("account".into(), a.account.clone());
    if let Some(id) = a.sim_card_id {
        l.insert("sim_card_id".into(), id.to_string());
        l.insert("iccid".into(), a.iccid.clone().unwrap_or_default());
    }
    if let Some(id) = a.sim_pool_id {
        l.insert("sim_pool_id".into(), id.to_string());
        if let Some(kind) = detail_str(&details(a), "pool_kind") {
            l.insert("pool_kind".into(), kind);
        }
    }
    // Guard episodes are told apart by what decided them (bounded: policy names come from config).
    if a.kind.starts_with("GslGuard") {
        let d = details(a);
        for key in ["policy", "action", "mode"] {
            if let Some(v) = detail_str(&d, key) {
                l.insert(key.into(), v);
            }
        }
    }
    l
}

/// Annotations: `summary`, `description`, `value`, `threshold`, and the episode's details as strings.
pub fn annotations(a: &DueAlert) -> BTreeMap<String, String> {
    let d = details(a);
    let mut out: BTreeMap<String, String> = match &d {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let value = a.value.unwrap_or(f64::NAN);
    let threshold = a.threshold.unwrap_or(f64::NAN);
    out.insert("value".into(), figure(a.value));
    out.insert("threshold".into(), figure(a.threshold));
    let who = match (&a.iccid, a.sim_card_id) {
        (Some(iccid), _) if !iccid.is_empty() => format!("SIM {iccid}"),
        (_, Some(id)) => format!("SIM card {id}"),
        _ => format!(
            "Pool {}",
            detail_str(&d, "pool_name")
                .unwrap_or_else(|| a.sim_pool_id.unwrap_or_default().to_string())
        ),
    };
    let get = |k: &str| detail_str(&d, k).unwrap_or_else(|| "?".into());
    let (summary, description) = match a.kind.as_str() {
        "GslSimQuotaWarning" | "GslSimQuotaCritical" => (
            format!("{who} used {:.1}% of its data quota", value * 100.0),
            format!(
                "{} MB used, {} MB left ({}); threshold {:.1}%.",
                get("flow_used_mb"),
                get("flow_left_mb"),
                // A real-time figure is an estimate of today so far; the nightly one is the billed one.
                match detail_str(&d, "source").as_deref() {
                    Some("realtime") => format!("real-time estimate at {}", get("checked_at")),
                    _ => format!("as of {}", get("data_date")),
                },
                threshold * 100.0
            ),
        ),
        "GslSimSuspended" => {
            let reason = suspension_reason(value as i64);
            out.insert("reason".into(), reason.into());
            (
                format!("{who} is suspended: {reason}"),
                format!("operator_status {value}: {reason}."),
            )
        }
        "GslSimExhaustionProjected" => (
            format!(
                "{who} will run out of data around {}",
                get("projected_date")
            ),
            format!(
                "At {} MB/day, the {} MB left last {value:.1} days (threshold {threshold} days).",
                get("daily_rate_mb"),
                get("flow_left_mb")
            ),
        ),
        "GslGuardAction" => {
            let mode = get("mode");
            let done = if mode == "enforce" {
                format!("{} ({})", get("action"), get("status"))
            } else {
                format!("{} would be taken (dry run, nothing sent)", get("action"))
            };
            (
                format!("Guard policy {} on {who}: {done}", get("policy")),
                get("reason"),
            )
        }
        "GslGuardBrake" => (
            format!(
                "Guard policy {} held by the fleet brake: it would act on {value:.0} cards",
                get("policy")
            ),
            format!(
                "{value:.0} new cards match, {} already acted on today; the day's limit is {threshold:.0} \
                 of the account's {} cards. The rest are left alone until the policy is checked.",
                get("today"),
                get("fleet_cards")
            ),
        ),
        "GslSimUsageAnomaly" => (
            format!("{who} used {value:.0} MB on {}", get("day")),
            format!(
                "{value:.0} MB against a median of {} MB/day; fires above {threshold:.0} MB.",
                get("baseline_mb")
            ),
        ),
        _ => (
            format!("{who} used {:.1}% of its flow pool", value * 100.0),
            format!(
                "{} MB of {} MB used in cycle {}; threshold {:.1}%.",
                get("flow_used_mb"),
                get("flow_total_mb"),
                get("billing_cycle"),
                threshold * 100.0
            ),
        ),
    };
    out.insert("summary".into(), summary);
    out.insert("description".into(), description);
    out
}

/// One Alertmanager v2 alert; `firing_until` is the `endsAt` of a firing alert.
pub fn alertmanager_alert(a: &DueAlert, firing_until: DateTime<Utc>) -> Value {
    let ends = a.resolved_at.unwrap_or(firing_until);
    json!({
        "labels": labels(a),
        "annotations": annotations(a),
        "startsAt": rfc3339(a.started_at),
        "endsAt": rfc3339(ends),
        "generatorURL": format!("gsl-sync:alerts/{}", a.id),
    })
}

/// The webhook body for alerts of one status.
pub fn webhook_body(resolved: bool, alerts: &[DueAlert], firing_until: DateTime<Utc>) -> Value {
    let status = if resolved { "resolved" } else { "firing" };
    let items: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let mut v = alertmanager_alert(a, firing_until);
            if let Value::Object(m) = &mut v {
                m.insert("status".into(), status.into());
                m.insert("episode_id".into(), a.id.into());
                if !resolved {
                    m.remove("endsAt");
                }
            }
            v
        })
        .collect();
    json!({ "status": status, "alerts": items })
}

fn details(a: &DueAlert) -> Value {
    serde_json::from_str(&a.details).unwrap_or(Value::Null)
}

fn detail_str(d: &Value, key: &str) -> Option<String> {
    d.get(key).filter(|v| !v.is_null()).map(plain)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn figure(v: Option<f64>) -> String {
    v.map(format_float).unwrap_or_default()
}

/// Up to 4 decimals without trailing zeros: ratios and MB stay readable.
fn format_float(f: f64) -> String {
    let s = format!("{f:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(kind: &str, card: bool, details: &str, value: f64, threshold: f64) -> DueAlert {
        DueAlert {
            id: 9,
            account: "acme".into(),
            kind: kind.into(),
            severity: "warning".into(),
            sim_card_id: card.then_some(42.into()),
            iccid: card.then(|| "8986001".into()),
            sim_pool_id: (!card).then_some(7.into()),
            started_at: DateTime::from_timestamp(1_700_000_000, 0).expect("ts"),
            resolved_at: None,
            value: Some(value),
            threshold: Some(threshold),
            details: details.into(),
        }
    }

    #[test]
    fn card_and_pool_labels() {
        let l = labels(&alert("GslSimQuotaWarning", true, "{}", 0.85, 0.8));
        let want: BTreeMap<String, String> = [
            ("alertname", "GslSimQuotaWarning"),
            ("severity", "warning"),
            ("account", "acme"),
            ("sim_card_id", "42"),
            ("iccid", "8986001"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        assert_eq!(l, want);
        let l = labels(&alert(
            "GslPoolQuotaCritical",
            false,
            r#"{"pool_kind":"forward"}"#,
            0.95,
            0.9,
        ));
        assert_eq!(l.get("sim_pool_id").map(String::as_str), Some("7"));
        assert_eq!(l.get("pool_kind").map(String::as_str), Some("forward"));
        assert!(!l.contains_key("iccid"));
    }

    #[test]
    fn guard_episodes_name_policy_action_and_mode() {
        let d = r#"{"policy":"throttle","action":"speed_limit","mode":"dry_run","status":"dry_run",
                    "reason":"throttle: used 96.0% of its quota"}"#;
        let a = alert("GslGuardAction", true, d, 0.96, f64::NAN);
        let l = labels(&a);
        for (k, v) in [
            ("policy", "throttle"),
            ("action", "speed_limit"),
            ("mode", "dry_run"),
        ] {
            assert_eq!(l.get(k).map(String::as_str), Some(v), "{k}");
        }
        let ann = annotations(&a);
        assert_eq!(
            ann.get("summary").map(String::as_str),
            Some("Guard policy throttle on SIM 8986001: speed_limit would be taken (dry run, nothing sent)")
        );
        assert_eq!(
            ann.get("description").map(String::as_str),
            Some("throttle: used 96.0% of its quota")
        );
        let mut b = alert(
            "GslGuardBrake",
            false,
            r#"{"policy":"throttle","today":0,"fleet_cards":40000}"#,
            20000.0,
            400.0,
        );
        b.sim_pool_id = None;
        let ann = annotations(&b);
        assert_eq!(
            ann.get("summary").map(String::as_str),
            Some("Guard policy throttle held by the fleet brake: it would act on 20000 cards")
        );
        assert!(labels(&b).get("policy").is_some_and(|p| p == "throttle"));
        assert!(!labels(&b).contains_key("sim_pool_id"));
    }

    #[test]
    fn annotations_carry_the_figures() {
        let cases = [
            (
                alert(
                    "GslSimQuotaWarning",
                    true,
                    r#"{"flow_used_mb":850.0,"flow_left_mb":150.0}"#,
                    0.85,
                    0.8,
                ),
                "SIM 8986001 used 85.0% of its data quota",
            ),
            (
                alert(
                    "GslSimSuspended",
                    true,
                    r#"{"operator_status":1}"#,
                    1.0,
                    f64::NAN,
                ),
                "SIM 8986001 is suspended: stopped for exceeding the flow quota",
            ),
            (
                alert(
                    "GslSimExhaustionProjected",
                    true,
                    r#"{"projected_date":"2026-03-12"}"#,
                    2.0,
                    3.0,
                ),
                "SIM 8986001 will run out of data around 2026-03-12",
            ),
            (
                alert(
                    "GslSimUsageAnomaly",
                    true,
                    r#"{"day":"2026-03-10","baseline_mb":10.0}"#,
                    600.0,
                    50.0,
                ),
                "SIM 8986001 used 600 MB on 2026-03-10",
            ),
            (
                alert(
                    "GslPoolQuotaWarning",
                    false,
                    r#"{"pool_name":"P1"}"#,
                    0.8,
                    0.8,
                ),
                "Pool P1 used 80.0% of its flow pool",
            ),
        ];
        for (a, summary) in cases {
            let ann = annotations(&a);
            assert_eq!(
                ann.get("summary").map(String::as_str),
                Some(summary),
                "{}",
                a.kind
            );
            assert!(ann.contains_key("description"));
            assert_eq!(
                ann.get("value"),
                Some(&format_float(a.value.unwrap_or_default()))
            );
        }
    }

    #[test]
    fn ends_at_is_ahead_when_firing_and_resolved_at_when_resolved() {
        let until = DateTime::from_timestamp(1_800_000_000, 0).expect("ts");
        let mut a = alert("GslSimQuotaWarning", true, "{}", 0.85, 0.8);
        assert_eq!(alertmanager_alert(&a, until)["endsAt"], rfc3339(until));
        let resolved = DateTime::from_timestamp(1_750_000_000, 0).expect("ts");
        a.resolved_at = Some(resolved);
        assert_eq!(alertmanager_alert(&a, until)["endsAt"], rfc3339(resolved));
        let body = webhook_body(true, std::slice::from_ref(&a), until);
        assert_eq!(body["status"], "resolved");
        assert_eq!(body["alerts"][0]["episode_id"], 9);
    }
}
