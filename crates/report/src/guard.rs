//! The status page's guard panel: the last day's decisions per policy and status, and the newest ones
//! with their reasons. Read from `guard_actions` (an index range and a top-N), never from GSL.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use gsl_store::guard::{GuardAction, StatusCount};

use crate::html::esc;

/// The guard's figures on the status page.
#[derive(Debug, Clone, Default)]
pub struct GuardPanel {
    /// Decisions of the last 24 hours per account, policy, mode and status.
    pub counts: Vec<StatusCount>,
    /// The newest decisions.
    pub recent: Vec<GuardAction>,
}

/// The newest decisions listed.
pub const RECENT: i64 = 10;

pub async fn guard_panel(
    store: &gsl_store::Store,
    now: DateTime<Utc>,
) -> Result<GuardPanel, gsl_store::StoreError> {
    let since = now - chrono::Duration::hours(24);
    let (counts, recent) = tokio::try_join!(
        store.guard_status_counts(since),
        store.guard_actions(false, RECENT)
    )?;
    Ok(GuardPanel { counts, recent })
}

/// The panel's HTML: every stored string escaped.
pub fn guard_html(g: &GuardPanel) -> String {
    let mut b = String::from(
        "<div class=\"panel\"><h2>Guard actions</h2><p class=\"sub\">Carrier actions decided by \
         <code>[[guard.policies]]</code>; a dry run records and announces, nothing is sent. \
         <code>gsl-sync guard list</code> shows them all.</p>",
    );
    if g.recent.is_empty() {
        b += "<p class=\"empty\">No guard decision yet.</p></div>";
        return b;
    }
    if !g.counts.is_empty() {
        b += "<div class=\"scroll\"><table><tr><th>account</th><th>policy</th><th>mode</th><th>status</th>\
              <th>last 24 h</th></tr>";
        for c in &g.counts {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td></tr>",
                esc(&c.account),
                esc(&c.policy),
                esc(&c.mode),
                esc(&c.status),
                c.actions
            );
        }
        b += "</table></div>";
    }
    b += "<div class=\"scroll\"><table><tr><th>id</th><th>card</th><th>action</th><th>mode</th>\
          <th>status</th><th>work order</th><th>requested</th><th>reason</th></tr>";
    for r in &g.recent {
        let _ = write!(
            b,
            "<tr><td class=n>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td>\
             <td>{}</td><td>{}{}</td></tr>",
            r.id,
            esc(r.iccid.as_deref().unwrap_or("–")),
            esc(&r.action),
            esc(&r.mode),
            esc(&r.status),
            r.work_order_id.map_or_else(|| "–".into(), |w| w.to_string()),
            r.requested_at.format("%Y-%m-%d %H:%M UTC"),
            esc(&r.reason),
            r.error
                .as_deref()
                .map(|e| format!("<br><span class=\"sub\">{}</span>", esc(e)))
                .unwrap_or_default(),
        );
    }
    b + "</table></div></div>"
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn row(reason: &str) -> GuardAction {
        GuardAction {
            id: 3,
            account: "main".into(),
            sim_card_id: 7.into(),
            iccid: Some("89860312345678901234".into()),
            policy: "throttle".into(),
            action: "speed_limit".into(),
            mode: "dry_run".into(),
            restore: "next_cycle".into(),
            speed_kbps: Some(64),
            quota_mb: None,
            reason: reason.into(),
            status: "dry_run".into(),
            error: None,
            work_order_id: None,
            restore_work_order_id: None,
            attempts: 0,
            next_cycle: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            requested_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            sent_at: None,
            completed_at: None,
            restored_at: None,
            closed_at: None,
        }
    }

    #[test]
    fn the_panel_escapes_reasons_and_says_when_empty() {
        let html = guard_html(&GuardPanel {
            counts: vec![],
            recent: vec![row("<script>x</script> used 96%")],
        });
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(html.contains("speed_limit") && html.contains("89860312345678901234"));
        assert!(guard_html(&GuardPanel::default()).contains("No guard decision yet"));
    }
}
