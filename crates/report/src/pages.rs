//! The status page, the card page and the not-found page as server-rendered HTML (no scripts): every
//! figure from `status`, every stored string escaped.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use gsl_domain::SimCardId;
use gsl_store::status::{AlertLine, CardLine};

use crate::format::{thousands, volume};
use crate::html::{esc, history_chart, page, status_label};
use crate::status::{CardPage, StatusPage};
use crate::svg::{hbars, Measure};

const REALTIME: &str = "Used, left and used % are the carrier's daily figures (as of 24:00 of the data \
day): the billed ones. Real-time figures of watched cards are estimates of today so far, read between \
the nightly cutoffs; the next night's figures replace them.";

/// Percent-encodes one path segment or query value: a stored ICCID is text and may hold anything.
pub fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A link to a card's page, by ICCID, or through the search by id when it has none.
fn card_link(iccid: Option<&str>, sim_card_id: SimCardId) -> String {
    match iccid {
        Some(i) => format!("<a href=\"/sims/{}\">{}</a>", url_part(i), esc(i)),
        None => format!("<a href=\"/search?q={sim_card_id}\">id {sim_card_id}</a>"),
    }
}

fn when(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => format!(
            "{} <span class=\"sub\">({})</span>",
            t.format("%Y-%m-%d %H:%M UTC"),
            relative(now - t)
        ),
        None => "–".into(),
    }
}

fn relative(d: chrono::Duration) -> String {
    let (s, future) = (d.num_seconds().abs(), d.num_seconds() < 0);
    let text = duration(s as f64);
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// "47 s", "3 min 5 s", "2 h 10 min", "3 d 4 h".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

fn nav() -> &'static str {
    "<nav><a href=\"/\">Status</a><a href=\"/metrics\">/metrics</a><a href=\"/healthz\">/healthz</a>\
     <a href=\"/readyz\">/readyz</a></nav>"
}

fn search_form(q: &str) -> String {
    format!(
        "<div class=\"panel\"><h2>Find a card</h2><form action=\"/search\" method=\"get\">\
         <input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"ICCID, MSISDN or sim_card_id\" \
         aria-label=\"ICCID, MSISDN or sim_card_id\"><button type=\"submit\">Open</button></form></div>",
        esc(q)
    )
}

fn sync_health(p: &StatusPage) -> String {
    let mut b = String::from("<div class=\"panel\"><h2>Sync health</h2>");
    if p.jobs.is_empty() {
        b += "<p class=\"empty\">No sync has run yet.</p>";
    } else {
        b += "<div class=\"scroll\"><table><tr><th>account</th><th>job</th><th>latest run</th>\
              <th>last success</th><th>took</th><th>next run</th></tr>";
        for j in &p.jobs {
            let next = p.schedules.iter().find(|s| s.job == j.job);
            let class = match j.last_status.as_str() {
                "succeeded" => "ok",
                "failed" => "bad",
                _ => "",
            };
            let error = j
                .last_error
                .as_deref()
                .filter(|_| j.last_status == "failed")
                .map(|e| format!("<br><span class=\"sub\">{}</span>", esc(e)))
                .unwrap_or_default();
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td><span class=\"{class}\">{}</span>{error}</td><td>{}</td>\
                 <td class=n>{}</td><td>{}</td></tr>",
                esc(&j.account),
                esc(&j.job),
                esc(&j.last_status),
                when(j.last_success, p.now),
                j.success_duration_seconds
                    .map(duration)
                    .unwrap_or_else(|| "–".into()),
                next.map(|s| match s.next_run {
                    Some(t) => when(Some(t), p.now),
                    None => format!("cron {}", esc(&s.cron)),
                })
                .unwrap_or_else(|| "–".into()),
            );
        }
        b += "</table></div>";
    }
    b + "</div>"
}

fn headline(p: &StatusPage) -> String {
    let cards: i64 = p.fleet.iter().map(|g| g.cards).sum();
    let firing: i64 = p.firing.iter().map(|f| f.firing).sum();
    let critical: i64 = p
        .firing
        .iter()
        .filter(|f| f.severity == "critical")
        .map(|f| f.firing)
        .sum();
    let as_of = p
        .data_as_of()
        .map(|d| format!("{d} 24:00"))
        .unwrap_or_else(|| "no data yet".into());
    let mut b = String::from("<div class=\"cards\">");
    for (k, v) in [
        ("Cards", thousands(cards as f64, 0)),
        ("Alerts firing", thousands(firing as f64, 0)),
        ("of them critical", thousands(critical as f64, 0)),
        ("Flow figures as of", as_of),
    ] {
        let _ = write!(b, "<div class=\"card\">{}<b>{}</b></div>", esc(k), esc(&v));
    }
    b + "</div>"
}

