//! Assembles a scrape body from a rendering: shared `Bytes` chunks, never re-rendered or re-compressed.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::Stream;

use super::options::Shard;
use super::sims::Rendering;

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
}

/// Builds the body: the pre-rendered families (and fleet), then the daemon's own families (`daemon`, encoded
/// at scrape time). A full scrape that accepts gzip gets one gzip member: a header, the cached deflate
/// blocks, `daemon` as stored blocks and the trailer — nothing is compressed at scrape time. A scrape-time
/// shard copies the matching cards' lines from the offsets and is served plain.
pub fn body(r: Arc<Rendering>, req: ScrapeRequest, daemon: Vec<u8>) -> ScrapeBody {
    match req.shard {
        None if req.accept_gzip => {
            let tail = gzip_tail(&daemon, r.gzip_crc, r.gzip_len);
            let chunks = std::iter::once(Bytes::from_static(&GZIP_HEADER))
                .chain(split(&r.gzip))
                .chain(std::iter::once(tail));
            ScrapeBody {
                gzip: true,
                chunks: Box::new(chunks),
            }
        }
        None => {
            let mut parts: Vec<Bytes> = Vec::new();
            for f in &r.families {
                parts.push(f.header.clone());
                parts.extend(split(&f.body));
            }
            parts.push(r.fleet.clone());
            parts.push(daemon.into());
            ScrapeBody {
                gzip: false,
                chunks: Box::new(parts.into_iter().filter(|b| !b.is_empty())),
            }
        }
        Some(shard) => {
            let tail = if shard.serves_fleet() {
                vec![r.fleet.clone(), Bytes::from(daemon)]
            } else {
                Vec::new()
            };
            let cursor = ShardCursor {
                r,
                shard,
                family: 0,
                card: 0,
            };
            let chunks = cursor.chain(tail.into_iter().filter(|b| !b.is_empty()));
            ScrapeBody {
                gzip: false,
                chunks: Box::new(chunks),
            }
        }
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

/// Walks families and cards, copying the lines of the shard's cards into chunks of about `CHUNK` bytes.
struct ShardCursor {
    r: Arc<Rendering>,
    shard: Shard,
    family: usize,
    card: usize,
}

impl Iterator for ShardCursor {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let mut out = BytesMut::with_capacity(CHUNK + 4096);
        while out.len() < CHUNK {
            let Some(f) = self.r.families.get(self.family) else {
                break;
            };
            if self.card == 0 {
                out.extend_from_slice(&f.header);
            }
            let ids = &self.r.card_ids;
            while self.card < ids.len() && out.len() < CHUNK {
                if self.shard.contains(ids[self.card]) {
                    out.extend_from_slice(f.card(self.card));
                }
                self.card += 1;
            }
            if self.card == ids.len() {
                self.family += 1;
                self.card = 0;
            }
        }
        (!out.is_empty()).then(|| out.freeze())
    }
}
