//! Self-contained HTML reports: inline CSS and inline SVG charts, no scripts, fonts or external links; a
//! layout that fits from a 360 px phone to a wide screen.

use std::fmt::Write;

use super::{SimReport, UsageReport};
use crate::format::{operator_status_name, sim_status_name, thousands, volume, with_name, Unit};
use crate::svg::{bars, hbars, Measure};

/// Latin first, then the CJK faces of each platform, so Chinese plan names render wherever one exists
/// (Debian: fonts-noto-cjk).
const FONTS: &str = "system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans CJK SC',\
'Source Han Sans SC','PingFang SC','Hiragino Sans GB','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif";

const CSS: &str = "*{box-sizing:border-box}body{font-family:FONTS;margin:0;color:#1f2933;background:#f5f7fa}\
main{max-width:1400px;margin:0 auto;padding:16px}h1{margin:0 0 4px;font-size:24px}\
h2{margin:0 0 12px;font-size:18px}.sub{color:#616e7c;margin-bottom:16px}a{color:#0b69a3}\
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}\
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.12);flex:1 1 150px}\
.card b{display:block;font-size:22px;color:#0b69a3;overflow-wrap:anywhere}.panel{background:#fff;border-radius:8px;\
padding:16px;box-shadow:0 1px 3px rgba(0,0,0,.12);margin-bottom:16px;min-width:0}\
.row{display:flex;gap:16px;flex-wrap:wrap}.row .panel{flex:1 1 340px}.scroll{overflow-x:auto}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid #e4e7eb;\
vertical-align:top}th{text-align:left;background:#f0f4f8;white-space:nowrap}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
tr.diff td{background:#fff3c4}.note{color:#8d2b0b}.empty{color:#616e7c;padding:24px 0;text-align:center}\
.sev-critical{color:#ab091e;font-weight:600}.sev-warning{color:#b44d12;font-weight:600}.ok{color:#0e7c4a}\
.bad{color:#ab091e}nav{display:flex;gap:16px;flex-wrap:wrap;margin:0 0 12px}\
form{display:flex;gap:8px;flex-wrap:wrap}input[type=search]{flex:1 1 220px;padding:8px;font-size:15px;\
border:1px solid #cbd2d9;border-radius:6px}button{padding:8px 16px;font-size:15px;border:0;border-radius:6px;\
background:#0b69a3;color:#fff}";

/// Escapes text for HTML element and attribute content.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A whole page around `body`: the one place the shell, styles and viewport live.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title>\
         <style>{}</style></head><body><main>{body}</main></body></html>",
        esc(title),
        CSS.replace("FONTS", FONTS)
    )
}

/// A status pair with names beside the codes: "20 in use / -1 normal".
pub fn status_label(sim: Option<i32>, operator: Option<i32>) -> String {
    format!(
        "{} / {}",
        with_name(sim, sim_status_name(sim)),
        with_name(operator, operator_status_name(operator))
    )
}

/// A signed change: "+12.5%", "-3.0%", "0.0%"; "–" when there is nothing to compare with.
fn pct(v: Option<f64>) -> String {
    match v.map(|m| thousands(m, 1)) {
        Some(s) if s.starts_with('-') || s == "0.0" => format!("{s}%"),
        Some(s) => format!("+{s}%"),
        None => "–".into(),
    }
}

fn summary_cards(r: &UsageReport) -> String {
    let mom = (r.total_prev_daily_sum_mb > 0.0).then(|| {
        (r.total_daily_sum_mb - r.total_prev_daily_sum_mb) / r.total_prev_daily_sum_mb * 100.0
    });
    let mut b = String::from("<div class=\"cards\">");
    for (k, v) in [
        ("Daily sum", volume(r.total_daily_sum_mb)),
        ("Month-usages", volume(r.total_month_usages_mb)),
        ("vs previous month", pct(mom)),
        ("Groups", thousands(r.groups_total as f64, 0)),
        (
            "Active cards without usage",
            thousands(r.no_usage_cards as f64, 0),
        ),
    ] {
        let _ = write!(b, "<div class=\"card\">{}<b>{}</b></div>", esc(k), esc(&v));
    }
    b + "</div>"
}

fn groups_table(r: &UsageReport) -> String {
    let unit = Unit::fit(r.groups.iter().map(|g| g.daily_sum_mb).fold(0.0, f64::max));
    let u = unit.label();
    let mut b = format!(
        "<div class=\"panel\"><h2>Groups</h2><div class=\"scroll\"><table><tr><th>group</th><th>cards</th>\
         <th>daily sum {u}</th><th>month-usages {u}</th><th>prev. month {u}</th><th>change</th><th>share</th></tr>"
    );
    let show = |mb: f64| thousands(unit.of(mb), 2);
    for g in &r.groups {
        let _ = write!(
            b,
            "<tr{}><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td class=n>{}%</td></tr>",
            if g.differs { " class=\"diff\"" } else { "" },
            esc(&g.group),
            thousands(g.cards as f64, 0),
            show(g.daily_sum_mb),
            g.month_usages_mb.map(show).unwrap_or_else(|| "–".into()),
            if g.differs { " ⚠" } else { "" },
            show(g.prev_daily_sum_mb),
            pct(g.mom_change_pct),
            thousands(g.share_pct, 1)
        );
    }
    b += "</table></div>";
    // The footnote explains a mark; without a marked row it would only puzzle.
    if r.groups.iter().any(|g| g.differs) {
        b += "<p class=\"sub\">⚠ daily sum and month-usages differ by more than 1 %.</p>";
    }
    b + "</div>"
}

pub fn usage_html(r: &UsageReport) -> String {
    let mut b = format!(
        "<h1>GSL usage {}</h1><div class=\"sub\">grouped by {}; daily sums over the calendar month next to the \
         carrier's month-usages for the billing cycle (China Unicom cycles run 27th–26th, so they can differ)</div>",
        esc(&r.month),
        esc(&r.group_by)
    );
    b += &summary_cards(r);
    if let Some(n) = &r.note {
        let _ = write!(b, "<p class=\"note\">Note: {}</p>", esc(n));
    }
    if r.days.iter().all(|d| d.mb == 0.0) {
        let _ = write!(
            b,
            "<div class=\"panel\"><h2>Usage by day</h2><p class=\"empty\">No data yet for {}.</p></div>",
            esc(&r.month)
        );
    } else {
        let days: Vec<(String, f64)> = r
            .days
            .iter()
            .map(|d| (d.day.format("%d").to_string(), d.mb))
            .collect();
        let _ = write!(
            b,
            "<div class=\"panel\"><h2>Usage by day</h2>{}</div>",
            bars(&days, 1180.0, 240.0, "#2680c2", "usage by day")
        );
    }
    let top: Vec<(String, f64)> = r
        .groups
        .iter()
        .take(10)
        .map(|g| (g.group.clone(), g.daily_sum_mb))
        .collect();
    let statuses: Vec<(String, f64)> = r
        .statuses
        .iter()
        .map(|s| {
            (
                status_label(s.sim_status, s.operator_status),
                s.cards as f64,
            )
        })
        .collect();
    let top_chart = if top.iter().all(|t| t.1 == 0.0) {
        format!("<p class=\"empty\">No data yet for {}.</p>", esc(&r.month))
    } else {
        hbars(&top, 560.0, "#3ebd93", Measure::Volume, "top consumers")
    };
    let status_chart = hbars(
        &statuses,
        560.0,
        "#9446ed",
        Measure::Count,
        "cards by status",
    );
    let _ = write!(
        b,
        "<div class=\"row\"><div class=\"panel\"><h2>Top consumers</h2>{top_chart}</div>\
         <div class=\"panel\"><h2>Cards by status</h2>{status_chart}</div></div>"
    );
    b += &groups_table(r);
    if !r.no_usage_sample.is_empty() {
        let _ = write!(
            b,
            "<div class=\"panel\"><h2>Active cards without usage ({})</h2>{}</div>",
            thousands(r.no_usage_cards as f64, 0),
            esc(&r.no_usage_sample.join(", "))
        );
    }
    page(&format!("GSL usage {}", r.month), &b)
}

/// A card's daily chart, or a line saying there is nothing to draw yet.
pub fn history_chart(days: &[(String, f64)], what: &str) -> String {
    if days.iter().all(|d| d.1 == 0.0) {
        format!("<p class=\"empty\">No data yet for {}.</p>", esc(what))
    } else {
        bars(days, 1180.0, 260.0, "#2680c2", "daily usage")
    }
}

pub fn sim_html(r: &SimReport) -> String {
    let id = r
        .card
        .iccid
        .clone()
        .unwrap_or_else(|| r.card.sim_card_id.to_string());
    let days: Vec<(String, f64)> = r
        .days
        .iter()
        .map(|d| (d.day.format("%m-%d").to_string(), d.mb))
        .collect();
    let body = format!(
        "<h1>Card {}</h1><div class=\"sub\">{} to {}: {}; plan {}; {}</div>\
         <div class=\"panel\"><h2>Daily usage</h2>{}</div>",
        esc(&id),
        r.from,
        r.to,
        volume(r.total_mb),
        esc(r.card.price_plan_name.as_deref().unwrap_or("–")),
        esc(&status_label(r.card.sim_status, r.card.operator_status)),
        history_chart(&days, &format!("{} to {}", r.from, r.to))
    );
    page(&format!("GSL card {id}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DayTotal, GroupLine};

    fn report(days: &[f64], differs: bool) -> UsageReport {
        UsageReport {
            month: "2026-11".into(),
            group_by: "plan".into(),
            note: None,
            total_daily_sum_mb: 7_761_636.9,
            total_daily_sum_bytes: 0,
            total_month_usages_mb: 0.0,
            total_prev_daily_sum_mb: 0.0,
            groups_total: 1,
            groups: vec![GroupLine {
                group: "<b>套餐</b>".into(),
                cards: 12345,
                daily_sum_mb: 7_761_636.9,
                daily_sum_bytes: 0,
                month_usages_mb: Some(7_761_636.9),
                month_usages_bytes: None,
                differs,
                prev_daily_sum_mb: 0.0,
                mom_change_pct: None,
                share_pct: 100.0,
            }],
            no_usage_cards: 0,
            no_usage_sample: vec![],
            days: days
                .iter()
                .enumerate()
                .map(|(i, mb)| DayTotal {
                    day: chrono::NaiveDate::from_ymd_opt(2026, 11, i as u32 + 1).unwrap(),
                    mb: *mb,
                })
                .collect(),
            statuses: vec![crate::StatusCount {
                sim_status: Some(20),
                operator_status: Some(-1),
                cards: 12345,
            }],
        }
    }

    #[test]
    fn figures_have_units_separators_and_status_names() {
        let html = usage_html(&report(&[67056.0, 134112.0], false));
        assert!(html.contains("7.40 TB"), "{html}");
        assert!(html.contains("12,345"), "{html}");
        assert!(html.contains("20 in use / -1 normal"), "{html}");
        assert!(html.contains("&lt;b&gt;套餐&lt;/b&gt;"), "{html}");
        assert!(!html.contains("width=\"1180\""), "charts scale: {html}");
        assert!(html.contains("name=\"viewport\""));
        assert!(html.contains("Noto Sans CJK SC"));
    }

    #[test]
    fn footnote_only_when_a_group_differs_and_no_empty_chart() {
        let quiet = usage_html(&report(&[0.0, 0.0], false));
        assert!(!quiet.contains("differ by more than 1 %"));
        assert!(quiet.contains("No data yet for 2026-11."));
        assert!(!quiet.contains("usage by day\""));
        let flagged = usage_html(&report(&[1.0], true));
        assert!(flagged.contains("differ by more than 1 %"));
        assert!(!flagged.contains("No data yet"));
    }
}