fn alert_subject(a: &AlertLine) -> String {
    match (a.sim_card_id, a.sim_pool_id) {
        (Some(id), _) => card_link(a.iccid.as_deref(), id),
        (None, Some(pool)) => format!("pool {pool}"),
        (None, None) => "–".into(),
    }
}

fn alert_value(a: &AlertLine) -> String {
    let v = match a.value {
        Some(v) => v,
        None => return "–".into(),
    };
    match a.kind.as_str() {
        k if k.contains("Quota") => format!("{} %", thousands(v * 100.0, 1)),
        "GslSimExhaustionProjected" => format!("{} days left", thousands(v, 1)),
        "GslSimSuspended" => format!("operator_status {v}"),
        _ => thousands(v, 2),
    }
}

fn alert_rows(alerts: &[AlertLine], now: DateTime<Utc>, subject: bool) -> String {
    let mut b = String::from("<div class=\"scroll\"><table><tr><th>alert</th><th>severity</th>");
    if subject {
        b += "<th>card or pool</th>";
    }
    b += "<th>figure</th><th>since</th><th>resolved</th></tr>";
    for a in alerts {
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"sev-{}\">{}</td>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&a.kind),
            esc(&a.severity),
            esc(&a.severity),
            if subject {
                format!("<td>{}</td>", alert_subject(a))
            } else {
                String::new()
            },
            alert_value(a),
            when(Some(a.started_at), now),
            a.resolved_at
                .map(|t| when(Some(t), now))
                .unwrap_or_else(|| "firing".into())
        );
    }
    b + "</table></div>"
}

fn firing(p: &StatusPage) -> String {
    let mut b = String::from("<div class=\"panel\"><h2>Alerts firing now</h2>");
    if p.firing.is_empty() {
        return b + "<p class=\"empty ok\">None.</p></div>";
    }
    b += "<div class=\"cards\">";
    for f in &p.firing {
        let _ = write!(
            b,
            "<div class=\"card\"><span class=\"sev-{}\">{}</span><b>{}</b></div>",
            esc(&f.severity),
            esc(&f.kind),
            thousands(f.firing as f64, 0)
        );
    }
    b += "</div><p class=\"sub\">The newest of each kind:</p>";
    b += &alert_rows(&p.newest_firing, p.now, true);
    b + "</div>"
}

fn fleet(p: &StatusPage) -> String {
    let mut by_status: BTreeMap<(Option<i32>, Option<i32>), i64> = BTreeMap::new();
    for g in p.fleet.iter() {
        *by_status
            .entry((g.sim_status, g.operator_status))
            .or_default() += g.cards;
    }
    let mut rows: Vec<(String, f64)> = by_status
        .into_iter()
        .map(|((s, o), n)| (status_label(s, o), n as f64))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let chart = if rows.is_empty() {
        "<p class=\"empty\">No cards yet.</p>".to_string()
    } else {
        hbars(&rows, 640.0, "#9446ed", Measure::Count, "cards by status")
    };
    format!("<div class=\"panel\"><h2>Fleet by status (sim / operator)</h2>{chart}</div>")
}

fn card_table(title: &str, cards: &[CardLine]) -> String {
    let mut b = format!("<div class=\"panel\"><h2>{}</h2>", esc(title));
    if cards.is_empty() {
        return b + "<p class=\"empty\">No cards yet.</p></div>";
    }
    b += "<div class=\"scroll\"><table><tr><th>card</th><th>plan</th><th>status</th><th>used</th>\
          <th>left</th><th>used %</th></tr>";
    for c in cards {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            card_link(c.iccid.as_deref(), c.sim_card_id),
            esc(c.price_plan_name.as_deref().unwrap_or("–")),
            esc(&status_label(c.sim_status, c.operator_status)),
            c.flow_used_mb.map(volume).unwrap_or_else(|| "–".into()),
            c.flow_left_mb.map(volume).unwrap_or_else(|| "–".into()),
            c.ratio
                .map(|r| format!("{} %", thousands(r * 100.0, 1)))
                .unwrap_or_else(|| "–".into()),
        );
    }
    b + "</table></div></div>"
}

