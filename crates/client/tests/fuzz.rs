//! Fuzz targets as property tests (cargo fuzz needs nightly): every GSL decoder, the error-body parser,
//! the pager's page arithmetic and the plausibility checks take arbitrary input without panicking.
//! `PROPTEST_CASES=100000 cargo test -p gsl-client --test fuzz` for a long run.

use std::time::Duration;

use gsl_client::plausible::Vet;
use gsl_client::{decode, error::parse_error_body, short_page, CallObserver, GslError, Operation};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value, nested a few levels, with the scalars GSL gets wrong: numbers as strings, nulls,
/// huge, negative and fractional numbers, dates in odd shapes.
fn json_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        "[0-9]{4}-?[0-9]{2}-?[0-9]{2}".prop_map(Value::from),
        "-?[0-9]{1,25}(\\.[0-9]{0,5})?".prop_map(Value::from),
    ];
    scalar.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            proptest::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly the names GSL uses, so objects get deep into the decoders.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "count",
            "limit",
            "offset",
            "sim_cards",
            "sim_card_id",
            "iccid",
            "flow_used",
            "flow_left",
            "flow_total",
            "act_date",
            "expire_time",
            "sim_status",
            "operator_status",
            "date",
            "sim_flow",
            "flow",
            "sim_flows",
            "data",
            "month_usages",
            "flow_usages",
            "billing_cycle",
            "pools",
            "back_pools",
            "id",
            "pool_members",
            "members",
            "cid",
            "error_code",
            "error_msg",
            "request_id",
            "real_named",
            "tag_names",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ]
}

/// A page-shaped object: a list of card-ish objects under a list key, with a count.
fn page_shaped() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(vec![
            "sim_cards",
            "pools",
            "back_pools",
            "pool_members",
            "sim_flows",
        ]),
        proptest::collection::vec(json_value(), 0..5),
        json_value(),
    )
        .prop_map(|(key, items, count)| json!({ "count": count, key: items }))
}

fn only_decode_errors(body: &[u8]) -> Result<(), TestCaseError> {
    for r in decode::all(body) {
        if let Err(e) = r {
            prop_assert!(matches!(e, GslError::Decode { .. }), "{e:?}");
        }
    }
    let _ = parse_error_body(body);
    Ok(())
}

struct Quiet;

impl CallObserver for Quiet {
    fn call_finished(&self, _: &str, _: Operation, _: &str, _: Duration) {}
    fn call_retried(&self, _: &str, _: Operation, _: &str) {}
}

proptest! {
    #[test]
    fn fuzz_decoders_take_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        only_decode_errors(&bytes)?;
    }

    #[test]
    fn fuzz_decoders_take_arbitrary_json(v in json_value()) {
        only_decode_errors(v.to_string().as_bytes())?;
    }

    #[test]
    fn fuzz_decoders_take_page_shaped_json(v in page_shaped(), cut in any::<prop::sample::Index>()) {
        let body = v.to_string();
        only_decode_errors(body.as_bytes())?;
        let cut = cut.index(body.len() + 1);
        only_decode_errors(&body.as_bytes()[..cut])?;
    }

    #[test]
    fn fuzz_decoded_values_pass_the_plausibility_checks(v in page_shaped()) {
        let body = v.to_string();
        let vet = |operation| Vet { observer: &Quiet, account: "a", operation };
        if let Ok(mut p) = decode::sim_card_page(body.as_bytes()) {
            vet(Operation::ListSimCards).cards(&mut p.sim_cards);
            for c in &p.sim_cards {
                prop_assert!(c.flow_used.is_none_or(|f| f.is_finite() && f >= 0.0));
            }
        }
        if let Ok(mut days) = decode::daily_flow(body.as_bytes()) {
            vet(Operation::DailyFlow).daily_flow(&mut days);
            prop_assert!(days.iter().flat_map(|d| &d.flows).all(|f| f.flow_mb >= 0.0));
        }
        if let Ok(mut p) = decode::sim_pools(body.as_bytes()) {
            vet(Operation::ListSimPools).pools(&mut p.pools);
        }
        if let Ok(mut p) = decode::pool_members(body.as_bytes()) {
            vet(Operation::ListSimPoolMembers).members(&mut p.pool_members);
        }
    }

    #[test]
    fn fuzz_page_arithmetic_never_overflows(
        page in any::<u64>(), limit in any::<u64>(), count in any::<Option<i64>>(), got in any::<usize>()
    ) {
        if let Some(s) = short_page("cards", page, limit, count, got) {
            prop_assert!(s.got < s.expected);
            prop_assert!(s.expected <= limit);
        }
    }
}
