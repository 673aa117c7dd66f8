//! Figures as people read them: status names beside codes, a unit that fits (MB, GB, TB) with thousands
//! separators, round axis ticks, and JSON numbers at the API's precision without negative zero.

use serde::Serializer;

/// GSL's sim_status codes (gsl-api.md, card query table).
pub fn sim_status_name(code: Option<i32>) -> &'static str {
    match code {
        Some(10) => "testable",
        Some(11) => "not activated",
        Some(13) => "activatable",
        Some(14) => "deactivated",
        Some(20) => "in use",
        Some(30) => "dismantled",
        Some(_) => "unknown code",
        None => "not reported",
    }
}

/// GSL's operator_status codes: -1 normal, 1..7 the reason a card is stopped.
pub fn operator_status_name(code: Option<i32>) -> &'static str {
    match code {
        Some(-1) => "normal",
        Some(1) => "stopped: flow exceeded",
        Some(2) => "stopped: flow threshold",
        Some(3) => "stopped: pool stopped",
        Some(4) => "stopped: package expired",
        Some(5) => "stopped on request",
        Some(6) => "stopped: violation",
        Some(7) => "stopped: machine-card separation",
        Some(_) => "unknown code",
        None => "not reported",
    }
}

/// "20 in use" / "-1 normal": the code first, so it still sorts and greps as before.
pub fn with_name(code: Option<i32>, name: &str) -> String {
    match code {
        Some(c) => format!("{c} {name}"),
        None => name.to_owned(),
    }
}

/// A volume unit; 1 GB = 1,024 MB, as 1 MB = 1,048,576 bytes on /metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Mb,
    Gb,
    Tb,
}

impl Unit {
    /// The largest unit in which `max_mb` is still at least 1.
    pub fn fit(max_mb: f64) -> Unit {
        let m = max_mb.abs();
        if m >= 1024.0 * 1024.0 {
            Unit::Tb
        } else if m >= 1024.0 {
            Unit::Gb
        } else {
            Unit::Mb
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Unit::Mb => "MB",
            Unit::Gb => "GB",
            Unit::Tb => "TB",
        }
    }

    pub fn of(self, mb: f64) -> f64 {
        match self {
            Unit::Mb => mb,
            Unit::Gb => mb / 1024.0,
            Unit::Tb => mb / (1024.0 * 1024.0),
        }
    }

    /// `mb` in this unit, two decimals, separated: "7,579.72 GB".
    pub fn show(self, mb: f64) -> String {
        format!("{} {}", thousands(self.of(mb), 2), self.label())
    }
}

/// One volume in the unit that fits it.
pub fn volume(mb: f64) -> String {
    Unit::fit(mb).show(mb)
}

/// `v` with `decimals` decimals and comma thousands separators; never "-0".
pub fn thousands(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, no_negative_zero(v));
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.as_str()),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    out.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    // "-0.00" after rounding a tiny negative is still a zero.
    if out
        .trim_start_matches('-')
        .chars()
        .all(|c| matches!(c, '0' | '.' | ','))
    {
        out = out.trim_start_matches('-').to_owned();
    }
    out
}

/// Rounds to `decimals` and maps -0.0 to 0.0.
pub fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    no_negative_zero((v * f).round() / f)
}

fn no_negative_zero(v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else {
        v
    }
}

/// serde: MB and percentages at two decimals, the precision GSL gives flow in.
pub fn json2<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_to(*v, 2))
}

/// serde: as `json2`, for optional figures.
pub fn json2_opt<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_some(&round_to(*v, 2)),
        None => s.serialize_none(),
    }
}

/// Round axis ticks from 0 covering `max`: a step of 1, 2, 2.5 or 5 × 10^k, about four intervals.
pub fn ticks(max: f64) -> Vec<f64> {
    if max.is_nan() || max <= 0.0 || !max.is_finite() {
        return vec![0.0, 1.0];
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let n = (max / step).ceil().max(1.0) as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

/// A tick label: whole numbers without decimals, separated.
pub fn tick_label(v: f64) -> String {
    if v.fract() == 0.0 {
        thousands(v, 0)
    } else if (v * 10.0).fract() == 0.0 {
        thousands(v, 1)
    } else {
        thousands(v, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separate_and_never_print_negative_zero() {
        for (v, d, want) in [
            (7761636.9, 1, "7,761,636.9"),
            (999.0, 0, "999"),
            (1000.0, 0, "1,000"),
            (-1234567.891, 2, "-1,234,567.89"),
            (-0.0, 2, "0.00"),
            (-0.001, 2, "0.00"),
            (0.5, 2, "0.50"),
        ] {
            assert_eq!(thousands(v, d), want, "{v}");
        }
    }

    #[test]
    fn a_unit_fits_the_figure() {
        assert_eq!(volume(512.0), "512.00 MB");
        assert_eq!(volume(7_761_636.9), "7.40 TB");
        assert_eq!(volume(2048.0), "2.00 GB");
        assert_eq!(volume(1_500_000.0), "1.43 TB");
        assert_eq!(volume(-0.0), "0.00 MB");
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(ticks(268224.0), [0.0, 100000.0, 200000.0, 300000.0]);
        assert_eq!(ticks(10.0), [0.0, 2.5, 5.0, 7.5, 10.0]);
        assert_eq!(ticks(0.0), [0.0, 1.0]);
        assert_eq!(ticks(3.0), [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(tick_label(100000.0), "100,000");
        assert_eq!(tick_label(2.5), "2.5");
    }

    #[test]
    fn statuses_have_names() {
        assert_eq!(with_name(Some(20), sim_status_name(Some(20))), "20 in use");
        assert_eq!(operator_status_name(Some(1)), "stopped: flow exceeded");
        assert_eq!(operator_status_name(None), "not reported");
    }

    #[test]
    fn json_rounds_to_two_decimals() {
        let v = serde_json::to_string(&serde_json::json!(round_to(216.25000000000003, 2))).unwrap();
        assert_eq!(v, "216.25");
        assert_eq!(round_to(-0.0001, 2).to_string(), "0");
    }
}
