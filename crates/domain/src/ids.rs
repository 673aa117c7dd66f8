//! `SimCardId` and `PoolId`: GSL's numeric identities as types of their own, so a card id cannot be passed
//! where a pool id is meant (or a count, an order id, a run id).
//!
//! Both are a bare `i64` everywhere a value leaves the program: JSON (`serde(transparent)`), text
//! (`Display` is the number, `FromStr` parses it) and, with the `sqlx` feature, a Postgres `bigint`
//! (`sqlx(transparent)`; only `gsl-store` and the crates that bind ids themselves turn the feature on).

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A text that is not an id: what was expected, what came, and why `i64` refused it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a {what}: {input:?} ({reason})")]
pub struct BadId {
    what: &'static str,
    input: String,
    reason: ParseIntError,
}

macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[repr(transparent)]
        pub struct $name(i64);

        impl $name {
            /// For constants; elsewhere `From<i64>` says the same.
            pub const fn new(id: i64) -> Self {
                Self(id)
            }

            /// The bare number, for arithmetic and for places that speak only `i64`.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        /// The bare number, as GSL writes it in paths and queries and as metrics label it.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        /// The bare number, as `i64` parses it (`--sim-card-id 5702790861709056`).
        impl FromStr for $name {
            type Err = BadId;

            fn from_str(s: &str) -> Result<Self, BadId> {
                s.parse::<i64>().map(Self).map_err(|reason| BadId {
                    what: $what,
                    input: s.to_owned(),
                    reason,
                })
            }
        }
    };
}

id_newtype!(
    /// A SIM card's identity at GSL (`sim_card_id`, e.g. `5702790861709056`), unique across an account.
    ///
    /// Where a card id is expected, a pool id (or any other number) does not compile:
    ///
    /// ```compile_fail,E0308
    /// use gsl_domain::{PoolId, SimCardId};
    /// fn stop(card: SimCardId) -> SimCardId { card }
    /// stop(PoolId::from(7));
    /// ```
    ///
    /// ```compile_fail,E0308
    /// use gsl_domain::SimCardId;
    /// fn stop(card: SimCardId) -> SimCardId { card }
    /// stop(7_i64);
    /// ```
    ///
    /// ```
    /// use gsl_domain::SimCardId;
    /// let card = SimCardId::from(5702790861709056);
    /// assert_eq!(card.to_string(), "5702790861709056");
    /// assert_eq!("5702790861709056".parse::<SimCardId>(), Ok(card));
    /// ```
    SimCardId,
    "SIM card id"
);

id_newtype!(
    /// A flow pool's identity at GSL: a forward pool's `id` in `/v1/sim-pools` (and a card's
    /// `sim_pool_id`) or a backward pool's `id` in `/v1/back-pools`.
    ///
    /// One type serves both kinds: GSL numbers them alike, the store keeps both in the one column
    /// `sim_pools.sim_pool_id` (with `kind` beside it; ids are unique per kind), and the jobs, policies and
    /// reports handle either the same way. Which kind a pool is travels beside the id (`kind`, `backward`),
    /// as it does in the tables; a pool is named by the pair, never by the id alone. Two types would force
    /// a choice where the data has none: a card's `sim_pool_id` does not say which kind its pool is.
    ///
    /// A card id does not compile where a pool id is expected:
    ///
    /// ```compile_fail,E0308
    /// use gsl_domain::{PoolId, SimCardId};
    /// fn members(pool: PoolId) -> PoolId { pool }
    /// members(SimCardId::from(5702790861709056));
    /// ```
    PoolId,
    "pool id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_the_bare_number() {
        assert_eq!(serde_json::to_string(&SimCardId::from(7)).unwrap(), "7");
        assert_eq!(serde_json::to_string(&PoolId::from(-3)).unwrap(), "-3");
        let card: SimCardId = serde_json::from_str("5702790861709056").unwrap();
        assert_eq!(card.get(), 5702790861709056);
        let pools: Vec<PoolId> = serde_json::from_str("[1,2]").unwrap();
        assert_eq!(pools, [PoolId::from(1), PoolId::from(2)]);
        let back: SimCardId =
            serde_json::from_str(&serde_json::to_string(&SimCardId::from(i64::MAX)).unwrap())
                .unwrap();
        assert_eq!(back, SimCardId::from(i64::MAX));
        assert!(serde_json::from_str::<SimCardId>(r#""7""#).is_err());
    }

    #[test]
    fn display_is_the_number() {
        assert_eq!(
            SimCardId::from(5702790861709056).to_string(),
            "5702790861709056"
        );
        assert_eq!(PoolId::from(42).to_string(), "42");
        assert_eq!(format!("sim:{}", SimCardId::from(9)), "sim:9");
        assert_eq!(format!("{:>4}", PoolId::from(5)), "   5");
    }

    #[test]
    fn from_str_takes_numbers_and_rejects_junk() {
        assert_eq!("123".parse::<SimCardId>(), Ok(SimCardId::from(123)));
        assert_eq!("-1".parse::<PoolId>(), Ok(PoolId::from(-1)));
        for junk in ["", "x1", "1.5", " 1", "99999999999999999999", "1e3"] {
            let err = junk.parse::<SimCardId>().unwrap_err();
            let why = junk.parse::<i64>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("not a SIM card id: {junk:?} ({why})")
            );
        }
        assert_eq!(
            "x1".parse::<SimCardId>().unwrap_err().to_string(),
            r#"not a SIM card id: "x1" (invalid digit found in string)"#
        );
        assert!("pool"
            .parse::<PoolId>()
            .unwrap_err()
            .to_string()
            .contains("pool id"));
    }

    #[test]
    fn ids_convert_both_ways_and_order_like_their_numbers() {
        let id = SimCardId::from(11);
        assert_eq!(i64::from(id), 11);
        assert_eq!(id.get(), 11);
        assert!(SimCardId::from(2) < SimCardId::from(10));
        let mut pools = [PoolId::from(3), PoolId::from(1)];
        pools.sort();
        assert_eq!(pools, [PoolId::from(1), PoolId::from(3)]);
    }
}
