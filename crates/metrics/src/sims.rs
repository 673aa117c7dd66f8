//! Pre-rendered per-SIM gauges (the kube-state-metrics approach): each refresh formats every card's label
//! and value text once into a compact table (see `table`) and compresses the gzip body once; a scrape only
//! copies the pieces into lines (or serves the cached gzip), never formats a number.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures::TryStreamExt;

use super::fleet::{billing_cycle, FleetExtras, FleetTotals, QUOTA_KINDS};
use super::options::MetricsOptions;
use super::scrape::Lines;
use super::table::{CardTable, TooLarge, MAX_IDENTITY, VALUE_FAMILIES};
use super::text::{mb_to_bytes, push_f64, push_i64, push_label_value};
use gsl_store::gauges::GaugeCard;
use gsl_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("could not read the gauges from the store: {0}")]
    Store(#[from] StoreError),
    #[error("the per-SIM text outgrew 4 GiB; enable sharding or filters")]
    TooLarge,
    #[error("gzip compression failed: {0}")]
    Gzip(#[from] std::io::Error),
    #[error("the rendering task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<TooLarge> for MetricsError {
    fn from(_: TooLarge) -> Self {
        MetricsError::TooLarge
    }
}

/// What a refresh did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshStats {
    pub cards_read: u64,
    pub cards_rendered: u64,
    pub plain_bytes: u64,
    pub gzip_bytes: u64,
    pub elapsed: Duration,
}

/// One immutable rendering; scrapes hold an `Arc` to it, so a refresh never disturbs a scrape in progress.
pub struct Rendering {
    /// The per-SIM series, assembled into lines at scrape time (see `CardTable`).
    pub(crate) cards: CardTable,
    /// Whether the per-SIM families (headers included) are exposed at all (`metrics.per_sim`).
    pub(crate) per_sim: bool,
    /// Fleet families; empty on targets other than shard 0.
    pub(crate) fleet: Bytes,
    /// Per-SIM families + fleet as raw deflate blocks, compressed once and left open (sync-flushed, no final
    /// block) so a scrape can append the daemon's families and close one single gzip member.
    pub(crate) gzip: Bytes,
    /// CRC-32 and length of the text behind `gzip`, for the member's trailer.
    pub(crate) gzip_crc: u32,
    pub(crate) gzip_len: u64,
    pub stats: RefreshStats,
}

impl Rendering {
    /// Bytes held by this rendering: the card table, fleet text and the gzip cache.
    pub fn heap_bytes(&self) -> usize {
        self.cards.heap_bytes() + self.fleet.len() + self.gzip.len()
    }

    fn empty(opts: &MetricsOptions) -> Rendering {
        Builder::new(opts.clone()).finish_plain(&FleetExtras::default())
    }
}

/// The swappable rendering; clones share it. The watch's families (`watch`) are a small block of their
/// own, re-rendered after every round of real-time checks without re-rendering the fleet.
#[derive(Clone)]
pub struct SimGauges {
    current: Arc<RwLock<Arc<Rendering>>>,
    watch: Arc<RwLock<Bytes>>,
}

impl Default for SimGauges {
    fn default() -> Self {
        Self::new()
    }
}

impl SimGauges {
    /// Starts with an empty rendering (fleet headers only) until the first refresh.
    pub fn new() -> Self {
        Self::with(Rendering::empty(&MetricsOptions::default()))
    }

