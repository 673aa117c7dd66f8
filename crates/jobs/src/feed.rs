//! The cards a job works on when it runs beside the inventory: the ones stored when it starts, then, while
//! an inventory pass of the same account runs, the ones that pass lists for the first time — so a new card
//! gets its usage the same night, and a first sync of an empty database needs no second pass. Later looks
//! read only cards first seen since the previous look (an index lookup), so polling stays cheap at a million
//! cards; a removed card that comes back during the pass keeps its old `first_seen_at` and is fetched the
//! next night, by the month query that refreshes the month so far.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};

use gsl_domain::SimCardId;

use super::engine::{JobContext, SyncError};

/// How often a job looks for cards the running inventory pass has just merged.
const POLL: Duration = Duration::from_secs(2);

/// How far each look reaches back before the previous one: a card's `first_seen_at` is its merge
/// transaction's start, which may precede a look that could not yet see it (merges take seconds).
const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);

pub(crate) struct CardFeed {
    /// The first look's cards, sorted by id (as the store returns them): 8 bytes a card, where a set of a
    /// million would take three times that for the whole run.
    first_look: Vec<SimCardId>,
    /// Cards handed out by later looks: the few the running inventory pass adds.
    later: HashSet<SimCardId>,
    /// Where the next look starts; `None` until the first look, which takes every stored card.
    since: Option<DateTime<Utc>>,
    /// The inventory of this process rings it after each merge; the poll covers one running elsewhere.
    merged: tokio::sync::watch::Receiver<u64>,
    /// Whether an inventory pass was seen running. Until one is, "none running" may only mean that the
    /// pass started beside this job has not recorded its start yet, so the feed looks once more.
    saw_listing: bool,
    grace_used: bool,
}

impl CardFeed {
    pub fn new(ctx: &JobContext<'_>) -> Self {
        Self {
            first_look: Vec::new(),
            later: HashSet::new(),
            since: None,
            merged: ctx.account.cards_merged.subscribe(),
            saw_listing: false,
            grace_used: false,
        }
    }

    /// The next cards to work on: all stored cards the first time (possibly none), then each time cards
    /// the inventory added meanwhile; `None` once no inventory pass runs and every card was handed out.
    pub async fn next(
        &mut self,
        ctx: &JobContext<'_>,
    ) -> Result<Option<Vec<SimCardId>>, SyncError> {
        loop {
            // Whatever was rung before this look is covered by it.
            self.merged.borrow_and_update();
            // Read first: a pass that ends between the two reads has merged everything it listed.
            let listing = ctx
                .store
                .job_running(&ctx.account.name, "inventory")
                .await?;
            let first = self.since.is_none();
            let (now, cards) = ctx
                .store
                .cards_first_seen_since(&ctx.account.name, self.since)
                .await?;
            self.since = Some(now - OVERLAP);
            if first {
                self.first_look = cards.clone();
                self.first_look.sort_unstable();
                return Ok(Some(cards));
            }
            let fresh: Vec<SimCardId> = cards.into_iter().filter(|id| !self.known(*id)).collect();
            if !fresh.is_empty() {
                self.later.extend(fresh.iter().copied());
                return Ok(Some(fresh));
            }
            self.saw_listing |= listing;
            if !listing && (self.saw_listing || self.grace_used) {
                return Ok(None);
            }
            self.grace_used |= !listing;
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(SyncError::Cancelled),
                _ = tokio::time::sleep(POLL) => {}
                Ok(()) = self.merged.changed() => {}
            }
        }
    }

    fn known(&self, id: SimCardId) -> bool {
        self.first_look.binary_search(&id).is_ok() || self.later.contains(&id)
    }

    /// Cards handed out so far.
    pub fn seen(&self) -> usize {
        self.first_look.len() + self.later.len()
    }
}
