//! The cards a job works on when it runs beside the inventory: the ones stored when it starts, then, while
//! an inventory pass of the same account runs, the ones that pass lists for the first time — so a new card
//! gets its usage the same night, and a first sync of an empty database needs no second pass.

use std::collections::HashSet;
use std::time::Duration;

use gsl_store::CardKey;

use super::engine::{JobContext, SyncError};

/// How often a job looks for cards the running inventory pass has just merged.
const POLL: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(crate) struct CardFeed {
    known: HashSet<i64>,
    started: bool,
}

impl CardFeed {
    /// The next cards to work on: all stored cards the first time (possibly none), then each time cards
    /// the inventory added meanwhile; `None` once no inventory pass runs and every card was handed out.
    pub async fn next(&mut self, ctx: &JobContext<'_>) -> Result<Option<Vec<CardKey>>, SyncError> {
        loop {
            // Read first: a pass that ends between the two reads has merged everything it listed.
            let listing = ctx
                .store
                .job_running(&ctx.account.name, "inventory")
                .await?;
            let fresh: Vec<CardKey> = ctx
                .store
                .active_cards(&ctx.account.name)
                .await?
                .into_iter()
                .filter(|c| !self.known.contains(&c.sim_card_id))
                .collect();
            if !self.started || !fresh.is_empty() {
                self.started = true;
                self.known.extend(fresh.iter().map(|c| c.sim_card_id));
                return Ok(Some(fresh));
            }
            if !listing {
                return Ok(None);
            }
            tokio::select! {
                _ = ctx.cancel.cancelled() => return Err(SyncError::Cancelled),
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Cards handed out so far.
    pub fn seen(&self) -> usize {
        self.known.len()
    }
}
