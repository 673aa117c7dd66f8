//! Self-contained HTML reports: inline CSS and inline SVG charts, no scripts, fonts or external links.

use std::fmt::Write;

use super::{SimReport, UsageReport};

const CSS: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:24px;color:#1f2933;background:#f5f7fa}\
h1{margin:0 0 4px}h2{margin:0 0 12px;font-size:18px}.sub{color:#616e7c;margin-bottom:20px}\
.cards{display:flex;gap:16px;flex-wrap:wrap;margin-bottom:20px}\
.card{background:#fff;border-radius:8px;padding:14px 18px;box-shadow:0 1px 3px rgba(0,0,0,.12);min-width:170px}\
.card b{display:block;font-size:24px;color:#0b69a3}.panel{background:#fff;border-radius:8px;padding:16px;\
box-shadow:0 1px 3px rgba(0,0,0,.12);margin-bottom:20px}.row{display:flex;gap:20px}.row .panel{flex:1}\
table{border-collapse:collapse;width:100%;font-size:13px}th,td{padding:5px 8px;border-bottom:1px solid #e4e7eb}\
th{text-align:left;background:#f0f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}\
tr.diff td{background:#fff3c4}.note{color:#8d2b0b}";

/// Escapes text for HTML element and attribute content.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{CSS}</style></head>\
         <body>{body}</body></html>",
        esc(title)
    )
}

/// Vertical bars, one per (label, value).
fn bar_chart(points: &[(String, f64)], w: f64, h: f64, color: &str) -> String {
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
    let n = points.len().max(1) as f64;
    let (left, bottom) = (60.0, 24.0);
    let step = (w - left) / n;
    let mut s = format!("<svg width=\"{w}\" height=\"{h}\" role=\"img\">");
    for i in 0..=4 {
        let v = max * i as f64 / 4.0;
        let y = (h - bottom) - (h - bottom - 10.0) * i as f64 / 4.0;
        let _ = write!(s, "<line x1=\"{left}\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e7eb\"/>\
            <text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#616e7c\">{v:.0}</text>", left - 4.0, y + 4.0);
    }
    for (i, (label, v)) in points.iter().enumerate() {
        let bh = (h - bottom - 10.0) * v / max;
        let x = left + step * i as f64;
        let _ = write!(s, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\" rx=\"2\"><title>{}: {v:.2} MB</title></rect>",
            x + step * 0.15, h - bottom - bh, step * 0.7, esc(label));
        if points.len() <= 12 || i % 3 == 0 {
            let _ = write!(s, "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#616e7c\">{}</text>",
                x + step / 2.0, h - 8.0, esc(label));
        }
    }
    s + "</svg>"
}

/// Horizontal bars with labels, for top consumers and status counts.
fn hbar_chart(points: &[(String, f64)], w: f64, color: &str, unit: &str) -> String {
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
    let (label_w, row) = (190.0, 24.0);
    let h = row * points.len().max(1) as f64 + 4.0;
    let mut s = format!("<svg width=\"{w}\" height=\"{h}\" role=\"img\">");
    for (i, (label, v)) in points.iter().enumerate() {
        let y = row * i as f64 + 2.0;
        let bw = (w - label_w - 90.0) * v / max;
        let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1f2933\">{}</text>\
            <rect x=\"{label_w}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{color}\" rx=\"3\"/>\
            <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#616e7c\">{} {unit}</text>",
            label_w - 6.0, y + 15.0, esc(label), row - 6.0, label_w + bw + 6.0, y + 15.0, figure(*v));
    }
    s + "</svg>"
}

/// Counts print as counts ("4 cards"), volumes with two decimals ("12.50 MB").
fn figure(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn code(v: Option<i32>) -> String {
    v.map(|c| c.to_string()).unwrap_or_else(|| "?".into())
}

pub fn usage_html(r: &UsageReport) -> String {
    let mut b = format!(
        "<h1>GSL usage {}</h1><div class=\"sub\">grouped by {}; daily sums over the calendar month next to the \
         carrier's month-usages for the billing cycle (China Unicom cycles run 27th–26th, so they can differ)</div>",
        esc(&r.month),
        esc(&r.group_by)
    );
    let mom = (r.total_prev_daily_sum_mb > 0.0).then(|| {
        (r.total_daily_sum_mb - r.total_prev_daily_sum_mb) / r.total_prev_daily_sum_mb * 100.0
    });
    b += "<div class=\"cards\">";
    for (k, v) in [
        ("Daily sum", format!("{:.1} MB", r.total_daily_sum_mb)),
        ("Month-usages", format!("{:.1} MB", r.total_month_usages_mb)),
        (
            "vs previous month",
            mom.map(|m| format!("{m:+.1}%"))
                .unwrap_or_else(|| "–".into()),
        ),
        ("Groups", r.groups_total.to_string()),
        ("Active cards without usage", r.no_usage_cards.to_string()),
    ] {
        let _ = write!(b, "<div class=\"card\">{}<b>{}</b></div>", esc(k), esc(&v));
    }
    b += "</div>";
    if let Some(n) = &r.note {
        let _ = write!(b, "<p class=\"note\">Note: {}</p>", esc(n));
    }
    let days: Vec<(String, f64)> = r
        .days
        .iter()
        .map(|d| (d.day.format("%d").to_string(), d.mb))
        .collect();
    let _ = write!(
        b,
        "<div class=\"panel\"><h2>Usage by day (MB)</h2>{}</div>",
        bar_chart(&days, 1180.0, 240.0, "#2680c2")
    );
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
                format!(
                    "sim {} / operator {}",
                    code(s.sim_status),
                    code(s.operator_status)
                ),
                s.cards as f64,
            )
        })
        .collect();
    let _ = write!(
        b,
        "<div class=\"row\"><div class=\"panel\"><h2>Top consumers (MB)</h2>{}</div>\
         <div class=\"panel\"><h2>Cards by status</h2>{}</div></div>",
        hbar_chart(&top, 560.0, "#3ebd93", "MB"),
        hbar_chart(&statuses, 560.0, "#9446ed", "cards")
    );
    b += "<div class=\"panel\"><h2>Groups</h2><table><tr><th>group</th><th>cards</th><th>daily sum MB</th>\
          <th>month-usages MB</th><th>prev. month MB</th><th>change</th><th>share</th></tr>";
    for g in &r.groups {
        let _ = write!(
            b,
            "<tr{}><td>{}</td><td class=n>{}</td><td class=n>{:.2}</td><td class=n>{}{}</td><td class=n>{:.2}</td>\
             <td class=n>{}</td><td class=n>{:.1}%</td></tr>",
            if g.differs { " class=\"diff\"" } else { "" },
            esc(&g.group),
            g.cards,
            g.daily_sum_mb,
            g.month_usages_mb.map(|m| format!("{m:.2}")).unwrap_or_else(|| "–".into()),
            if g.differs { " ⚠" } else { "" },
            g.prev_daily_sum_mb,
            g.mom_change_pct.map(|m| format!("{m:+.1}%")).unwrap_or_else(|| "–".into()),
            g.share_pct
        );
    }
    b += "</table><p class=\"sub\">⚠ daily sum and month-usages differ by more than 1 %.</p></div>";
    if !r.no_usage_sample.is_empty() {
        let _ = write!(
            b,
            "<div class=\"panel\"><h2>Active cards without usage ({})</h2>{}</div>",
            r.no_usage_cards,
            esc(&r.no_usage_sample.join(", "))
        );
    }
    page(&format!("GSL usage {}", r.month), &b)
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
        "<h1>Card {}</h1><div class=\"sub\">{} to {}: {:.2} MB; plan {}</div>\
         <div class=\"panel\"><h2>Daily usage (MB)</h2>{}</div>",
        esc(&id),
        r.from,
        r.to,
        r.total_mb,
        esc(r.card.price_plan_name.as_deref().unwrap_or("–")),
        bar_chart(&days, 1180.0, 260.0, "#2680c2")
    );
    page(&format!("GSL card {id}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_labels_print_counts_whole_and_volumes_with_decimals() {
        let svg = hbar_chart(
            &[("20 active".into(), 4.0), ("top".into(), 12.5)],
            560.0,
            "#000",
            "x",
        );
        assert!(svg.contains(">4 x</text>"), "{svg}");
        assert!(svg.contains(">12.50 x</text>"), "{svg}");
    }
}