fn report_links(p: &StatusPage) -> String {
    let month = p
        .data_as_of()
        .unwrap_or_else(|| p.now.date_naive())
        .format("%Y-%m")
        .to_string();
    let usage = format!("/api/v1/usage?month={month}&amp;group_by=plan");
    format!(
        "<div class=\"panel\"><h2>Reports</h2><p>Usage {month} by plan: <a href=\"{usage}&amp;format=html\">HTML</a> · \
         <a href=\"{usage}&amp;format=csv\">CSV</a> · <a href=\"{usage}&amp;format=json\">JSON</a>. \
         Gauges for Prometheus: <a href=\"/metrics\">/metrics</a>.</p><p class=\"sub\">{REALTIME}</p></div>"
    )
}

/// The status page at `/`.
pub fn status_html(p: &StatusPage) -> String {
    let mut b = format!(
        "<h1>gsl-sync</h1><div class=\"sub\">status at {}; read from the database, never from GSL</div>{}",
        p.now.format("%Y-%m-%d %H:%M:%S UTC"),
        nav()
    );
    b += &headline(p);
    b += &search_form("");
    b += &firing(p);
    b += &sync_health(p);
    b += "<div class=\"row\">";
    b += &fleet(p);
    b += "</div><div class=\"row\">";
    b += &card_table("Top consumers", &p.top_consumers);
    b += &card_table("Nearest exhaustion", &p.nearest_exhaustion);
    b += "</div>";
    b += &crate::guard::guard_html(&p.guard);
    b += &watched(p);
    b += &report_links(p);
    page("gsl-sync status", &b)
}

/// The card's latest real-time check: used, left and when, labelled an estimate.
fn realtime_cell(p: &CardPage) -> String {
    let Some(r) = &p.realtime else {
        return "not watched yet".into();
    };
    let ratio = match (r.flow_used_mb, r.flow_left_mb) {
        (Some(u), Some(l)) if u + l > 0.0 => format!(", {} %", thousands(u / (u + l) * 100.0, 1)),
        _ => String::new(),
    };
    format!(
        "used {}, left {}{ratio} at {} (estimate)",
        r.flow_used_mb.map(volume).unwrap_or_else(|| "–".into()),
        r.flow_left_mb.map(volume).unwrap_or_else(|| "–".into()),
        r.checked_at.format("%Y-%m-%d %H:%M UTC"),
    )
}

/// The watchlist's most urgent cards with their real-time estimates.
fn watched(p: &StatusPage) -> String {
    let total: i64 = p.watch_counts.iter().map(|(_, n)| n).sum();
    let mut b = format!(
        "<div class=\"panel\"><h2>Watched cards ({total})</h2><p class=\"sub\">Re-checked in real time \
         between the nightly cutoffs; the figures are estimates, the nightly ones stay the billed ones.</p>"
    );
    if p.watched.is_empty() {
        return b + "<p class=\"empty\">No card is watched.</p></div>";
    }
    b += "<div class=\"scroll\"><table><tr><th>card</th><th>why</th><th>used (estimate)</th>\
          <th>left (estimate)</th><th>checked</th><th>days left</th></tr>";
    for c in &p.watched {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td class=n>{}</td></tr>",
            card_link(c.iccid.as_deref(), c.sim_card_id),
            esc(&c.reasons.join(", ")),
            c.flow_used_mb.map(volume).unwrap_or_else(|| "–".into()),
            c.flow_left_mb.map(volume).unwrap_or_else(|| "–".into()),
            when(c.checked_at, p.now),
            c.days_left
                .map(|d| thousands(d, 1))
                .unwrap_or_else(|| "–".into()),
        );
    }
    b + "</table></div></div>"
}

