//! A stand-alone imitation of the GSL API (and the bits of IAM it needs) over real HTTP, for tests, the
//! benchmark and the demo. Written from `gsl-api.md` with its own wire types: it shares nothing with the
//! client, only the calendar vocabulary of `gsl-domain`.

mod actions;
mod api;
mod args;
mod auth;
mod card;
mod fleet;
mod iam;
mod orders;
mod plans;
mod pools;
mod query;
mod server;
mod showcase;
pub mod sign;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use gsl_domain::SimCardId;
use tokio::sync::oneshot;

pub use args::SimulateArgs;
pub use auth::{Credentials, RateLimits};
pub use card::{Burn, SimCard, BACK_POOLS, FORWARD_POOLS};
pub use fleet::FleetView;
pub use gsl_domain::YearMonth;
pub use orders::{WorkOrderDetailVo, WorkOrderVo, DONE_AFTER};

/// Failure switches, changeable while running.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Fraction of GSL calls answered 500 `GSL.00010003`.
    pub error_rate: f64,
    /// Added to every call.
    pub latency: Duration,
    /// Cards inserted and removed between list pages.
    pub drift: Option<DriftFault>,
    /// Fraction of responses whose body is cut in half.
    pub truncate_rate: f64,
    /// One page of a list answered with a null, empty or short list (the `count` stays true).
    pub page_fault: Option<PageFault>,
}

/// A wrong list page: what a misbehaving gateway or a bug upstream answers. `op` names the operation as
/// in `SimStats::calls` (`list_sim_cards`, `list_sim_pools`, `list_sim_pool_members`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct PageFault {
    pub op: &'static str,
    /// The page number (`offset`) answered wrong.
    pub page: u64,
    pub answer: PageAnswer,
    /// How many times the page is answered wrong before it is answered right; `None`: always.
    pub times: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAnswer {
    /// The list is `null`.
    Null,
    /// The list is `[]`.
    Empty,
    /// The list keeps its first `n` entries.
    Short(usize),
}

/// Between list pages, before the pager's position: on even pages `inserts` cards are inserted among the
/// cards already listed (so the pager sees a card again), on odd pages from 3 on `removes` already-listed
/// cards are removed (so it skips one). `count` changes accordingly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriftFault {
    pub inserts: u64,
    pub removes: u64,
}

#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    pub cards: u64,
    pub seed: u64,
    pub today: NaiveDate,
    /// `None` turns flow control off.
    pub rate_limit: Option<RateLimits>,
    pub credentials: Credentials,
    pub token_lifetime: Duration,
    pub faults: Faults,
    /// Script the last six cards so a first sync raises every alert kind (the demo turns it on).
    pub showcase: bool,
    /// How long a work order takes to complete (default `DONE_AFTER`).
    pub order_delay: Duration,
}

impl Default for SimulatorOptions {
    fn default() -> Self {
        SimulatorOptions {
            cards: 10_000,
            seed: 1,
            today: shanghai_today(),
            rate_limit: Some(RateLimits::default()),
            credentials: Credentials::default(),
            token_lifetime: Duration::from_secs(24 * 3600),
            faults: Faults::default(),
            showcase: false,
            order_delay: DONE_AFTER,
        }
    }
}

/// The current calendar date in Asia/Shanghai.
pub fn shanghai_today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// The current local time in Asia/Shanghai.
pub fn shanghai_now() -> NaiveDateTime {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .naive_local()
}

/// `t` as local time in Asia/Shanghai, the simulator's (and GSL's) business clock.
pub fn shanghai_local(t: DateTime<Utc>) -> NaiveDateTime {
    t.with_timezone(&chrono_tz::Asia::Shanghai).naive_local()
}

/// Call counters since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Calls per operation: `login`, `list_projects`, `list_sim_cards`, `show_sim_card`, `daily_flow`,
    /// `month_usages`, `list_sim_pools`, `list_sim_pool_members`, `list_back_pools`,
    /// `list_back_pool_members`, `stop_sim_card`, `reset_sim_card`, `cut_net`, `speed_limit`,
    /// `exceed_cut_net`, `list_work_orders`, `list_work_order_details`, `list_sim_price_plans`, `unknown`.
    pub calls: BTreeMap<&'static str, u64>,
    pub total: u64,
    /// Answered 429.
    pub throttled: u64,
    /// Answered 500 by the error fault.
    pub injected_errors: u64,
    /// Answered 401.
    pub auth_failures: u64,
    /// Bodies cut by the truncate fault.
    pub truncated: u64,
}

