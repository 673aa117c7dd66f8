//! Which carrier a card belongs to, and which carrier actions it takes.
//!
//! GSL does not say which carrier a card is on; the ICCID does. A Chinese ICCID starts `8986` and its next
//! two digits are the issuer (China Mobile 00/02/04/07/08/13, China Unicom 01/06/09/10, China Telecom
//! 03/05/11). Cards whose ICCID says nothing (an eSIM's EID, a vSIM's CID, a foreign issuer) are judged by
//! the package name, which names the carrier (`中国联通…`, `中国电信…`, `中国移动…`).
//!
//! What each carrier supports (GSL API reference, actions on physical cards): a speed limit on China
//! Telecom and China Unicom; a data cut on China Telecom; a cut at a quota on China Telecom, and on
//! pooled China Unicom and China Mobile cards; stop and resume on every carrier.

use std::fmt;

use chrono::{Datelike, NaiveDate};

/// A card's carrier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    Mobile,
    Unicom,
    Telecom,
    /// Not a mainland-China carrier GSL acts on, or not known.
    Unknown,
}

impl Carrier {
    /// From the ICCID's issuer digits, then the package name; `Unknown` when neither says.
    pub fn of(iccid: Option<&str>, price_plan_name: Option<&str>) -> Carrier {
        iccid
            .and_then(Carrier::from_iccid)
            .or_else(|| price_plan_name.and_then(Carrier::from_plan_name))
            .unwrap_or(Carrier::Unknown)
    }

    /// The issuer of a Chinese ICCID (`8986` + two issuer digits).
    pub fn from_iccid(iccid: &str) -> Option<Carrier> {
        let digits = iccid.trim().strip_prefix("8986")?;
        let issuer = digits.get(..2)?;
        Some(match issuer {
            "00" | "02" | "04" | "07" | "08" | "13" => Carrier::Mobile,
            "01" | "06" | "09" | "10" => Carrier::Unicom,
            "03" | "05" | "11" => Carrier::Telecom,
            _ => return None,
        })
    }

    /// The carrier a package name names, e.g. `中国电信物联网卡流量包-1GB`.
    pub fn from_plan_name(name: &str) -> Option<Carrier> {
        let named = [
            (["中国移动", "移动"], Carrier::Mobile),
            (["中国联通", "联通"], Carrier::Unicom),
            (["中国电信", "电信"], Carrier::Telecom),
        ];
        named
            .iter()
            .find(|(words, _)| words.iter().any(|w| name.contains(w)))
            .map(|(_, c)| *c)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Mobile => "China Mobile",
            Carrier::Unicom => "China Unicom",
            Carrier::Telecom => "China Telecom",
            Carrier::Unknown => "an unknown carrier",
        }
    }

    /// The first day of the billing cycle holding `day`: China Unicom bills 27th..26th, the others the
    /// calendar month.
    pub fn cycle_start(self, day: NaiveDate) -> NaiveDate {
        let first = day.with_day(1).unwrap_or(day);
        if self != Carrier::Unicom {
            return first;
        }
        if day.day() >= 27 {
            first.with_day(27).unwrap_or(first)
        } else {
            let prev = first.pred_opt().unwrap_or(first);
            prev.with_day(27).unwrap_or(prev)
        }
    }
}

