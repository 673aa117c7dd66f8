//! `CardPager`: walks `GET /v1/sim-cards` one page at a time, measures how the set moved underneath, and
//! checks that every page holds what `count` promised.

use std::collections::HashSet;
use std::fmt;

use super::client::GslClient;
use super::error::GslError;
use super::models::SimCardPage;
use super::types::ListSimCardsQuery;
use gsl_domain::{backoff, SimCardId};

const DEFAULT_LIMIT: u32 = 500;

/// Re-fetches of a page that came back shorter than `count` promised, at most (and at most `max_retries`):
/// a proxy or gateway hiccup answers right the next time; a page that stays short is an upstream bug.
pub const SHORT_PAGE_REFETCHES: u32 = 3;

/// A page that held fewer items than its `count` promised, even after re-fetching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortPage {
    /// What was listed: `cards`, `pools`, `pool members`.
    pub what: &'static str,
    pub page: u64,
    pub pages: u64,
    pub got: u64,
    pub expected: u64,
}

impl fmt::Display for ShortPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page {} of {} returned {} of {} {}",
            self.page, self.pages, self.got, self.expected, self.what
        )
    }
}

/// What page `page` (from 1) of `limit` items must hold when the listing has `count` items, or `None`
/// when `count` is unknown. Past the end it is 0.
pub fn expected_on_page(page: u64, limit: u64, count: Option<i64>) -> Option<u64> {
    let count = u64::try_from(count?).unwrap_or(0);
    let before = page.saturating_sub(1).saturating_mul(limit);
    Some(count.saturating_sub(before).min(limit))
}

/// The shortfall of one page, if it held fewer than `count` promised.
pub fn short_page(
    what: &'static str,
    page: u64,
    limit: u64,
    count: Option<i64>,
    got: usize,
) -> Option<ShortPage> {
    let expected = expected_on_page(page, limit, count)?;
    let got = got as u64;
    (got < expected).then(|| ShortPage {
        what,
        page,
        pages: u64::try_from(count.unwrap_or(0))
            .unwrap_or(0)
            .div_ceil(limit.max(1)),
        got,
        expected,
    })
}

/// How much the card set changed while we paged: a changed `count` or repeated ids mean skipped cards are
/// possible. Short pages and a total that does not add up mean the pass is incomplete.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagingDrift {
    pub first_count: Option<i64>,
    pub last_count: Option<i64>,
    pub count_changed: bool,
    pub duplicate_ids: u64,
    pub pages: u64,
    pub cards: u64,
    /// Pages that stayed short after re-fetching.
    pub short_pages: Vec<ShortPage>,
    /// Distinct cards listed when that differs from a `count` that did not change.
    pub distinct_short_of_count: Option<(u64, i64)>,
}

impl PagingDrift {
    /// Why this pass cannot be trusted to list every card, naming the pages; `None` when it can.
    pub fn incompleteness(&self) -> Option<String> {
        if !self.short_pages.is_empty() {
            let pages: Vec<String> = self.short_pages.iter().map(|p| p.to_string()).collect();
            return Some(pages.join("; "));
        }
        self.distinct_short_of_count.map(|(seen, count)| {
            format!("listed {seen} distinct cards of the {count} count promised")
        })
    }
}

/// Yields the pages of one listing; holds one page in memory plus the ids seen.
pub struct CardPager {
    client: GslClient,
    query: ListSimCardsQuery,
    next_offset: u32,
    done: bool,
    seen: HashSet<SimCardId>,
    drift: PagingDrift,
}

impl GslClient {
    /// Pages through every card matching `query`, from page 1, `limit` 500 unless set.
    pub fn card_pages(&self, mut query: ListSimCardsQuery) -> CardPager {
        query.limit.get_or_insert(DEFAULT_LIMIT);
        CardPager {
            client: self.clone(),
            next_offset: query.offset.unwrap_or(1).max(1),
            query,
            done: false,
            seen: HashSet::new(),
            drift: PagingDrift::default(),
        }
    }

    /// Re-fetches allowed for a short page: the smaller of `SHORT_PAGE_REFETCHES` and `max_retries`.
    pub fn short_page_refetches(&self) -> u32 {
        SHORT_PAGE_REFETCHES.min(self.settings().max_retries)
    }

