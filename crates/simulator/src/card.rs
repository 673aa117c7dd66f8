//! Derives one card, and its usage on any day, from a hash of (seed, slot): nothing is stored per card.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use gsl_domain::{PoolId, SimCardId};
use serde::Serialize;

use super::orders::CardState;
use super::showcase::{self, Script};

/// First card id; ids are `BASE_ID + slot`, below 2^53 for any fleet the simulator can hold.
pub const BASE_ID: i64 = 5_702_790_861_709_056;
/// Base cards sit every `STRIDE` slots so that drift can insert cards between them in `cid` order.
pub const STRIDE: u64 = 1024;

/// One card as `GET /v1/sim-cards` lists it (SimDeviceVO, all 38 fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimCard {
    pub sim_card_id: SimCardId,
    pub account_id: String,
    pub cid: String,
    pub sim_pool_id: Option<PoolId>,
    pub imei: Option<String>,
    pub sim_status: i32,
    pub device_status: Option<i32>,
    pub device_model: Option<String>,
    pub act_date: Option<String>,
    pub device_status_date: Option<String>,
    pub node_id: Option<String>,
    pub iccid: String,
    pub network_type: Option<String>,
    pub dbm: Option<String>,
    pub signal_level: Option<String>,
    pub sim_type: i32,
    pub tag_names: Option<String>,
    pub order_id: i64,
    pub expire_time: Option<String>,
    pub price_plan_name: String,
    pub sim_price_plan_id: Option<i64>,
    pub flow_left: f64,
    pub flow_used: f64,
    pub operator_status: i32,
    pub msisdn: Option<String>,
    pub imsi: Option<String>,
    pub customer_attribute1: Option<String>,
    pub customer_attribute2: Option<String>,
    pub customer_attribute3: Option<String>,
    pub customer_attribute4: Option<String>,
    pub customer_attribute5: Option<String>,
    pub customer_attribute6: Option<String>,
    pub real_named: bool,
    pub cut_net_flag: bool,
    pub exceed_cut_net_flag: bool,
    pub exceed_cut_net_quota: Option<i32>,
    pub imei_bind_remain_times: Option<i32>,
    pub speed_value: Option<i32>,
}

/// Forward and backward flow pools (ids, names) the fleet's pooled cards belong to.
pub const FORWARD_POOLS: [(PoolId, &str); 3] = [
    (PoolId::new(4_940_000_001), "华北物联网流量池-1"),
    (PoolId::new(4_940_000_002), "华东物联网流量池-2"),
    (PoolId::new(4_940_000_003), "华南物联网流量池-3"),
];
pub const BACK_POOLS: [(PoolId, &str); 2] = [
    (PoolId::new(4_950_000_001), "后向流量池-车联网"),
    (PoolId::new(4_950_000_002), "后向流量池-表计"),
];

const PLANS: [(f64, &str); 6] = [
    (30.0, "30M"),
    (100.0, "100MB"),
    (500.0, "500MB"),
    (1024.0, "1GB"),
    (3072.0, "3GB"),
    (10240.0, "10GB"),
];
const CARRIERS: [&str; 3] = ["中国移动", "中国联通", "中国电信"];

/// Pool membership of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    Forward(usize),
    Back(usize),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Usage {
    Idle,
    Normal(f64),
    Heavy(f64),
    /// Normal usage with an occasional day ~30 times larger, for anomaly alerts.
    Spiky(f64),
    /// A showcase card following its script on the simulator's `today`.
    Scripted(Script, NaiveDate),
}

/// A card that starts using `mb_per_hour` from `from` (simulated local time, Asia/Shanghai) on top of its
/// usual usage, until further notice: what a real-time check catches hours before the next night.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Burn {
    pub from: NaiveDateTime,
    pub mb_per_hour: f64,
}

impl Burn {
    /// MB burnt in `[start, end)`.
    fn between(&self, start: NaiveDateTime, end: NaiveDateTime) -> f64 {
        let from = start.max(self.from);
        if end <= from {
            return 0.0;
        }
        (end - from).num_seconds() as f64 / 3600.0 * self.mb_per_hour
    }
}

fn midnight(day: NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN)
}

