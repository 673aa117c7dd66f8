//! Simulator throughput: 500-card pages of a 1,000,000-card fleet with flow control off (raw reqwest,
//! bytes only), and the card generation rate. Prints figures and ratios; asserts nothing about time.

use std::time::Instant;

use gsl_sync::simulator::{self, SimulatorOptions};

const CARDS: u64 = 1_000_000;
const PAGES: u64 = 200;
const CONCURRENCY: u64 = 4;

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run()) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let opts = SimulatorOptions {
        cards: CARDS,
        rate_limit: None,
        ..SimulatorOptions::default()
    };
    let sim = simulator::start("127.0.0.1:0".parse()?, opts).await?;
    generation(&sim);
    let client = reqwest::Client::new();
    let login = serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "password": "demo", "domain": {"name": "demo"}}}}, "scope": {"project": {"name": "cn-north-4"}}}});
    let r = client
        .post(format!("{}/v3/auth/tokens", sim.base_url()))
        .json(&login)
        .send()
        .await?;
    let token = r
        .headers()
        .get("x-subject-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();

    for workers in [1, CONCURRENCY] {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..workers {
            let (client, token, base) = (client.clone(), token.clone(), sim.base_url());
            tasks.push(tokio::spawn(async move {
                let mut bytes = 0usize;
                for i in 0..PAGES / workers {
                    // Spread pages over the whole fleet: rank lookups must not depend on the page number.
                    let page = 1 + (i * workers + w) * 9 % (CARDS / 500);
                    let url = format!("{base}/v1/sim-cards?limit=500&offset={page}");
                    let r = client
                        .get(url)
                        .header("X-Auth-Token", &token)
                        .send()
                        .await?;
                    bytes += r.bytes().await?.len();
                }
                Ok::<usize, reqwest::Error>(bytes)
            }));
        }
        let mut bytes = 0;
        for t in tasks {
            bytes += t.await??;
        }
        let secs = started.elapsed().as_secs_f64();
        let pages = (PAGES / workers * workers) as f64;
        println!(
            "list pages, {workers} client(s): {:.1} pages/s, {:.0} cards/s, {:.0} KiB/page; {:.0}x GSL's 1 page/s; a 1M-card pass {:.1} s vs >= 2000 s at GSL's limit",
            pages / secs,
            pages * 500.0 / secs,
            bytes as f64 / pages / 1024.0,
            pages / secs,
            (CARDS / 500) as f64 / (pages / secs)
        );
    }
    sim.shutdown().await;
    Ok(())
}

fn generation(sim: &simulator::SimulatorHandle) {
    let fleet = sim.fleet();
    let started = Instant::now();
    let n = 200_000usize;
    let mut used = 0.0;
    for id in fleet
        .card_ids()
        .step_by((CARDS as usize / n).max(1))
        .take(n)
    {
        used += fleet.card(id).map_or(0.0, |c| c.flow_used);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "card generation: {:.0} cards/s ({n} cards, checksum {used:.0} MB)",
        n as f64 / secs
    );
}
