//! Helpers shared by the integration tests: dates, a simulator, settings pointing at it, polling.

use std::time::Duration;

use chrono::NaiveDate;
use gsl_sync::config::{Settings, Sources};
use gsl_sync::simulator::{self, SimulatorHandle, SimulatorOptions};

pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

pub async fn simulator(cards: u64, today: &str, rate_limited: bool) -> SimulatorHandle {
    let mut opts = SimulatorOptions {
        cards,
        today: d(today),
        ..SimulatorOptions::default()
    };
    if !rate_limited {
        opts.rate_limit = None;
    }
    simulator::start("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .expect("simulator starts")
}

/// Settings with one password account `main` pointing at the simulator.
pub fn settings_for(sim: &SimulatorHandle) -> Settings {
    let base = sim.base_url();
    let env = [
        ("GSL_SYNC__ACCOUNTS__MAIN__ENDPOINT", base.as_str()),
        ("GSL_SYNC__ACCOUNTS__MAIN__IAM_ENDPOINT", base.as_str()),
        ("GSL_SYNC__ACCOUNTS__MAIN__AUTH", "password"),
        ("GSL_SYNC__ACCOUNTS__MAIN__DOMAIN", "demo"),
        ("GSL_SYNC__ACCOUNTS__MAIN__USER", "demo"),
        ("GSL_SYNC__ACCOUNTS__MAIN__PASSWORD", "demo"),
        ("GSL_SYNC__SYNC__RETRY_BASE_DELAY", "10ms"),
        ("GSL_SYNC__SYNC__RETRY_MAX_DELAY", "200ms"),
    ];
    Settings::load_from(&Sources {
        file: None,
        env: Some(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    })
    .expect("valid settings")
}

pub async fn wait_until<F: Fn() -> bool>(what: &str, f: F) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
