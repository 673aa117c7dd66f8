//! How the client reports each call, so metrics can count them without the client knowing about metrics.

use std::time::Duration;

/// The GSL operations the client performs, as bounded metric label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Login,
    ListSimCards,
    ShowSimCard,
    DailyFlow,
    MonthUsages,
    ListSimPools,
    ListSimPoolMembers,
    ListBackPools,
    ListBackPoolMembers,
    StopSimCard,
    ResetSimCard,
    CutNet,
    SpeedLimit,
    ExceedCutNet,
    ListWorkOrders,
    ListWorkOrderDetails,
    ListSimPricePlans,
}

impl Operation {
    pub const ALL: [Operation; 17] = [
        Operation::Login,
        Operation::ListSimCards,
        Operation::ShowSimCard,
        Operation::DailyFlow,
        Operation::MonthUsages,
        Operation::ListSimPools,
        Operation::ListSimPoolMembers,
        Operation::ListBackPools,
        Operation::ListBackPoolMembers,
        Operation::StopSimCard,
        Operation::ResetSimCard,
        Operation::CutNet,
        Operation::SpeedLimit,
        Operation::ExceedCutNet,
        Operation::ListWorkOrders,
        Operation::ListWorkOrderDetails,
        Operation::ListSimPricePlans,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Login => "login",
            Operation::ListSimCards => "list_sim_cards",
            Operation::ShowSimCard => "show_sim_card",
            Operation::DailyFlow => "daily_flow",
            Operation::MonthUsages => "month_usages",
            Operation::ListSimPools => "list_sim_pools",
            Operation::ListSimPoolMembers => "list_sim_pool_members",
            Operation::ListBackPools => "list_back_pools",
            Operation::ListBackPoolMembers => "list_back_pool_members",
            Operation::StopSimCard => "stop_sim_card",
            Operation::ResetSimCard => "reset_sim_card",
            Operation::CutNet => "cut_net",
            Operation::SpeedLimit => "speed_limit",
            Operation::ExceedCutNet => "exceed_cut_net",
            Operation::ListWorkOrders => "list_work_orders",
            Operation::ListWorkOrderDetails => "list_work_order_details",
            Operation::ListSimPricePlans => "list_sim_price_plans",
        }
    }
}

/// Receives one event per HTTP attempt and per retry decision.
pub trait CallObserver: Send + Sync + 'static {
    /// One attempt finished. `code` is the HTTP status on success ("200"), the GSL/APIGW error code when the
    /// body carried one ("GSL.00010003", "APIGW.0308"), the bare status otherwise ("502"), or "transport",
    /// "timeout", "decode" when no usable answer came.
    fn call_finished(&self, account: &str, operation: Operation, code: &str, elapsed: Duration);
    /// The client will try again; `reason` is "rate_limited", "server_error", "transport", "timeout",
    /// "undecodable" or "auth_expired".
    fn call_retried(&self, account: &str, operation: Operation, reason: &str);
    /// A decoded answer held a value that cannot be true (see `plausible`); `field` is its JSON name.
    fn implausible_value(&self, _account: &str, _operation: Operation, _field: &str) {}
}

/// Observes nothing: for tests and tools that do not export metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl CallObserver for NoopObserver {
    fn call_finished(&self, _: &str, _: Operation, _: &str, _: Duration) {}
    fn call_retried(&self, _: &str, _: Operation, _: &str) {}
}
