//! The GSL client: HTTP, auth, pacing, retries and typed models. It knows nothing of Postgres.

pub mod actions;
pub mod auth;
pub mod budget;
pub mod client;
mod de;
pub mod error;
pub mod models;
pub mod observe;
pub mod pager;
pub mod plausible;
pub mod realtime;
pub mod sign;
pub mod types;

pub use auth::Auth;
pub use budget::{Budget, Lane, Priority, Rates};
pub use client::{ClientSettings, GslClient, RETRY_REASONS};
pub use error::{ErrorBody, GslError};
pub use models::{
    BackPool, BackPoolPage, CardFlow, DailyFlowDay, FlowUsage, MonthUsage, OrderState, PoolMember,
    PoolMemberPage, PoolPage, SimCard, SimCardPage, SimPool, WorkOrder, WorkOrderDetail,
    WorkOrderDetailPage, WorkOrderPage,
};
pub use observe::{CallObserver, NoopObserver, Operation};
pub use pager::{short_page, CardPager, PagingDrift, ShortPage};
pub use realtime::{RealtimeUsage, SimPricePlan};
pub use types::{
    BadYearMonth, CardSelector, DailyFlowQuery, FlowPeriod, ListSimCardsQuery, PoolQuery,
    SimCardRef, WorkOrderId, YearMonth,
};

/// Decoders exposed for benchmarks and fuzzing: a raw body in, a typed value or `GslError::Decode` out.
pub mod decode {
    use super::error::{decode, decode_list};
    use super::{
        BackPoolPage, DailyFlowDay, GslError, MonthUsage, Operation, PoolMemberPage, PoolPage,
        SimCard, SimCardPage, SimPricePlan,
    };

    pub fn sim_card_page(body: &[u8]) -> Result<SimCardPage, GslError> {
        decode(Operation::ListSimCards, body)
    }
    pub fn daily_flow(body: &[u8]) -> Result<Vec<DailyFlowDay>, GslError> {
        decode_list(Operation::DailyFlow, body, &["sim_flows", "data"])
    }
    pub fn month_usages(body: &[u8]) -> Result<Vec<MonthUsage>, GslError> {
        decode_list(Operation::MonthUsages, body, &["month_usages"])
    }
    pub fn sim_card(body: &[u8]) -> Result<SimCard, GslError> {
        decode(Operation::ShowSimCard, body)
    }
    pub fn sim_pools(body: &[u8]) -> Result<PoolPage, GslError> {
        decode(Operation::ListSimPools, body)
    }
    pub fn back_pools(body: &[u8]) -> Result<BackPoolPage, GslError> {
        decode(Operation::ListBackPools, body)
    }
    pub fn pool_members(body: &[u8]) -> Result<PoolMemberPage, GslError> {
        decode(Operation::ListSimPoolMembers, body)
    }
    pub fn price_plans(body: &[u8]) -> Result<Vec<SimPricePlan>, GslError> {
        decode_list(
            Operation::ListSimPricePlans,
            body,
            &["sim_price_plans", "data"],
        )
    }
    /// Every decoder above, for fuzzing: each result's error, if any, must be `GslError::Decode`.
    pub fn all(body: &[u8]) -> Vec<Result<(), GslError>> {
        vec![
            sim_card_page(body).map(drop),
            daily_flow(body).map(drop),
            month_usages(body).map(drop),
            sim_card(body).map(drop),
            sim_pools(body).map(drop),
            back_pools(body).map(drop),
            pool_members(body).map(drop),
            price_plans(body).map(drop),
        ]
    }
}