/// The today-independent traits of a card.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    pub slot: u64,
    h: u64,
    pub carrier: usize,
    pub sim_type: i32,
    pub sim_status: i32,
    pub quota_mb: f64,
    plan: usize,
    /// China Unicom cards billed 27th..26th.
    pub unicom_cycle: bool,
    usage: Usage,
    pub pool: Option<Pool>,
    /// Extra usage from a point in time on (`SimulatorHandle::set_burn`).
    pub burn: Option<Burn>,
}

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash3(a: u64, b: u64, c: u64) -> u64 {
    mix(a ^ mix(b ^ mix(c)))
}

/// A uniform number in [0, 1) from the top 53 bits of `h`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn id_of(slot: u64) -> SimCardId {
    SimCardId::from(BASE_ID + slot as i64)
}

pub fn slot_of_id(id: SimCardId) -> Option<u64> {
    id.get()
        .checked_sub(BASE_ID)
        .and_then(|s| u64::try_from(s).ok())
}

/// The issuer digits after `8986` in a card's ICCID, by carrier (China Mobile 00, China Unicom 01, China
/// Telecom 03): the way a real ICCID tells its carrier.
const ISSUERS: [&str; 3] = ["00", "01", "03"];

/// `8986` + issuer + the slot in 14 digits: 20 characters, and for China Mobile cards `89860` + the slot
/// in 15 digits, as before issuers were told apart.
pub fn iccid_of(slot: u64, carrier: usize) -> String {
    let issuer = ISSUERS.get(carrier).copied().unwrap_or(ISSUERS[0]);
    format!("8986{issuer}{slot:014}")
}

/// The slot an ICCID names, whatever its issuer digits (the caller checks they are the card's).
pub fn slot_of_iccid(iccid: &str) -> Option<u64> {
    let rest = iccid.strip_prefix("8986")?;
    let (issuer, slot) = (rest.get(..2)?, rest.get(2..)?);
    if !ISSUERS.contains(&issuer) || slot.len() != 14 || !slot.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    slot.parse().ok()
}

impl Profile {
    pub fn new(seed: u64, slot: u64) -> Profile {
        let h = hash3(seed, slot, 0x5EED);
        let pick = |salt: u64, n: u64| mix(h ^ salt) % n;
        let sim_type = match pick(1, 10) {
            0 => 1,
            1 => 2,
            _ => 3,
        };
        let sim_status = match pick(2, 100) {
            0..=69 => 20,
            70..=77 => 14,
            78..=83 => 10,
            84..=89 => 11,
            90..=94 => 13,
            _ => 30,
        };
        let carrier = pick(3, 3) as usize;
        let plan = pick(4, PLANS.len() as u64) as usize;
        let quota_mb = PLANS[plan].0;
        let factor = 0.2 + 1.4 * unit(mix(h ^ 5));
        let usage = if sim_status != 20 {
            Usage::Idle
        } else {
            match pick(6, 100) {
                0..=14 => Usage::Idle,
                15..=19 => Usage::Heavy(quota_mb / 12.0 * factor.max(0.8)),
                20..=22 => Usage::Spiky(quota_mb / 90.0 * factor),
                _ => Usage::Normal(quota_mb / 60.0 * factor),
            }
        };
        let pool = match pick(7, 100) {
            0..=14 => Some(Pool::Forward(pick(8, FORWARD_POOLS.len() as u64) as usize)),
            15..=19 => Some(Pool::Back(pick(9, BACK_POOLS.len() as u64) as usize)),
            _ => None,
        };
        Profile {
            slot,
            h,
            carrier,
            sim_type,
            sim_status,
            quota_mb,
            plan,
            unicom_cycle: carrier == 1 && pick(10, 2) == 0,
            usage,
            pool,
            burn: None,
        }
    }

    fn pick(&self, salt: u64, n: u64) -> u64 {
        mix(self.h ^ salt) % n
    }

    /// The plan (index into the plan table) and so the quota.
    pub(crate) fn set_plan(&mut self, plan: usize) {
        self.plan = plan.min(PLANS.len() - 1);
        self.quota_mb = PLANS[self.plan].0;
    }