    fn with(r: Rendering) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(r))),
            watch: Arc::default(),
        }
    }

    /// The watch's families as text, served with the daemon's own families.
    pub fn watch_text(&self) -> Bytes {
        match self.watch.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-renders the watch's families from the store (watched cards only).
    pub async fn refresh_watch(
        &self,
        store: &Store,
        opts: &MetricsOptions,
    ) -> Result<(), MetricsError> {
        let cards = store.watched_cards(None, super::watch::MAX_WATCHED).await?;
        let counts = store.watch_counts().await?;
        let text = Bytes::from(super::watch::render(&cards, &counts, opts));
        match self.watch.write() {
            Ok(mut g) => *g = text,
            Err(poisoned) => *poisoned.into_inner() = text,
        }
        Ok(())
    }

    /// Builds from rows in memory (benchmarks, tests); the same rendering `refresh` makes from the store.
    pub fn from_rows(
        rows: impl IntoIterator<Item = GaugeCard>,
        extras: &FleetExtras,
        opts: &MetricsOptions,
    ) -> Result<Self, MetricsError> {
        let started = Instant::now();
        let mut b = Builder::new(opts.clone());
        for row in rows {
            b.push(&row)?;
        }
        let mut r = b.finish_plain(extras);
        compress(&mut r, opts.gzip_level)?;
        r.stats.elapsed = started.elapsed();
        Ok(Self::with(r))
    }

    /// The rendering a scrape should use now.
    pub fn snapshot(&self) -> Arc<Rendering> {
        match self.current.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-renders everything from the store and swaps it in; cards removed upstream drop out.
    pub async fn refresh(
        &self,
        store: &Store,
        opts: &MetricsOptions,
    ) -> Result<RefreshStats, MetricsError> {
        let started = Instant::now();
        let today = Utc::now().with_timezone(&opts.timezone).date_naive();
        let kinds: Vec<&str> = QUOTA_KINDS.iter().map(|(k, _)| *k).collect();
        let extras = FleetExtras {
            pools: store.gauge_pools(billing_cycle(today)).await?,
            open_alerts: store.gauge_open_alerts(&kinds).await?,
        };
        let mut b = Builder::new(opts.clone());
        let mut rows = std::pin::pin!(store.gauge_cards());
        while let Some(row) = rows.try_next().await? {
            b.push(&row)?;
        }
        let level = opts.gzip_level;
        let mut r = tokio::task::spawn_blocking(move || {
            let mut r = b.finish_plain(&extras);
            compress(&mut r, level).map(|()| r)
        })
        .await??;
        r.stats.elapsed = started.elapsed();
        let stats = r.stats.clone();
        self.swap(r);
        self.refresh_watch(store, opts).await?;
        Ok(stats)
    }

    fn swap(&self, r: Rendering) {
        let new = Arc::new(r);
        match self.current.write() {
            Ok(mut g) => *g = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }
}

struct Builder {
    opts: MetricsOptions,
    cards: CardTable,
    fleet: FleetTotals,
    identity: Vec<u8>,
    values: [Vec<u8>; VALUE_FAMILIES.len()],
    info_tail: Vec<u8>,
    cards_read: u64,
}

impl Builder {
    fn new(opts: MetricsOptions) -> Self {
        Self {
            opts,
            cards: CardTable::new(),
            fleet: FleetTotals::default(),
            identity: Vec::with_capacity(64),
            values: Default::default(),
            info_tail: Vec::with_capacity(256),
            cards_read: 0,
        }
    }

    fn push(&mut self, card: &GaugeCard) -> Result<(), MetricsError> {
        self.cards_read += 1;
        self.fleet.add(card);
        let ratio = usage_ratio(card.flow_used_mb, card.flow_left_mb);
        if !self.opts.per_sim
            || !self.opts.shard.contains(card.sim_card_id)
            || !self.opts.keeps(ratio, &card.tags)
        {
            return Ok(());
        }
        self.identity.clear();
        push_label_value(&mut self.identity, identity(card).as_ref());
        if self.identity.len() > MAX_IDENTITY {
            self.identity.clear();
            push_i64(&mut self.identity, card.sim_card_id.get());
        }
        let values = [
            card.flow_used_mb.map(mb_to_bytes),
            card.flow_left_mb.map(mb_to_bytes),
            ratio,
            card.operator_status.map(f64::from),
            card.sim_status.map(f64::from),
        ];
        for (text, value) in self.values.iter_mut().zip(values) {
            text.clear();
            if let Some(v) = value {
                push_f64(text, v);
            }
        }
        self.info_tail.clear();
        push_info_tail(&mut self.info_tail, card);
        let values = self.values.each_ref().map(Vec::as_slice);
        self.cards
            .push(card.sim_card_id, &self.identity, &values, &self.info_tail)?;
        Ok(())
    }

    fn finish_plain(mut self, extras: &FleetExtras) -> Rendering {
        self.cards.shrink_to_fit();
        let mut fleet = Vec::new();
        if self.opts.shard.serves_fleet() {
            self.fleet.render(extras, self.opts.timezone, &mut fleet);
        }
        Rendering {
            stats: RefreshStats {
                cards_read: self.cards_read,
                cards_rendered: self.cards.len() as u64,
                ..Default::default()
            },
            cards: self.cards,
            per_sim: self.opts.per_sim,
            fleet: fleet.into(),
            gzip: Bytes::new(),
            gzip_crc: 0,
            gzip_len: 0,
        }
    }
}

/// Compresses per-SIM families + fleet once per refresh, as deflate blocks ending on a sync flush (see
/// `gzip`); the plain text is assembled block by block and never held whole. Blocks are compressed on every
/// core at once (as pigz does): each is a deflate stream of its own ending on a sync flush, so they join
/// into one stream, and their CRCs combine into the member's.
fn compress(r: &mut Rendering, level: u32) -> Result<(), MetricsError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let parts = Lines::new(&*r, None).chain([r.fleet.clone()]);
    let blocks = deflate_in_parallel(parts, level, workers)?;
    let mut crc = crc32fast::Hasher::new();
    let mut len = 0u64;
    let mut gz = Vec::with_capacity(blocks.iter().map(|b| b.deflate.len()).sum());
    for block in blocks {
        gz.extend_from_slice(&block.deflate);
        crc.combine(&block.crc);
        len += block.plain_len;
    }
    r.gzip_crc = crc.finalize();
    r.gzip_len = len;
    r.stats.plain_bytes = len;
    r.stats.gzip_bytes = gz.len() as u64;
    r.gzip = gz.into();
    Ok(())
}

/// Plain text gathered into one block before it is compressed: large enough that restarting the
/// compressor's window at each block costs nothing measurable.
const BLOCK: usize = 4 << 20;

struct Block {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
    plain_len: u64,
}

/// Deflates `parts`, gathered into blocks of `BLOCK`, on `workers` threads; the blocks in text order.
fn deflate_in_parallel(
    parts: impl Iterator<Item = Bytes>,
    level: u32,
    workers: usize,
) -> Result<Vec<Block>, MetricsError> {
    let (to_workers, queue) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(workers);
    let queue = std::sync::Mutex::new(queue);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| -> std::io::Result<()> {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok((index, plain)) = next else {
                            return Ok(());
                        };
                        let block = deflate_block(&plain, level)?;
                        done.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((index, block));
                    }
                })
            })
            .collect();
        let mut plain = Vec::with_capacity(BLOCK + CHUNK_SLACK);
        let mut index = 0;
        for part in parts {
            plain.extend_from_slice(&part);
            if plain.len() >= BLOCK {
                let full = std::mem::replace(&mut plain, Vec::with_capacity(BLOCK + CHUNK_SLACK));
                // A send fails only when every worker has stopped on an error, reported below.
                if to_workers.send((index, full)).is_err() {
                    break;
                }
                index += 1;
            }
        }
        if !plain.is_empty() {
            let _ = to_workers.send((index, plain));
        }
        drop(to_workers);
        for handle in handles {
            match handle.join() {
                Ok(result) => result?,
                Err(_) => return Err(std::io::Error::other("a compression thread panicked")),
            }
        }
        Ok(())
    })?;
    let mut blocks = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    blocks.sort_unstable_by_key(|(index, _)| *index);
    Ok(blocks.into_iter().map(|(_, block)| block).collect())
}

