//! `CardPager`: walks `GET /v1/sim-cards` one page at a time and measures how the set moved underneath.

use std::collections::HashSet;

use super::client::GslClient;
use super::error::GslError;
use super::models::SimCardPage;
use super::types::ListSimCardsQuery;

const DEFAULT_LIMIT: u32 = 500;

/// How much the card set changed while we paged: a changed `count` or repeated ids mean skipped cards are possible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagingDrift {
    pub first_count: Option<i64>,
    pub last_count: Option<i64>,
    pub count_changed: bool,
    pub duplicate_ids: u64,
    pub pages: u64,
    pub cards: u64,
}

/// Yields the pages of one listing; holds one page in memory plus the ids seen.
pub struct CardPager {
    client: GslClient,
    query: ListSimCardsQuery,
    next_offset: u32,
    done: bool,
    seen: HashSet<i64>,
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
}

impl CardPager {
    /// The next page, or `None` once pages cover `count` or a page comes back empty.
    pub async fn next_page(&mut self) -> Result<Option<SimCardPage>, GslError> {
        if self.done {
            return Ok(None);
        }
        let mut q = self.query.clone();
        q.offset = Some(self.next_offset);
        let page = self.client.list_sim_cards(&q).await?;
        self.record(&page);
        let limit = i64::from(self.query.limit.unwrap_or(DEFAULT_LIMIT));
        let covered = i64::from(self.next_offset) * limit;
        self.next_offset += 1;
        if page.sim_cards.is_empty() {
            self.done = true;
            return Ok(None);
        }
        if page.count.is_none_or(|c| covered >= c) {
            self.done = true;
        }
        Ok(Some(page))
    }

    pub fn drift(&self) -> PagingDrift {
        self.drift.clone()
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