impl SimStats {
    pub fn calls(&self, op: &str) -> u64 {
        self.calls.get(op).copied().unwrap_or(0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    #[error("simulator I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// A running simulator.
pub struct SimulatorHandle {
    sim: Arc<server::Sim>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

/// Binds `addr` (port 0 for any) and serves IAM and GSL there until shut down.
pub async fn start(addr: SocketAddr, opts: SimulatorOptions) -> std::io::Result<SimulatorHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(server::Sim::new(opts));
    let (stop, stopped) = oneshot::channel::<()>();
    let app = server::router(sim.clone());
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::warn!(%error, "Simulator server stopped.");
        }
    });
    Ok(SimulatorHandle {
        sim,
        addr,
        stop: Some(stop),
        task,
    })
}

impl SimulatorHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn stats(&self) -> SimStats {
        self.sim.stats()
    }
    pub fn reset_stats(&self) {
        self.sim.with_stats(|s| *s = SimStats::default());
    }
    /// Moves the simulated calendar to `day`; a simulated clock (`set_now`) keeps its time of day.
    pub fn set_today(&self, day: NaiveDate) {
        self.sim.with_world(|w| {
            w.today = day;
            w.clock = w.clock.map(|c| day.and_time(c.time()));
        });
    }
    /// Sets the simulated clock: `today` becomes `now`'s date in Asia/Shanghai, and real-time answers
    /// count today's usage up to `now`. The clock stands still until set again.
    pub fn set_now(&self, now: DateTime<Utc>) {
        let local = shanghai_local(now);
        self.sim.with_world(|w| {
            w.today = local.date();
            w.clock = Some(local);
        });
    }
    /// Makes card `id` burn `mb_per_hour` on top of its usual usage from `from` on (simulated time):
    /// real-time answers see it as it happens, the next night's daily flow and card figures include it.
    pub fn set_burn(&self, id: SimCardId, from: DateTime<Utc>, mb_per_hour: f64) {
        let Some(slot) = card::slot_of_id(id) else {
            return;
        };
        let burn = Burn {
            from: shanghai_local(from),
            mb_per_hour,
        };
        self.sim.with_world(|w| w.burns.insert(slot, burn));
    }
    pub fn set_faults(&self, f: Faults) {
        self.sim.with_world(|w| w.faults = f);
    }
    /// How long work orders accepted from now on take to complete.
    pub fn set_order_delay(&self, delay: Duration) {
        self.sim.with_world(|w| w.orders.delay = delay);
    }
    /// How long the same operation on a card is refused (`GSL.00016016`) after the last; GSL's is 5
    /// minutes, which tests of what follows an order cannot wait out.
    pub fn set_repeat_window(&self, window: Duration) {
        self.sim.with_world(|w| w.orders.no_repeat = window);
    }
    pub fn set_rate_limit(&self, r: Option<RateLimits>) {
        self.sim.with_world(|w| w.rate_limit = r);
    }
    /// Appends `n` cards after all others; returns their ids.
    pub fn add_cards(&self, n: u64) -> Vec<SimCardId> {
        self.sim
            .with_world(|w| w.fleet.append(n))
            .unwrap_or_default()
            .into_iter()
            .map(card::id_of)
            .collect()
    }
    pub fn remove_cards(&self, ids: &[SimCardId]) {
        self.sim.with_world(|w| {
            for slot in ids.iter().filter_map(|&id| card::slot_of_id(id)) {
                w.fleet.remove(slot);
            }
        });
    }
    pub fn fleet(&self) -> FleetView {
        self.sim.view()
    }
    /// The project id `GET /v3/projects` reports.
    pub fn project_id(&self) -> String {
        self.sim.project_id.clone()
    }
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        if self.stop.is_some() {
            self.task.abort();
        }
    }
}

/// `gsl-sync simulate`: prints `listening on http://ADDR` first, then serves until SIGINT/SIGTERM.
pub async fn run_cli(args: &SimulateArgs) -> Result<(), SimulatorError> {
    use std::io::Write;
    let opts = SimulatorOptions {
        cards: args.cards,
        seed: args.seed,
        today: args.today.unwrap_or_else(shanghai_today),
        rate_limit: (!args.no_rate_limit).then(RateLimits::default),
        credentials: Credentials {
            domain: args.domain.clone(),
            user: args.user.clone(),
            password: args.password.clone().into(),
            access_key: args.access_key.clone(),
            secret_key: args.secret_key.clone().into(),
            project: "cn-north-4".into(),
        },
        token_lifetime: args.token_lifetime,
        faults: Faults {
            error_rate: args.error_rate,
            latency: args.latency,
            ..Faults::default()
        },
        showcase: false,
        order_delay: args.order_delay,
    };
    let handle = start(args.listen, opts).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {}", handle.base_url())?;
    out.flush()?;
    drop(out);
    wait_for_signal().await?;
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