fn state_table(p: &CardPage) -> String {
    let c = &p.card;
    let opt = |v: Option<&str>| esc(v.unwrap_or("–"));
    let ratio = match (c.flow_used_mb, c.flow_left_mb) {
        (Some(u), Some(l)) if u + l > 0.0 => format!("{} %", thousands(u / (u + l) * 100.0, 1)),
        _ => "–".into(),
    };
    let rows: [(&str, String); 14] = [
        (
            "status",
            esc(&status_label(c.sim_status, c.operator_status)),
        ),
        (
            "used",
            c.flow_used_mb.map(volume).unwrap_or_else(|| "–".into()),
        ),
        (
            "left",
            c.flow_left_mb.map(volume).unwrap_or_else(|| "–".into()),
        ),
        ("used %", ratio),
        (
            "as of",
            c.data_date
                .map(|d| format!("{d} 24:00"))
                .unwrap_or_else(|| "–".into()),
        ),
        ("real-time (estimate)", realtime_cell(p)),
        ("plan", opt(c.price_plan_name.as_deref())),
        (
            "pool",
            c.sim_pool_id
                .map(|p| p.to_string())
                .unwrap_or_else(|| "–".into()),
        ),
        ("tags", opt(c.tag_names.as_deref())),
        ("MSISDN", opt(c.msisdn.as_deref())),
        (
            "IMSI / IMEI",
            format!("{} / {}", opt(c.imsi.as_deref()), opt(c.imei.as_deref())),
        ),
        (
            "account / id",
            format!("{} / {}", esc(&c.account), c.sim_card_id),
        ),
        (
            "activated / expires",
            format!(
                "{} / {}",
                c.act_date
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "–".into()),
                c.expire_time
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "–".into())
            ),
        ),
        (
            "removed",
            c.removed_at
                .map(|d| format!("removed {}", d.format("%Y-%m-%d")))
                .unwrap_or_else(|| "listed".into()),
        ),
    ];
    let mut b = String::from("<div class=\"panel\"><h2>Current state</h2><table>");
    for (k, v) in rows {
        let _ = write!(b, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    b + "</table></div>"
}

/// A card's page at `/sims/{iccid}`.
pub fn card_html(p: &CardPage) -> String {
    let c = &p.card;
    let id = c
        .iccid
        .clone()
        .unwrap_or_else(|| format!("id {}", c.sim_card_id));
    let days: Vec<(String, f64)> = p
        .days
        .iter()
        .map(|(d, mb)| (d.format("%m-%d").to_string(), *mb))
        .collect();
    let total: f64 = p.days.iter().map(|d| d.1).sum();
    let mut b = format!(
        "<h1>Card {}</h1><div class=\"sub\">{}</div>{}",
        esc(&id),
        esc(&status_label(c.sim_status, c.operator_status)),
        nav()
    );
    b += &state_table(p);
    let _ = write!(
        b,
        "<div class=\"panel\"><h2>Daily usage, {} to {}: {}</h2>{}",
        p.from,
        p.to,
        volume(total),
        history_chart(&days, &format!("{} to {}", p.from, p.to))
    );
    if let Some(iccid) = &c.iccid {
        let base = format!(
            "/api/v1/sims/{}/daily?from={}&amp;to={}",
            url_part(iccid),
            p.from,
            p.to
        );
        let _ = write!(
            b,
            "<p>The same days as <a href=\"{base}&amp;format=csv\">CSV</a> · <a href=\"{base}\">JSON</a>.</p>"
        );
    }
    b += "</div><div class=\"panel\"><h2>Alerts</h2>";
    if p.alerts.is_empty() {
        b += "<p class=\"empty ok\">None so far.</p>";
    } else {
        b += &alert_rows(&p.alerts, Utc::now(), false);
    }
    b += "</div>";
    let _ = write!(b, "<p class=\"sub\">{REALTIME}</p>");
    page(&format!("gsl-sync card {id}"), &b)
}

/// The page for a search or card that found nothing (served with 404).
pub fn not_found_html(q: &str) -> String {
    let b = format!(
        "<h1>No such card</h1><div class=\"sub\">No card has the ICCID, MSISDN or sim_card_id “{}”.</div>{}{}",
        esc(q),
        nav(),
        search_form(q)
    );
    page("gsl-sync: no such card", &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_everything_but_unreserved() {
        assert_eq!(url_part("8986001"), "8986001");
        assert_eq!(url_part("<a b>/?"), "%3Ca%20b%3E%2F%3F");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(47.2), "47 s");
        assert_eq!(duration(185.0), "3 min 5 s");
        assert_eq!(duration(7800.0), "2 h 10 min");
        assert_eq!(duration(-3.0), "0 s");
    }

    #[test]
    fn not_found_escapes_the_query() {
        let html = not_found_html("<script>alert(1)</script>");
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
