//! Terminal tables (display-width aware for CJK) and RFC 4180 CSV with a UTF-8 BOM for Excel.

use unicode_width::UnicodeWidthStr;

use super::{SimReport, UsageReport};
use crate::format::{operator_status_name, sim_status_name, thousands, volume, with_name, Unit};

/// Excel only detects UTF-8 (and so shows Chinese plan names) when the file starts with a BOM.
pub const BOM: &str = "\u{feff}";

/// Quotes a CSV field when it holds a comma, quote, CR or LF (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv_line(fields: &[String]) -> String {
    let mut l = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    l.push_str("\r\n");
    l
}

/// Pads to a display width: CJK characters take two terminal columns.
pub fn pad(s: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(s.width()));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// Aligns rows under a header; numeric columns (`right[i]`) are right-aligned.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[bool]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.width());
        }
    }
    let fmt = |cells: Vec<String>| {
        let mut l = cells
            .iter()
            .enumerate()
            .map(|(i, c)| pad(c, widths[i], right.get(i).copied().unwrap_or(false)))
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l + "\n"
    };
    let mut out = fmt(header.iter().map(|h| h.to_string()).collect());
    out += &fmt(widths.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        out += &fmt(r.clone());
    }
    out
}

/// CSV keeps raw MB at the API's two decimals (never "-0.00"), so spreadsheets can sum the column.
fn mb(v: f64) -> String {
    format!("{:.2}", crate::format::round_to(v, 2))
}

fn opt_pct(v: Option<f64>) -> String {
    v.map(|p| format!("{p:+.1}%")).unwrap_or_else(|| "-".into())
}

const USAGE_HEADER: [&str; 8] = [
    "group",
    "cards",
    "daily_sum_mb",
    "month_usages_mb",
    "differs",
    "prev_daily_sum_mb",
    "mom_change",
    "share",
];

/// How the figures of a row print: raw MB for CSV, a fitted unit with separators for people.
#[derive(Clone, Copy)]
enum Style {
    Raw,
    Human(Unit),
}

impl Style {
    fn mb(self, v: f64) -> String {
        match self {
            Style::Raw => mb(v),
            Style::Human(u) => thousands(u.of(v), 2),
        }
    }
}

fn usage_rows(r: &UsageReport, style: Style) -> Vec<Vec<String>> {
    r.groups
        .iter()
        .map(|g| {
            vec![
                g.group.clone(),
                match style {
                    Style::Raw => g.cards.to_string(),
                    Style::Human(_) => thousands(g.cards as f64, 0),
                },
                style.mb(g.daily_sum_mb),
                g.month_usages_mb
                    .map(|v| style.mb(v))
                    .unwrap_or_else(|| "-".into()),
                if g.differs { "yes" } else { "" }.into(),
                style.mb(g.prev_daily_sum_mb),
                opt_pct(g.mom_change_pct),
                format!("{:.1}%", g.share_pct),
            ]
        })
        .collect()
}

pub fn usage_table(r: &UsageReport) -> String {
    let mut out = format!(
        "Usage {} by {}: {} by daily sums ({} month-usages; billing cycles may differ, e.g. China Unicom 27th–26th)\n",
        r.month,
        r.group_by,
        volume(r.total_daily_sum_mb),
        volume(r.total_month_usages_mb)
    );
    if let Some(n) = &r.note {
        out += &format!("Note: {n}\n");
    }
    out += &format!(
        "Showing {} of {} groups\n\n",
        r.groups.len(),
        r.groups_total
    );
    let unit = Unit::fit(r.groups.iter().map(|g| g.daily_sum_mb).fold(0.0, f64::max));
    let header = USAGE_HEADER.map(|h| h.replace("_mb", &format!(" {}", unit.label())));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    out += &table(
        &header,
        &usage_rows(r, Style::Human(unit)),
        &[false, true, true, true, false, true, true, true],
    );
    out += &format!(
        "\nActive cards with no usage in {}: {}{}\n",
        r.month,
        r.no_usage_cards,
        if r.no_usage_sample.is_empty() {
            String::new()
        } else {
            format!(" (e.g. {})", r.no_usage_sample.join(", "))
        }
    );
    out
}

/// CSV with BOM and header; groups only, ready for a spreadsheet.
pub fn usage_csv(r: &UsageReport) -> String {
    let mut out = BOM.to_string();
    out += &csv_line(&USAGE_HEADER.map(String::from));
    for row in usage_rows(r, Style::Raw) {
        out += &csv_line(&row);
    }
    out
}

fn sim_rows(r: &SimReport) -> Vec<Vec<String>> {
    r.days
        .iter()
        .map(|d| vec![d.day.to_string(), mb(d.mb)])
        .collect()
}

pub fn sim_table(r: &SimReport) -> String {
    let c = &r.card;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut out = format!(
        "Card {} (id {}, account {})\nplan {}  status {}  operator_status {}  used {}  left {}  pool {}\n\
         {} to {}: {}\n\n",
        opt(c.iccid.clone()),
        c.sim_card_id,
        c.account,
        opt(c.price_plan_name.clone()),
        with_name(c.sim_status, sim_status_name(c.sim_status)),
        with_name(c.operator_status, operator_status_name(c.operator_status)),
        opt(c.flow_used_mb.map(volume)),
        opt(c.flow_left_mb.map(volume)),
        opt(c.sim_pool_id.map(|v| v.to_string())),
        r.from,
        r.to,
        volume(r.total_mb)
    );
    out += &table(&["day", "flow_mb"], &sim_rows(r), &[false, true]);
    out
}

pub fn sim_csv(r: &SimReport) -> String {
    let mut out = BOM.to_string();
    out += &csv_line(&["day".into(), "flow_mb".into()]);
    for row in sim_rows(r) {
        out += &csv_line(&row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_per_rfc4180() {
        for (input, want) in [
            ("plain", "plain"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("中国联通套餐", "中国联通套餐"),
        ] {
            assert_eq!(csv_field(input), want);
        }
    }

    #[test]
    fn cjk_columns_align_by_display_width() {
        let t = table(
            &["plan", "mb"],
            &[
                vec!["中国联通".into(), "1.00".into()],
                vec!["abc".into(), "22.00".into()],
            ],
            &[false, true],
        );
        let widths: Vec<usize> = t.lines().map(|l| l.width()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{t}\n{widths:?}");
        assert!(t.contains("中国联通   1.00"), "{t}");
    }
}