impl Carrier {
    /// The first day of the billing cycle after the one holding `day`.
    pub fn next_cycle_start(self, day: NaiveDate) -> NaiveDate {
        let start = self.cycle_start(day);
        // 32 days on is always inside the next month; its cycle start is the one after `start`.
        let later = start + chrono::Days::new(32);
        let next = self.cycle_start(later);
        if next > start {
            next
        } else {
            later
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A carrier action a guard policy or a person can take on one card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardAction {
    /// `speed-limit` to a number of Kbps.
    SpeedLimit,
    /// `cut-net` ADD: data off until restored.
    CutNet,
    /// `exceed-cut-net` set: data off once the package quota is used.
    CutAtQuota,
    /// `stop`: the card suspended (`operator_status` 5).
    Stop,
}

impl CardAction {
    pub const ALL: [CardAction; 4] = [
        CardAction::SpeedLimit,
        CardAction::CutNet,
        CardAction::CutAtQuota,
        CardAction::Stop,
    ];

    /// The configuration's and the tables' name.
    pub fn as_str(self) -> &'static str {
        match self {
            CardAction::SpeedLimit => "speed_limit",
            CardAction::CutNet => "cut_net",
            CardAction::CutAtQuota => "cut_at_quota",
            CardAction::Stop => "stop",
        }
    }

    pub fn from_name(s: &str) -> Option<CardAction> {
        CardAction::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether a card of `carrier` (in a flow pool when `pooled`) takes this action; `Err` says why not.
    pub fn supported(self, carrier: Carrier, pooled: bool) -> Result<(), String> {
        use Carrier::*;
        let ok = match self {
            CardAction::Stop => carrier != Unknown,
            CardAction::SpeedLimit => matches!(carrier, Telecom | Unicom),
            CardAction::CutNet => carrier == Telecom,
            CardAction::CutAtQuota => {
                carrier == Telecom || (pooled && matches!(carrier, Unicom | Mobile))
            }
        };
        if ok {
            return Ok(());
        }
        let needs = match self {
            CardAction::Stop => "a China Mobile, China Unicom or China Telecom card",
            CardAction::SpeedLimit => "a China Telecom or China Unicom card",
            CardAction::CutNet => "a China Telecom card",
            CardAction::CutAtQuota => {
                "a China Telecom card, or a pooled China Unicom or China Mobile card"
            }
        };
        let pool = if pooled { "pooled " } else { "" };
        Err(format!(
            "{} needs {needs}; this is a {pool}{carrier} card",
            self.as_str()
        ))
    }
}

impl fmt::Display for CardAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_from_issuer_digits_then_plan_name() {
        let cases: &[(Option<&str>, Option<&str>, Carrier)] = &[
            (Some("89860012345678901234"), None, Carrier::Mobile),
            (Some("89860712345678901234"), None, Carrier::Mobile),
            (Some("89860112345678901234"), None, Carrier::Unicom),
            (Some("89860912345678901234"), None, Carrier::Unicom),
            (Some("89860312345678901234"), None, Carrier::Telecom),
            (Some("89861112345678901234"), None, Carrier::Telecom),
            // The ICCID wins over the plan name.
            (
                Some("89860312345678901234"),
                Some("中国联通-1GB"),
                Carrier::Telecom,
            ),
            // A foreign or unknown issuer: the plan name decides.
            (
                Some("89490012345678901234"),
                Some("中国联通消费级每月30M联接服务(1年)"),
                Carrier::Unicom,
            ),
            (
                Some("89869912345678901234"),
                Some("中国电信物联网卡流量包-1GB"),
                Carrier::Telecom,
            ),
            (None, Some("中国移动物联网卡流量包-30M"), Carrier::Mobile),
            (Some("8986"), None, Carrier::Unknown),
            (Some(""), Some("Global 1GB"), Carrier::Unknown),
            (None, None, Carrier::Unknown),
        ];
        for &(iccid, plan, want) in cases {
            assert_eq!(Carrier::of(iccid, plan), want, "{iccid:?} {plan:?}");
        }
    }

    #[test]
    fn actions_each_carrier_supports() {
        use CardAction::*;
        use Carrier::*;
        // (action, carrier, pooled, supported)
        let cases = [
            (SpeedLimit, Telecom, false, true),
            (SpeedLimit, Unicom, false, true),
            (SpeedLimit, Mobile, true, false),
            (CutNet, Telecom, false, true),
            (CutNet, Unicom, true, false),
            (CutNet, Mobile, false, false),
            (CutAtQuota, Telecom, false, true),
            (CutAtQuota, Unicom, true, true),
            (CutAtQuota, Mobile, true, true),
            (CutAtQuota, Unicom, false, false),
            (CutAtQuota, Mobile, false, false),
            (Stop, Mobile, false, true),
            (Stop, Unknown, false, false),
            (SpeedLimit, Unknown, false, false),
        ];
        for (action, carrier, pooled, want) in cases {
            let got = action.supported(carrier, pooled);
            assert_eq!(
                got.is_ok(),
                want,
                "{action} {carrier} pooled={pooled}: {got:?}"
            );
        }
        let why = CutNet.supported(Mobile, false).unwrap_err();
        assert_eq!(
            why,
            "cut_net needs a China Telecom card; this is a China Mobile card"
        );
    }

    #[test]
    fn billing_cycles_start_on_the_first_or_for_unicom_the_27th() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let cases = [
            (Carrier::Telecom, "2026-11-28", "2026-11-01"),
            (Carrier::Mobile, "2026-12-01", "2026-12-01"),
            (Carrier::Unicom, "2026-11-27", "2026-11-27"),
            (Carrier::Unicom, "2026-11-26", "2026-10-27"),
            (Carrier::Unicom, "2026-01-05", "2025-12-27"),
        ];
        for (c, day, want) in cases {
            assert_eq!(c.cycle_start(d(day)), d(want), "{c} {day}");
        }
        let next = [
            (Carrier::Telecom, "2026-11-28", "2026-12-01"),
            (Carrier::Mobile, "2026-12-31", "2027-01-01"),
            (Carrier::Unicom, "2026-11-27", "2026-12-27"),
            (Carrier::Unicom, "2026-11-26", "2026-11-27"),
            (Carrier::Unicom, "2026-01-30", "2026-02-27"),
        ];
        for (c, day, want) in next {
            assert_eq!(c.next_cycle_start(d(day)), d(want), "{c} {day}");
        }
    }

    #[test]
    fn action_names_round_trip() {
        for a in CardAction::ALL {
            assert_eq!(CardAction::from_name(a.as_str()), Some(a));
        }
        assert_eq!(CardAction::from_name("explode"), None);
    }
}