    /// Waits before re-fetch `attempt` (from 0) of a short page, with the one back-off of the client.
    pub async fn short_page_pause(&self, attempt: u32) {
        let s = self.settings();
        tokio::time::sleep(backoff::delay(
            s.retry_base_delay,
            s.retry_max_delay,
            attempt,
            None,
        ))
        .await;
    }
}

impl CardPager {
    /// The next page, or `None` once pages cover `count` or a page comes back empty. A page shorter than
    /// `count` promised is fetched again; one that stays short is recorded in `drift().short_pages` and
    /// its cards are still returned. An empty one ends the listing (a bogus `count` cannot make us walk
    /// millions of empty pages).
    pub async fn next_page(&mut self) -> Result<Option<SimCardPage>, GslError> {
        if self.done {
            return Ok(None);
        }
        let limit = u64::from(self.query.limit.unwrap_or(DEFAULT_LIMIT));
        let page_no = u64::from(self.next_offset);
        let (page, short) = self.fetch_checked(page_no, limit).await?;
        self.record(&page);
        let covered = page_no * limit;
        self.next_offset += 1;
        if let Some(short) = short {
            self.drift.short_pages.push(short);
        }
        if page.sim_cards.is_empty() {
            self.done = true;
            self.check_total();
            return Ok(None);
        }
        if page
            .count
            .is_none_or(|c| covered >= u64::try_from(c).unwrap_or(0))
        {
            self.done = true;
            self.check_total();
        }
        Ok(Some(page))
    }

    /// One page, re-fetched while it is short; the page last answered and its shortfall, if any.
    async fn fetch_checked(
        &mut self,
        page_no: u64,
        limit: u64,
    ) -> Result<(SimCardPage, Option<ShortPage>), GslError> {
        let mut q = self.query.clone();
        q.offset = Some(self.next_offset);
        let mut attempt = 0;
        loop {
            let page = self.client.list_sim_cards(&q).await?;
            let short = short_page("cards", page_no, limit, page.count, page.sim_cards.len());
            let Some(short) = short else {
                return Ok((page, None));
            };
            if attempt >= self.client.short_page_refetches() {
                return Ok((page, Some(short)));
            }
            tracing::warn!(account = self.client.account(), page = %short, attempt, "short card page; fetching it again");
            self.client.short_page_pause(attempt).await;
            attempt += 1;
        }
    }

    pub fn drift(&self) -> PagingDrift {
        self.drift.clone()
    }

    /// After the last page: a steady `count` must equal the distinct cards listed.
    fn check_total(&mut self) {
        let d = &mut self.drift;
        if d.count_changed || !d.short_pages.is_empty() {
            return;
        }
        if let Some(count) = d.last_count {
            let seen = self.seen.len() as u64;
            if i64::try_from(seen).ok() != Some(count) {
                d.distinct_short_of_count = Some((seen, count));
            }
        }
    }

    fn record(&mut self, page: &SimCardPage) {
        let d = &mut self.drift;
        if d.pages == 0 {
            d.first_count = page.count;
        } else if page.count != d.last_count {
            d.count_changed = true;
        }
        d.last_count = page.count;
        if page.sim_cards.is_empty() {
            return;
        }
        d.pages += 1;
        for card in &page.sim_cards {
            d.cards += 1;
            if !self.seen.insert(card.sim_card_id) {
                d.duplicate_ids += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_items_per_page() {
        assert_eq!(expected_on_page(1, 500, Some(1200)), Some(500));
        assert_eq!(expected_on_page(3, 500, Some(1200)), Some(200));
        assert_eq!(expected_on_page(4, 500, Some(1200)), Some(0));
        assert_eq!(expected_on_page(1, 500, Some(0)), Some(0));
        assert_eq!(expected_on_page(1, 500, Some(-3)), Some(0));
        assert_eq!(expected_on_page(1, 500, None), None);
        assert_eq!(
            expected_on_page(u64::MAX, u64::MAX, Some(i64::MAX)),
            Some(0)
        );
    }

    #[test]
    fn short_pages_name_the_page() {
        let s = short_page("cards", 2, 500, Some(1200), 0).unwrap();
        assert_eq!(s.to_string(), "page 2 of 3 returned 0 of 500 cards");
        assert!(short_page("cards", 3, 500, Some(1200), 200).is_none());
        assert!(short_page("cards", 3, 500, None, 0).is_none());
    }
}
