//! Request-side value types: billing months, card selectors, queries and their wire encodings.

use super::error::GslError;
use gsl_domain::SimCardId;
pub use gsl_domain::{BadYearMonth, FlowPeriod, YearMonth};

/// Cards for a batch call: by id or by ICCID, never both (the API refuses a mix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSelector {
    Ids(Vec<SimCardId>),
    Iccids(Vec<String>),
}

impl CardSelector {
    pub fn len(&self) -> usize {
        match self {
            Self::Ids(v) => v.len(),
            Self::Iccids(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub(crate) fn check(&self, max: usize, what: &str) -> Result<(), GslError> {
        match self.len() {
            0 => Err(GslError::InvalidRequest(format!("{what}: no cards given"))),
            n if n > max => Err(GslError::InvalidRequest(format!(
                "{what}: {n} cards given, at most {max} allowed"
            ))),
            _ => Ok(()),
        }
    }
    pub(crate) fn insert_into(&self, body: &mut serde_json::Map<String, serde_json::Value>) {
        match self {
            Self::Ids(v) => body.insert(
                "sim_card_ids".into(),
                v.iter().map(|id| id.get()).collect::<Vec<_>>().into(),
            ),
            Self::Iccids(v) => body.insert("iccids".into(), v.clone().into()),
        };
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyFlowQuery {
    pub cards: CardSelector,
    pub period: FlowPeriod,
}

/// One card for single-card calls; by ICCID means path id 0 plus `iccid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCardRef {
    Id(SimCardId),
    Iccid(String),
}

impl SimCardRef {
    pub(crate) fn path_id(&self) -> i64 {
        match self {
            Self::Id(id) => id.get(),
            Self::Iccid(_) => 0,
        }
    }
    pub(crate) fn iccid(&self) -> Option<&str> {
        match self {
            Self::Id(_) => None,
            Self::Iccid(s) => Some(s),
        }
    }
}

/// The asynchronous work order a stop or reset created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkOrderId(pub i64);

/// Query parameters of `GET /v1/sim-cards` (gsl-api.md §3.1); `None` and empty lists are not sent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListSimCardsQuery {
    pub main_search_type: Option<i32>,
    pub main_search_key: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub sim_status: Option<i32>,
    pub device_status: Option<i32>,
    pub tag_id: Vec<i64>,
    pub sim_type: Option<i32>,
    pub order: Option<String>,
    pub sort: Option<String>,
    pub msisdn: Option<String>,
    pub customer_attribute1: Option<String>,
    pub customer_attribute2: Option<String>,
    pub customer_attribute3: Option<String>,
    pub customer_attribute4: Option<String>,
    pub customer_attribute5: Option<String>,
    pub customer_attribute6: Option<String>,
    pub min_used_flow: Option<i64>,
    pub max_used_flow: Option<i64>,
    pub min_left_flow: Option<i64>,
    pub max_left_flow: Option<i64>,
    pub real_named: Option<bool>,
    pub order_id: Option<i64>,
    pub filter_downtime_period: Option<bool>,
    pub order_ids: Vec<i64>,
    pub price_plan_id: Vec<String>,
}

/// Collects `(key, value)` query pairs; order does not matter, the encoder sorts.
#[derive(Debug, Default)]
pub(crate) struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn opt<T: ToString>(&mut self, key: &str, v: &Option<T>) -> &mut Self {
        if let Some(v) = v {
            self.0.push((key.to_owned(), v.to_string()));
        }
        self
    }
    pub fn all<T: ToString>(&mut self, key: &str, vs: &[T]) -> &mut Self {
        for v in vs {
            self.0.push((key.to_owned(), v.to_string()));
        }
        self
    }
    pub fn one<T: ToString>(&mut self, key: &str, v: T) -> &mut Self {
        self.0.push((key.to_owned(), v.to_string()));
        self
    }
}

impl ListSimCardsQuery {
    pub(crate) fn check(&self) -> Result<(), GslError> {
        if let Some(l) = self.limit {
            if !(10..=500).contains(&l) {
                return Err(GslError::InvalidRequest(format!(
                    "limit {l} outside 10..=500"
                )));
            }
        }
        if self.offset == Some(0) {
            return Err(GslError::InvalidRequest(
                "offset is a page number from 1".into(),
            ));
        }
        if self.tag_id.len() > 10 || self.price_plan_id.len() > 30 {
            return Err(GslError::InvalidRequest(
                "at most 10 tag_id and 30 price_plan_id".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn pairs(&self) -> Pairs {
        let mut p = Pairs::default();
        p.opt("main_search_type", &self.main_search_type)
            .opt("main_search_key", &self.main_search_key)
            .opt("limit", &self.limit)
            .opt("offset", &self.offset)
            .opt("sim_status", &self.sim_status)
            .opt("device_status", &self.device_status)
            .all("tag_id", &self.tag_id)
            .opt("sim_type", &self.sim_type)
            .opt("order", &self.order)
            .opt("sort", &self.sort)
            .opt("msisdn", &self.msisdn)
            .opt("customer_attribute1", &self.customer_attribute1)
            .opt("customer_attribute2", &self.customer_attribute2)
            .opt("customer_attribute3", &self.customer_attribute3)
            .opt("customer_attribute4", &self.customer_attribute4)
            .opt("customer_attribute5", &self.customer_attribute5)
            .opt("customer_attribute6", &self.customer_attribute6)
            .opt("min_used_flow", &self.min_used_flow)
            .opt("max_used_flow", &self.max_used_flow)
            .opt("min_left_flow", &self.min_left_flow)
            .opt("max_left_flow", &self.max_left_flow)
            .opt("real_named", &self.real_named)
            .opt("order_id", &self.order_id)
            .opt("filter_downtime_period", &self.filter_downtime_period)
            .all("order_ids", &self.order_ids)
            .all("price_plan_id", &self.price_plan_id);
        p
    }
}

/// Query of `GET /v1/sim-pools` and `GET /v1/back-pools` (`status` applies to forward pools only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolQuery {
    pub pool_name: Option<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
    pub billing_cycle: Option<YearMonth>,
    pub all_billing_cycle: Option<bool>,
    pub status: Vec<i32>,
}

impl PoolQuery {
    pub(crate) fn pairs(&self, with_status: bool) -> Pairs {
        let mut p = Pairs::default();
        p.opt("pool_name", &self.pool_name)
            .opt("limit", &self.limit)
            .opt("offset", &self.offset)
            .opt("billing_cycle", &self.billing_cycle.map(YearMonth::dashed))
            .opt("all_billing_cycle", &self.all_billing_cycle);
        if with_status {
            p.all("status", &self.status);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_pairs_use_repeated_keys_and_lowercase_booleans() {
        let q = ListSimCardsQuery {
            limit: Some(500),
            offset: Some(1),
            tag_id: vec![3, 1],
            price_plan_id: vec!["b".into(), "a".into()],
            real_named: Some(true),
            filter_downtime_period: Some(false),
            ..Default::default()
        };
        let wire = crate::sign::canonical_query(&q.pairs().0);
        assert_eq!(
            wire,
            "filter_downtime_period=false&limit=500&offset=1&price_plan_id=a&price_plan_id=b&real_named=true&tag_id=1&tag_id=3"
        );
    }

    #[test]
    fn client_side_checks() {
        let bad = [
            ListSimCardsQuery {
                limit: Some(5),
                ..Default::default()
            },
            ListSimCardsQuery {
                limit: Some(501),
                ..Default::default()
            },
            ListSimCardsQuery {
                offset: Some(0),
                ..Default::default()
            },
        ];
        for q in bad {
            assert!(
                matches!(q.check(), Err(GslError::InvalidRequest(_))),
                "{q:?}"
            );
        }
        assert!(CardSelector::Ids((0..101).map(SimCardId::from).collect())
            .check(100, "x")
            .is_err());
        assert!(CardSelector::Ids(vec![]).check(100, "x").is_err());
        assert!(CardSelector::Iccids(vec!["a".into()])
            .check(100, "x")
            .is_ok());
    }
}