/// Room for the part that takes a block past `BLOCK` (scrape chunks are 1 MiB).
const CHUNK_SLACK: usize = 2 << 20;

/// One block as a deflate stream ending on a sync flush, without a final block.
fn deflate_block(plain: &[u8], level: u32) -> std::io::Result<Block> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(plain.len() / 8),
        flate2::Compression::new(level),
    );
    enc.write_all(plain)?;
    enc.flush()?;
    // Taken before the encoder is dropped, so its final block (written on drop) goes nowhere.
    let mut deflate = std::mem::take(enc.get_mut());
    drop(enc);
    deflate.shrink_to_fit();
    let mut crc = crc32fast::Hasher::new();
    crc.update(plain);
    Ok(Block {
        deflate,
        crc,
        plain_len: plain.len() as u64,
    })
}

pub use gsl_domain::usage_ratio;

/// The identity label: ICCID, else CID, else the card id (so no two cards share an empty label).
fn identity(card: &GaugeCard) -> std::borrow::Cow<'_, str> {
    match non_empty(&card.iccid).or_else(|| non_empty(&card.cid)) {
        Some(id) => id.into(),
        None => card.sim_card_id.to_string().into(),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// The info line after the identity: `",sim_card_id="…",…,price_plan="…"} 1` and a line feed.
fn push_info_tail(out: &mut Vec<u8>, c: &GaugeCard) {
    out.extend_from_slice(b"\",sim_card_id=\"");
    push_i64(out, c.sim_card_id.get());
    out.extend_from_slice(b"\",account=\"");
    push_label_value(out, &c.account);
    out.extend_from_slice(b"\",sim_type=\"");
    if let Some(t) = c.sim_type {
        push_i64(out, t.into());
    }
    out.extend_from_slice(b"\",sim_pool_id=\"");
    if let Some(p) = c.sim_pool_id {
        push_i64(out, p.get());
    }
    out.extend_from_slice(b"\",price_plan=\"");
    push_label_value(out, c.price_plan_name.as_deref().unwrap_or(""));
    out.extend_from_slice(b"\"} 1\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::{body, ScrapeRequest};
    use crate::Shard;

    fn card(id: i64, used: Option<f64>, left: Option<f64>) -> GaugeCard {
        GaugeCard {
            account: "main".into(),
            sim_card_id: id.into(),
            iccid: Some(format!("8986{id:016}")),
            flow_used_mb: used,
            flow_left_mb: left,
            sim_status: Some(20),
            operator_status: Some(-1),
            ..GaugeCard::default()
        }
    }

    fn text(g: &SimGauges, shard: Option<Shard>) -> String {
        let req = ScrapeRequest {
            shard,
            accept_gzip: false,
            format: crate::text::Format::Prometheus,
        };
        String::from_utf8(body(g.snapshot(), req, Vec::new()).concat()).unwrap()
    }

    fn series(text: &str, family: &str) -> Vec<String> {
        text.lines()
            .filter(|l| {
                l.starts_with(&format!("{family}{{")) || l.starts_with(&format!("{family} "))
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn ratio_is_absent_when_used_and_left_are_both_zero() {
        for (used, left, ratio) in [
            (Some(0.0), Some(0.0), None),
            (Some(1.0), Some(3.0), Some(0.25)),
            (Some(0.0), Some(5.0), Some(0.0)),
            (None, Some(5.0), None),
            (Some(5.0), None, None),
        ] {
            assert_eq!(usage_ratio(used, left), ratio, "{used:?} {left:?}");
        }
        let g = SimGauges::from_rows(
            [card(1, Some(0.0), Some(0.0))],
            &FleetExtras::default(),
            &MetricsOptions::default(),
        )
        .unwrap();
        let t = text(&g, None);
        assert!(series(&t, "gsl_sim_usage_ratio").is_empty(), "{t}");
        assert_eq!(series(&t, "gsl_sim_flow_used_bytes").len(), 1);
    }

    #[test]
    fn values_are_bytes_and_value_series_carry_only_the_identity() {
        let mut c = card(7, Some(1.5), Some(1022.5));
        c.price_plan_name = Some("全球 \"1GB\" 套餐".into());
        c.cid = Some("cid-7".into());
        let g =
            SimGauges::from_rows([c], &FleetExtras::default(), &MetricsOptions::default()).unwrap();
        let t = text(&g, None);
        let iccid = "89860000000000000007";
        assert_eq!(
            series(&t, "gsl_sim_flow_used_bytes"),
            [format!(
                "gsl_sim_flow_used_bytes{{iccid=\"{iccid}\"}} 1572864"
            )]
        );
        assert_eq!(
            series(&t, "gsl_sim_flow_left_bytes"),
            [format!(
                "gsl_sim_flow_left_bytes{{iccid=\"{iccid}\"}} 1072168960"
            )]
        );
        assert_eq!(
            series(&t, "gsl_sim_usage_ratio"),
            [format!(
                "gsl_sim_usage_ratio{{iccid=\"{iccid}\"}} 0.00146484375"
            )]
        );
        assert_eq!(
            series(&t, "gsl_sim_status"),
            [format!("gsl_sim_status{{iccid=\"{iccid}\"}} 20")]
        );
        assert_eq!(
            series(&t, "gsl_sim_info"),
            [format!("gsl_sim_info{{iccid=\"{iccid}\",sim_card_id=\"7\",account=\"main\",sim_type=\"\",sim_pool_id=\"\",price_plan=\"全球 \\\"1GB\\\" 套餐\"}} 1")]
        );
    }

    #[test]
    fn cid_stands_in_for_a_missing_iccid() {
        let mut c = card(9, Some(1.0), Some(1.0));
        c.iccid = None;
        c.cid = Some("C-9".into());
        let g =
            SimGauges::from_rows([c], &FleetExtras::default(), &MetricsOptions::default()).unwrap();
        assert_eq!(
            series(&text(&g, None), "gsl_sim_status"),
            ["gsl_sim_status{iccid=\"C-9\"} 20"]
        );
    }

    #[test]
    fn scrape_shards_partition_the_per_sim_series_and_fleet_goes_to_shard_zero() {
        let cards: Vec<GaugeCard> = (0..2_000)
            .map(|i| card(i, Some(i as f64), Some(1.0)))
            .collect();
        let g = SimGauges::from_rows(cards, &FleetExtras::default(), &MetricsOptions::default())
            .unwrap();
        let full = text(&g, None);
        let mut all: Vec<String> = series(&full, "gsl_sim_info");
        let mut joined = Vec::new();
        for i in 0..3 {
            let t = text(&g, Shard::new(i, 3));
            assert_eq!(
                series(&t, "gsl_sims").is_empty(),
                i != 0,
                "fleet on shard {i}"
            );
            joined.extend(series(&t, "gsl_sim_info"));
        }
        all.sort();
        joined.sort();
        assert_eq!(all.len(), 2_000);
        assert_eq!(all, joined);
    }

    #[test]
    fn per_sim_off_keeps_only_fleet_families() {
        let opts = MetricsOptions {
            per_sim: false,
            ..MetricsOptions::default()
        };
        let g = SimGauges::from_rows(
            [card(1, Some(1.0), Some(1.0))],
            &FleetExtras::default(),
            &opts,
        )
        .unwrap();
        let t = text(&g, None);
        assert!(!t.contains("gsl_sim_"), "{t}");
        assert_eq!(
            series(&t, "gsl_sims"),
            ["gsl_sims{account=\"main\",sim_status=\"20\",operator_status=\"-1\"} 1"]
        );
    }

    #[test]
    fn gzip_cache_decodes_to_the_plain_text() {
        // 500 cards fit in one block; 40,000 (about 19 MB of text) take several, compressed side by side.
        for n in [500, 40_000] {
            gzip_decodes_to_the_plain_text(n);
        }
    }

    fn gzip_decodes_to_the_plain_text(n: i64) {
        use std::io::Read;
        let cards: Vec<GaugeCard> = (0..n).map(|i| card(i, Some(2.0), Some(i as f64))).collect();
        let g = SimGauges::from_rows(cards, &FleetExtras::default(), &MetricsOptions::default())
            .unwrap();
        let daemon = b"# TYPE x gauge\nx 1\n".to_vec();
        let gz = body(
            g.snapshot(),
            ScrapeRequest {
                shard: None,
                accept_gzip: true,
                format: crate::text::Format::Prometheus,
            },
            daemon.clone(),
        );
        assert!(gz.gzip);
        let mut plain = String::new();
        // A single member: clients that stop after the first one (curl --compressed) see everything.
        flate2::read::GzDecoder::new(&gz.concat()[..])
            .read_to_string(&mut plain)
            .unwrap();
        let expected = body(g.snapshot(), ScrapeRequest::default(), daemon).concat();
        assert!(
            n < 10_000 || expected.len() > 3 * BLOCK,
            "{}",
            expected.len()
        );
        assert_eq!(plain.as_bytes(), expected);
    }

    #[test]
    fn open_metrics_bodies_end_with_eof_whatever_their_shape() {
        use crate::text::Format;
        use std::io::Read;
        let cards: Vec<GaugeCard> = (0..50).map(|i| card(i, Some(2.0), Some(1.0))).collect();
        let g = SimGauges::from_rows(cards, &FleetExtras::default(), &MetricsOptions::default())
            .unwrap();
        let om = |shard, accept_gzip| ScrapeRequest {
            shard,
            accept_gzip,
            format: Format::OpenMetrics,
        };
        let plain =
            String::from_utf8(body(g.snapshot(), om(None, false), Vec::new()).concat()).unwrap();
        assert!(
            plain.ends_with("# EOF\n") && plain.matches("# EOF").count() == 1,
            "{plain}"
        );
        let mut unzipped = String::new();
        flate2::read::GzDecoder::new(&body(g.snapshot(), om(None, true), Vec::new()).concat()[..])
            .read_to_string(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, plain);
        let shard = body(g.snapshot(), om(Shard::new(1, 2), false), Vec::new()).concat();
        assert!(String::from_utf8(shard).unwrap().ends_with("# EOF\n"));
        let text =
            String::from_utf8(body(g.snapshot(), ScrapeRequest::default(), Vec::new()).concat())
                .unwrap();
        assert!(!text.contains("# EOF"));
    }

    async fn insert_card(store: &Store, id: i64, removed: bool) {
        sqlx::query(
            "INSERT INTO sim_cards (account, sim_card_id, iccid, flow_used_mb, flow_left_mb, removed_at) \
             VALUES ('main', $1, $2, 1, 1, CASE WHEN $3 THEN now() END)",
        )
        .bind(id)
        .bind(format!("ICC{id}"))
        .bind(removed)
        .execute(store.pool())
        .await
        .unwrap();
    }

    #[sqlx::test(migrator = "gsl_store::MIGRATOR")]
    async fn refresh_drops_cards_removed_upstream(pool: sqlx::PgPool) {
        let store = Store::from_pool(pool);
        for id in 1..=3 {
            insert_card(&store, id, id == 3).await;
        }
        let g = SimGauges::new();
        let opts = MetricsOptions::default();
        let stats = g.refresh(&store, &opts).await.unwrap();
        assert_eq!(stats.cards_rendered, 2);
        let before = g.snapshot();
        sqlx::query("UPDATE sim_cards SET removed_at = now() WHERE sim_card_id = 2")
            .execute(store.pool())
            .await
            .unwrap();
        g.refresh(&store, &opts).await.unwrap();
        let t = text(&g, None);
        assert_eq!(series(&t, "gsl_sim_info").len(), 1, "{t}");
        assert!(t.contains("ICC1") && !t.contains("ICC2") && !t.contains("ICC3"));
        // A scrape that took the old rendering keeps it whole.
        assert_eq!(
            (before.cards.sim_card_id(0), before.cards.sim_card_id(1)),
            (1.into(), 2.into())
        );
    }
}
