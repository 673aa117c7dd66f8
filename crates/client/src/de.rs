//! Lenient field decoders: GSL sends numbers as strings and vice versa, nulls or nothing, two date formats.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::de::{self, Deserializer, Visitor};

use super::types::YearMonth;

/// One JSON scalar as the server sent it, before we decide what it means.
enum Scalar {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(String),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, string, boolean or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::F64(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Str(v))
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn to_i64<E: de::Error>(s: Scalar) -> Result<Option<i64>, E> {
    match s {
        Scalar::Null => Ok(None),
        Scalar::I64(v) => Ok(Some(v)),
        Scalar::U64(v) => i64::try_from(v)
            .map(Some)
            .map_err(|_| E::custom("integer out of range")),
        Scalar::F64(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => Ok(Some(v as i64)),
        Scalar::Str(s) if blank(&s) => Ok(None),
        Scalar::Str(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| E::custom(format!("expected an integer, got {s:?}"))),
        _ => Err(E::custom("expected an integer")),
    }
}

fn to_f64<E: de::Error>(s: Scalar) -> Result<Option<f64>, E> {
    match s {
        Scalar::Null => Ok(None),
        Scalar::I64(v) => Ok(Some(v as f64)),
        Scalar::U64(v) => Ok(Some(v as f64)),
        Scalar::F64(v) => Ok(Some(v)),
        Scalar::Str(s) if blank(&s) => Ok(None),
        Scalar::Str(s) => match s.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(E::custom(format!("expected a number, got {s:?}"))),
        },
        Scalar::Bool(_) => Err(E::custom("expected a number")),
    }
}

pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    to_i64(scalar(d)?)
}

pub fn req_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    opt_i64(d)?.ok_or_else(|| de::Error::custom("required integer is null"))
}

/// An id (`SimCardId`, `PoolId`), as leniently as any integer.
pub fn opt_id<'de, D: Deserializer<'de>, T: From<i64>>(d: D) -> Result<Option<T>, D::Error> {
    Ok(opt_i64(d)?.map(T::from))
}

/// A required id: null or absent is an error.
pub fn req_id<'de, D: Deserializer<'de>, T: From<i64>>(d: D) -> Result<T, D::Error> {
    req_i64(d).map(T::from)
}

pub fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    match opt_i64(d)? {
        None => Ok(None),
        Some(v) => i32::try_from(v)
            .map(Some)
            .map_err(|_| de::Error::custom("integer out of range")),
    }
}

pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    to_f64(scalar(d)?)
}

/// A flow figure: absent or null means no usage reported, which the caller treats as 0.
pub fn f64_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(opt_f64(d)?.unwrap_or(0.0))
}

pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Str(s) => Ok(Some(s)),
        Scalar::I64(v) => Ok(Some(v.to_string())),
        Scalar::U64(v) => Ok(Some(v.to_string())),
        Scalar::F64(v) => Ok(Some(v.to_string())),
        Scalar::Bool(v) => Ok(Some(v.to_string())),
    }
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Bool(v) => Ok(Some(v)),
        Scalar::I64(0) | Scalar::U64(0) => Ok(Some(false)),
        Scalar::I64(1) | Scalar::U64(1) => Ok(Some(true)),
        Scalar::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(de::Error::custom(format!("expected a boolean, got {s:?}"))),
        },
        _ => Err(de::Error::custom("expected a boolean")),
    }
}

/// Parses `YYYYMMDD` or `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .ok()
}

fn date_from<E: de::Error>(s: Scalar) -> Result<Option<NaiveDate>, E> {
    let text = match s {
        Scalar::Null => return Ok(None),
        Scalar::Str(s) if blank(&s) => return Ok(None),
        Scalar::Str(s) => s,
        Scalar::I64(v) => v.to_string(),
        Scalar::U64(v) => v.to_string(),
        _ => return Err(E::custom("expected a date")),
    };
    parse_date(&text).map(Some).ok_or_else(|| {
        E::custom(format!(
            "expected a date YYYYMMDD or YYYY-MM-DD, got {text:?}"
        ))
    })
}

pub fn req_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    date_from(scalar(d)?)?.ok_or_else(|| de::Error::custom("required date is null"))
}

/// Parses RFC 3339 (`2020-01-31T16:00:00.000Z`), or a zone-less `YYYY-MM-DD[ T]HH:MM:SS` or bare date taken as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(v) = DateTime::parse_from_rfc3339(s) {
        return Some(v.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(v.and_utc());
        }
    }
    parse_date(s)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|v| v.and_utc())
}

pub fn opt_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match scalar(d)? {
        Scalar::Null => Ok(None),
        Scalar::Str(s) if blank(&s) => Ok(None),
        Scalar::Str(s) => parse_datetime(&s)
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("expected a datetime, got {s:?}"))),
        Scalar::I64(ms) => Ok(DateTime::from_timestamp_millis(ms)),
        _ => Err(de::Error::custom("expected a datetime")),
    }
}

pub fn opt_year_month<'de, D: Deserializer<'de>>(d: D) -> Result<Option<YearMonth>, D::Error> {
    let text = match scalar(d)? {
        Scalar::Null => return Ok(None),
        Scalar::Str(s) if blank(&s) => return Ok(None),
        Scalar::Str(s) => s,
        Scalar::I64(v) => v.to_string(),
        Scalar::U64(v) => v.to_string(),
        _ => return Err(de::Error::custom("expected a billing cycle")),
    };
    text.parse()
        .map(Some)
        .map_err(|_| de::Error::custom(format!("expected YYYY-MM or YYYYMM, got {text:?}")))
}

/// A list that may be null or absent: both mean empty.
pub fn vec_or_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

use serde::Deserialize;