    pub fn is_scripted(&self) -> bool {
        matches!(self.usage, Usage::Scripted(..))
    }

    pub(crate) fn set_script(&mut self, script: Script, today: NaiveDate) {
        self.usage = Usage::Scripted(script, today);
    }

    /// MB used on `day` (2 decimals); a function of (seed, slot, day) and the card's burn only.
    pub fn daily_flow(&self, day: NaiveDate) -> f64 {
        let burnt = self.burn.map_or(0.0, |b| {
            b.between(midnight(day), midnight(day + Duration::days(1)))
        });
        round2(self.usual_daily_flow(day) + burnt)
    }

    /// MB used on `now`'s day up to `now`: the usual day's usage spread evenly over it, plus the burn. At
    /// midnight it is the next night's `daily_flow` of that day, so a real-time figure never exceeds it.
    pub fn today_so_far(&self, now: NaiveDateTime) -> f64 {
        let start = midnight(now.date());
        let share = (now - start).num_seconds() as f64 / 86_400.0;
        let burnt = self.burn.map_or(0.0, |b| b.between(start, now));
        round2(self.usual_daily_flow(now.date()) * share.clamp(0.0, 1.0) + burnt)
    }

    /// MB used in the current cycle up to `now` (simulated local time), today so far included.
    pub fn flow_used_at(&self, now: NaiveDateTime) -> f64 {
        round2(self.flow_used(now.date()) + self.today_so_far(now))
    }

    fn usual_daily_flow(&self, day: NaiveDate) -> f64 {
        let d = mix(self.h ^ mix(day.num_days_from_ce() as u64));
        let mean = match self.usage {
            Usage::Idle => return 0.0,
            Usage::Scripted(script, today) => {
                return showcase::daily(script, self.quota_mb, self.cycle_start(today), today, day)
            }
            Usage::Normal(m) | Usage::Heavy(m) => m,
            Usage::Spiky(m) if d % 17 == 0 => m * 30.0,
            Usage::Spiky(m) => m,
        };
        if d % 10 == 0 {
            return 0.0;
        }
        round2(mean * (0.5 + unit(mix(d))))
    }

    /// First day of the billing cycle that contains `today`.
    pub fn cycle_start(&self, today: NaiveDate) -> NaiveDate {
        let first = today.with_day(1).unwrap_or(today);
        if !self.unicom_cycle {
            return first;
        }
        if today.day() >= 27 {
            first + Duration::days(26)
        } else {
            prev_month(first) + Duration::days(26)
        }
    }

    /// MB used from `from` up to the day before `until`.
    pub fn flow_between(&self, from: NaiveDate, until: NaiveDate) -> f64 {
        let mut sum = 0.0;
        let mut day = from;
        while day < until {
            sum += self.daily_flow(day);
            day += Duration::days(1);
        }
        round2(sum)
    }

    pub fn flow_used(&self, today: NaiveDate) -> f64 {
        self.flow_between(self.cycle_start(today), today)
    }

    pub fn iccid(&self) -> String {
        iccid_of(self.slot, self.carrier)
    }

    /// In a forward pool: the cards a pooled cut at quota applies to.
    pub fn pooled(&self) -> bool {
        matches!(self.pool, Some(Pool::Forward(_)))
    }

    pub fn price_plan_id(&self) -> i64 {
        7_000_000_000 + self.slot as i64
    }

    pub fn price_plan_name(&self) -> String {
        let (_, size) = PLANS[self.plan];
        if self.plan == 0 && self.carrier == 1 {
            return "中国联通消费级每月30M联接服务(1年)".to_owned();
        }
        format!("{}物联网卡流量包-{size}", CARRIERS[self.carrier])
    }

