//! Inline SVG charts that scale: a viewBox and `width: 100%`, round ticks, volumes in the unit that fits.

use std::fmt::Write;

use crate::format::{thousands, tick_label, ticks, Unit};
use crate::html::esc;

/// What the bars measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Flow in MB, shown in the unit that fits the largest bar.
    Volume,
    /// A count of cards.
    Count,
}

impl Measure {
    fn unit(self, max: f64) -> (Option<Unit>, &'static str) {
        match self {
            Measure::Volume => {
                let u = Unit::fit(max);
                (Some(u), u.label())
            }
            Measure::Count => (None, "cards"),
        }
    }
}

fn open(w: f64, h: f64, title: &str) -> String {
    format!(
        "<svg viewBox=\"0 0 {w} {h}\" width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\" \
         aria-label=\"{}\" style=\"max-width:{w}px;height:auto\">",
        esc(title)
    )
}

/// Vertical bars, one per (label, MB), with round ticks; `title` names the chart for screen readers.
pub fn bars(points: &[(String, f64)], w: f64, h: f64, color: &str, title: &str) -> String {
    let max_mb = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let (unit, label) = Measure::Volume.unit(max_mb);
    let unit = unit.unwrap_or(Unit::Mb);
    let axis = ticks(unit.of(max_mb));
    let top = *axis.last().unwrap_or(&1.0);
    let n = points.len().max(1) as f64;
    let (left, bottom, up) = (64.0, 24.0, 14.0);
    let plot = h - bottom - up;
    let step = (w - left) / n;
    let mut s = open(w, h, title);
    let _ = write!(
        s,
        "<text x=\"4\" y=\"10\" font-size=\"11\" fill=\"#616e7c\">{label}</text>"
    );
    for v in &axis {
        let y = up + plot - plot * v / top;
        let _ = write!(
            s,
            "<line x1=\"{left}\" x2=\"{w}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e4e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#616e7c\">{}</text>",
            left - 4.0,
            y + 4.0,
            tick_label(*v)
        );
    }
    let every = (points.len() / 12).max(1);
    for (i, (name, mb)) in points.iter().enumerate() {
        let bh = plot * unit.of(*mb) / top;
        let x = left + step * i as f64;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\" rx=\"2\">\
             <title>{}: {}</title></rect>",
            x + step * 0.15,
            up + plot - bh,
            step * 0.7,
            esc(name),
            unit.show(*mb)
        );
        if i % every == 0 {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#616e7c\">{}</text>",
                x + step / 2.0,
                h - 8.0,
                esc(name)
            );
        }
    }
    s + "</svg>"
}

/// Horizontal bars with labels, for top consumers (MB) and status counts.
pub fn hbars(
    points: &[(String, f64)],
    w: f64,
    color: &str,
    measure: Measure,
    title: &str,
) -> String {
    let max = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let (unit, suffix) = measure.unit(max);
    let (label_w, row) = (w * 0.42, 24.0);
    let h = row * points.len().max(1) as f64 + 4.0;
    let mut s = open(w, h, title);
    for (i, (name, v)) in points.iter().enumerate() {
        let y = row * i as f64 + 2.0;
        let bw = if max > 0.0 {
            (w - label_w - 110.0).max(10.0) * v / max
        } else {
            0.0
        };
        let figure = match unit {
            Some(u) => u.show(*v),
            None if *v == 1.0 => "1 card".to_owned(),
            None => format!("{} {suffix}", thousands(*v, 0)),
        };
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1f2933\">{}</text>\
             <rect x=\"{label_w:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"{color}\" rx=\"3\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#616e7c\">{figure}</text>",
            label_w - 6.0,
            y + 15.0,
            esc(name),
            row - 6.0,
            label_w + bw + 6.0,
            y + 15.0,
        );
    }
    s + "</svg>"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_scale_with_a_viewbox_and_round_ticks() {
        let svg = bars(
            &[("01".into(), 67056.0 * 4.0), ("02".into(), 10.0)],
            1000.0,
            240.0,
            "#000",
            "by day",
        );
        assert!(svg.starts_with("<svg viewBox=\"0 0 1000 240\""), "{svg}");
        assert!(svg.contains(">GB</text>"), "{svg}");
        assert!(
            svg.contains(">100</text>") && svg.contains(">300</text>"),
            "{svg}"
        );
        assert!(!svg.contains("67056"), "{svg}");
    }

    #[test]
    fn counts_print_whole_and_volumes_in_their_unit() {
        let svg = hbars(
            &[("20 in use".into(), 4000.0)],
            560.0,
            "#000",
            Measure::Count,
            "t",
        );
        assert!(svg.contains(">4,000 cards</text>"), "{svg}");
        let svg = hbars(&[("top".into(), 12.5)], 560.0, "#000", Measure::Volume, "t");
        assert!(svg.contains(">12.50 MB</text>"), "{svg}");
    }
}
