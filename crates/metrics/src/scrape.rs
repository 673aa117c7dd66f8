//! Assembles a scrape body from a rendering: shared `Bytes` chunks, never re-rendered or re-compressed.

use std::convert::Infallible;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;

use super::options::Shard;
use super::sims::Rendering;
use super::table::{header, FAMILY_COUNT};
use super::text::Format;

const OPEN_METRICS_EOF: &[u8] = b"# EOF\n";

/// Chunk size of the streamed body: big enough to be cheap, small enough to keep back-pressure.
const CHUNK: usize = 1 << 20;

/// A ready body: the chunks to stream and whether they are gzip.
pub struct ScrapeBody {
    pub gzip: bool,
    chunks: Box<dyn Iterator<Item = Bytes> + Send>,
}

impl ScrapeBody {
    pub fn into_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
        futures::stream::iter(self.chunks.map(Ok))
    }

    /// Collects the whole body (tests, benchmarks).
    pub fn concat(self) -> Vec<u8> {
        let mut out = Vec::new();
        for c in self.chunks {
            out.extend_from_slice(&c);
        }
        out
    }
}

/// What a scrape asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrapeRequest {
    /// `?shard=&total=`: only those cards' per-SIM series; fleet and daemon families only on shard 0.
    pub shard: Option<Shard>,
    /// The client accepts gzip.
    pub accept_gzip: bool,
    pub format: Format,
}

/// Builds the body: the per-SIM families (and fleet), then the daemon's own families (`daemon`, encoded at
/// scrape time). A full scrape that accepts gzip gets one gzip member: a header, the cached deflate blocks,
/// `daemon` as stored blocks and the trailer — nothing is compressed at scrape time. Plain scrapes, and
/// scrape-time shards (served plain), assemble the lines from the card table chunk by chunk.
pub fn body(r: Arc<Rendering>, req: ScrapeRequest, mut daemon: Vec<u8>) -> ScrapeBody {
    let open_metrics = req.format == Format::OpenMetrics;
    if req.shard.is_none() && req.accept_gzip {
        if open_metrics {
            daemon.extend_from_slice(OPEN_METRICS_EOF);
        }
        let tail = gzip_tail(&daemon, r.gzip_crc, r.gzip_len);
        let chunks = std::iter::once(Bytes::from_static(&GZIP_HEADER))
            .chain(split(&r.gzip))
            .chain(std::iter::once(tail));
        return ScrapeBody {
            gzip: true,
            chunks: Box::new(chunks),
        };
    }
    let mut tail = if req.shard.is_none_or(|s| s.serves_fleet()) {
        vec![r.fleet.clone(), Bytes::from(daemon)]
    } else {
        Vec::new()
    };
    if open_metrics {
        tail.push(Bytes::from_static(OPEN_METRICS_EOF));
    }
    let lines = Lines::new(r, req.shard);
    ScrapeBody {
        gzip: false,
        chunks: Box::new(lines.chain(tail.into_iter().filter(|b| !b.is_empty()))),
    }
}

/// Zero-copy slices of at most `CHUNK` bytes.
fn split(b: &Bytes) -> Vec<Bytes> {
    (0..b.len())
        .step_by(CHUNK)
        .map(|start| b.slice(start..(start + CHUNK).min(b.len())))
        .collect()
}

/// A gzip member header: deflate, no name, no mtime, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Closes the cached deflate stream: `text` as stored blocks (the last one final), then the trailer with the
/// CRC-32 and length of everything. One member, so every gzip reader sees the whole body.
fn gzip_tail(text: &[u8], cached_crc: u32, cached_len: u64) -> Bytes {
    let mut out = Vec::with_capacity(text.len() + 5 * (text.len() / 65_535 + 1) + 8);
    let mut blocks = text.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let n = block.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(block);
    }
    let mut crc = crc32fast::Hasher::new_with_initial_len(cached_crc, cached_len);
    let mut tail_crc = crc32fast::Hasher::new();
    tail_crc.update(text);
    crc.combine(&tail_crc);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&((cached_len + text.len() as u64) as u32).to_le_bytes());
    out.into()
}

/// The per-SIM families as text, in chunks of about `CHUNK` bytes: each family's header, then the lines of
/// the cards in `shard` (all cards without one). Holds the rendering, so a refresh cannot pull it away.
pub(crate) struct Lines<R> {
    r: R,
    shard: Option<Shard>,
    family: usize,
    card: usize,
}

impl<R: Deref<Target = Rendering>> Lines<R> {
    pub fn new(r: R, shard: Option<Shard>) -> Self {
        let family = if r.per_sim { 0 } else { FAMILY_COUNT };
        Self {
            r,
            shard,
            family,
            card: 0,
        }
    }
}

impl<R: Deref<Target = Rendering>> Iterator for Lines<R> {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let cards = &self.r.cards;
        let mut out = Vec::with_capacity(CHUNK + 4096);
        while out.len() < CHUNK && self.family < FAMILY_COUNT {
            if self.card == 0 {
                out.extend_from_slice(header(self.family));
            }
            while self.card < cards.len() && out.len() < CHUNK {
                let wanted = self
                    .shard
                    .is_none_or(|s| s.contains(cards.sim_card_id(self.card)));
                if wanted {
                    cards.push_line(self.family, self.card, &mut out);
                }
                self.card += 1;
            }
            if self.card == cards.len() {
                self.family += 1;
                self.card = 0;
            }
        }
        (!out.is_empty()).then(|| Bytes::from(out))
    }
}