    /// The card as listed on `today`; `state` holds what finished work orders changed.
    pub fn card(&self, today: NaiveDate, state: Option<&CardState>) -> SimCard {
        let state = state.copied().unwrap_or_default();
        let used = self.flow_used(today);
        let exhausted = used >= self.quota_mb;
        let status_override = state.sim_status;
        let sim_status = status_override.unwrap_or(self.sim_status);
        let operator_status = if status_override == Some(14) {
            5
        } else if exhausted {
            1 + self.pick(11, 2) as i32
        } else if sim_status == 14 {
            [3, 4, 5, 6, 7][self.pick(12, 5) as usize]
        } else {
            -1
        };
        let device = self.sim_type != 3;
        let activated = !matches!(self.sim_status, 10 | 11 | 13);
        let act = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default()
            + Duration::days(self.pick(13, 1500) as i64);
        let telecom = self.carrier == 2;
        let opt = |salt: u64, pct: u64, v: String| (self.pick(salt, 100) < pct).then_some(v);
        SimCard {
            sim_card_id: id_of(self.slot),
            account_id: "04eef84c0f80d3a40f4bc01e1e2ab3c1".to_owned(),
            cid: self.iccid(),
            sim_pool_id: match self.pool {
                Some(Pool::Forward(i)) => Some(FORWARD_POOLS[i].0),
                _ => None,
            },
            imei: opt(
                14,
                60,
                format!("86{:013}", self.pick(15, 10_000_000_000_000)),
            ),
            sim_status,
            device_status: device.then(|| 1 + self.pick(16, 4) as i32),
            device_model: device.then(|| {
                ["Quectel BC95", "Quectel EC20", "SIMCom A7670"][self.pick(17, 3) as usize]
                    .to_owned()
            }),
            act_date: activated.then(|| format!("{}T16:00:00.000Z", act - Duration::days(1))),
            device_status_date: device.then(|| format!("{act}T02:13:45.000Z")),
            node_id: device.then(|| format!("node-{:08x}", self.pick(18, u32::MAX as u64))),
            iccid: self.iccid(),
            network_type: opt(
                19,
                90,
                ["4G", "NB-IoT", "5G"][self.pick(20, 3) as usize].to_owned(),
            ),
            dbm: device.then(|| format!("-{}", 60 + self.pick(21, 50))),
            signal_level: device.then(|| (1 + self.pick(22, 3)).to_string()),
            sim_type: self.sim_type,
            tag_names: opt(23, 30, "华北,车联网".to_owned()),
            order_id: 494_000_000_000 + (self.slot / (STRIDE * 1000)) as i64,
            expire_time: activated
                .then(|| format!("{}T15:59:59.000Z", act + Duration::days(3 * 365))),
            price_plan_name: self.price_plan_name(),
            sim_price_plan_id: activated.then(|| self.price_plan_id()),
            flow_left: round2((self.quota_mb - used).max(0.0)),
            flow_used: used,
            operator_status,
            msisdn: Some(format!("1440{:09}", self.pick(24, 1_000_000_000))),
            imsi: Some(format!("46000{:010}", self.pick(25, 10_000_000_000))),
            customer_attribute1: opt(26, 40, "项目A".to_owned()),
            customer_attribute2: opt(27, 10, "网点-北京".to_owned()),
            customer_attribute3: None,
            customer_attribute4: None,
            customer_attribute5: None,
            customer_attribute6: None,
            real_named: self.pick(28, 3) != 0,
            cut_net_flag: state.cut_net.unwrap_or(!telecom && self.pick(29, 50) == 0),
            exceed_cut_net_flag: match state.exceed_cut {
                Some(quota) => quota.is_some(),
                None => !telecom && self.pick(30, 20) == 0,
            },
            exceed_cut_net_quota: match state.exceed_cut {
                Some(quota) => quota,
                None => (telecom && self.pick(31, 4) == 0).then_some(self.quota_mb as i32),
            },
            imei_bind_remain_times: telecom.then_some(self.pick(32, 4) as i32),
            speed_value: state.speed_value.or_else(|| {
                (self.carrier != 0).then(|| if self.pick(33, 5) == 0 { 1024 } else { -1 })
            }),
        }
    }
}

pub fn prev_month(first: NaiveDate) -> NaiveDate {
    first
        .with_day(1)
        .and_then(|d| d.pred_opt())
        .and_then(|d| d.with_day(1))
        .unwrap_or(first)
}

pub fn next_month(first: NaiveDate) -> NaiveDate {
    let d = first.with_day(1).unwrap_or(first) + Duration::days(32);
    d.with_day(1).unwrap_or(d)
}
