//! Integration tests: usage reports over rows inserted by SQL, their formats, the HTML screenshot and the API.

use gsl_sync::domain::{GroupBy, OutputFormat, SimCardId};
use gsl_sync::report::ReportRequest as ReportCommand;
use gsl_sync::report::{run_report, usage_report};
use gsl_sync::store::Store;
use sqlx::PgPool;

/// id, iccid, pool, plan, tags, status.
type CardRow = (
    i64,
    &'static str,
    Option<i64>,
    &'static str,
    &'static str,
    i32,
);

pub(crate) async fn seed(pool: &PgPool) {
    for (name, from, to) in [
        ("2026_10", "2026-10-01", "2026-11-01"),
        ("2026_11", "2026-11-01", "2026-12-01"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS sim_daily_flow_p{name} PARTITION OF sim_daily_flow FOR VALUES FROM ('{from}') TO ('{to}')"
        )))
        .execute(pool)
        .await
        .unwrap();
    }
    let cards: [CardRow; 4] = [
        (
            1,
            "8986001",
            Some(7),
            "中国联通 月包, 1GB",
            "fleet, north",
            20,
        ),
        (2, "8986002", Some(7), "中国联通 月包, 1GB", "fleet", 20),
        (3, "8986003", None, "Plan \"B\"", "", 20),
        (4, "8986004", None, "Plan \"B\"", "south", 20),
    ];
    for (id, iccid, pool_id, plan, tags, status) in cards {
        sqlx::query(
            "INSERT INTO sim_cards (account, sim_card_id, iccid, sim_pool_id, price_plan_name, tag_names, sim_status, \
             operator_status, flow_used_mb, flow_left_mb) VALUES ('main', $1, $2, $3, $4, $5, $6, -1, 10, 90)",
        )
        .bind(id).bind(iccid).bind(pool_id).bind(plan).bind(tags).bind(status)
        .execute(pool).await.unwrap();
    }
    // Card 1: 10 MB/day in November (300), 5 MB/day in October (155). Card 2: 3 MB on 2 days. Card 3: zeros.
    sqlx::query(
        "INSERT INTO sim_daily_flow (account, sim_card_id, iccid, day, flow_mb) \
         SELECT 'main', 1, '8986001', d, 10 FROM generate_series('2026-11-01'::date, '2026-11-30', '1 day') d \
         UNION ALL SELECT 'main', 1, '8986001', d, 5 FROM generate_series('2026-10-01'::date, '2026-10-31', '1 day') d \
         UNION ALL SELECT 'main', 2, '8986002', d, 1.5 FROM generate_series('2026-11-10'::date, '2026-11-11', '1 day') d \
         UNION ALL SELECT 'main', 3, '8986003', '2026-11-05', 0",
    )
    .execute(pool).await.unwrap();
    // Month-usages: card 1 billed on a Unicom-like cycle (differs), card 2 matches.
    sqlx::query(
        "INSERT INTO sim_monthly_usage (account, sim_card_id, iccid, billing_cycle, flow_used_mb) VALUES \
         ('main', 1, '8986001', '2026-11-01', 280), ('main', 2, '8986002', '2026-11-01', 3)",
    )
    .execute(pool).await.unwrap();
    // Rows written around the merges need the rollups rebuilt, as after an import.
    let store = Store::from_pool(pool.clone());
    let written = gsl_sync::store::reports::rebuild_flow_rollup(
        &store,
        "2026-10-01".parse().unwrap(),
        "2026-12-01".parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        written, 4,
        "card 1 in two months, cards 2 and 3 in November"
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn groups_sum_daily_and_monthly_side_by_side(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let r = usage_report(&store, "2026-11".parse().unwrap(), GroupBy::Sim, None)
        .await
        .unwrap();
    assert_eq!(r.total_daily_sum_mb, 303.0);
    assert_eq!(r.total_month_usages_mb, 283.0);
    let g1 = &r.groups[0];
    assert_eq!(
        (g1.group.as_str(), g1.daily_sum_mb, g1.month_usages_mb),
        ("8986001", 300.0, Some(280.0))
    );
    assert!(g1.differs, "Unicom-like mismatch is flagged");
    assert_eq!(g1.prev_daily_sum_mb, 155.0);
    assert!((g1.mom_change_pct.unwrap() - (300.0 - 155.0) / 155.0 * 100.0).abs() < 1e-9);
    assert!((g1.share_pct - 300.0 / 303.0 * 100.0).abs() < 1e-9);
    assert_eq!(g1.daily_sum_bytes, 300 * 1_048_576);
    let g2 = r.groups.iter().find(|g| g.group == "8986002").unwrap();
    assert!(!g2.differs);
    assert_eq!(g2.mom_change_pct, None);
    // Cards 3 (zero rows only) and 4 (no rows) are active without usage.
    assert_eq!(r.no_usage_cards, 2);
    assert_eq!(r.no_usage_sample, vec!["8986003", "8986004"]);
    assert_eq!(r.days.len(), 30);
    assert_eq!(r.statuses[0].cards, 4);
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn grouping_by_pool_plan_tag_account_and_top(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let cases: [(GroupBy, &[(&str, f64)]); 4] = [
        (GroupBy::Pool, &[("7", 303.0), ("(no pool)", 0.0)]),
        (
            GroupBy::Plan,
            &[("中国联通 月包, 1GB", 303.0), ("Plan \"B\"", 0.0)],
        ),
        (
            GroupBy::Tag,
            &[("fleet", 303.0), ("north", 300.0), ("(untagged)", 0.0)],
        ),
        (GroupBy::Account, &[("main", 303.0)]),
    ];
    for (by, want) in cases {
        let r = usage_report(&store, "2026-11".parse().unwrap(), by, None)
            .await
            .unwrap();
        let got: Vec<(&str, f64)> = r
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.daily_sum_mb))
            .collect();
        assert_eq!(got, want, "{by:?}");
    }
    let tag = usage_report(&store, "2026-11".parse().unwrap(), GroupBy::Tag, None)
        .await
        .unwrap();
    assert!(tag.note.unwrap().contains("several tags"));
    assert_eq!(
        tag.total_daily_sum_mb, 303.0,
        "multi-tag cards are not double counted in the total"
    );
    let top = usage_report(&store, "2026-11".parse().unwrap(), GroupBy::Sim, Some(1))
        .await
        .unwrap();
    assert_eq!((top.groups.len(), top.groups_total), (1, 3));
    assert_eq!(top.groups[0].group, "8986001");
}

async fn render(store: &Store, cmd: ReportCommand) -> String {
    let mut out = Vec::new();
    run_report(store, &cmd, chrono_tz::Asia::Shanghai, &mut out)
        .await
        .unwrap();
    String::from_utf8(out).unwrap()
}

fn usage_cmd(by: GroupBy, format: OutputFormat) -> ReportCommand {
    ReportCommand::Usage {
        month: "2026-11".parse().unwrap(),
        group_by: by,
        format,
        top: None,
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn csv_has_bom_header_quoting_and_chinese(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let csv = render(&store, usage_cmd(GroupBy::Plan, OutputFormat::Csv)).await;
    assert!(
        csv.starts_with("\u{feff}group,cards,daily_sum_mb,month_usages_mb"),
        "{csv}"
    );
    assert!(csv.contains("\"中国联通 月包, 1GB\",2,303.00"), "{csv}");
    assert!(csv.contains("\"Plan \"\"B\"\"\",1,0.00"), "{csv}");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn json_and_table_shapes(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let json: serde_json::Value =
        serde_json::from_str(&render(&store, usage_cmd(GroupBy::Sim, OutputFormat::Json)).await)
            .unwrap();
    assert_eq!(json["groups"][0]["daily_sum_mb"], serde_json::json!(300.0));
    assert_eq!(
        json["groups"][0]["daily_sum_bytes"],
        serde_json::json!(314_572_800u64)
    );
    assert_eq!(json["groups"][0]["differs"], serde_json::json!(true));
    assert_eq!(json["no_usage_cards"], serde_json::json!(2));
    let table = render(&store, usage_cmd(GroupBy::Plan, OutputFormat::Table)).await;
    assert!(table.contains("中国联通 月包, 1GB"), "{table}");
    assert!(
        table.contains("Active cards with no usage in 2026-11: 2"),
        "{table}"
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn sim_history_by_iccid_and_id(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let cmd = ReportCommand::Sim {
        iccid: Some("8986001".into()),
        sim_card_id: None,
        from: chrono::NaiveDate::from_ymd_opt(2026, 10, 30),
        to: chrono::NaiveDate::from_ymd_opt(2026, 11, 2),
        format: OutputFormat::Json,
    };
    let json: serde_json::Value = serde_json::from_str(&render(&store, cmd).await).unwrap();
    assert_eq!(json["days"].as_array().unwrap().len(), 4);
    assert_eq!(json["total_mb"], serde_json::json!(30.0));
    assert_eq!(json["card"]["flow_left_mb"], serde_json::json!(90.0));
    let by_id = ReportCommand::Sim {
        iccid: None,
        sim_card_id: Some(SimCardId::from(2)),
        from: chrono::NaiveDate::from_ymd_opt(2026, 11, 1),
        to: chrono::NaiveDate::from_ymd_opt(2026, 11, 30),
        format: OutputFormat::Table,
    };
    let t = render(&store, by_id).await;
    assert!(
        t.contains("Card 8986002") && t.contains("2026-11-10"),
        "{t}"
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn html_is_self_contained_and_renders_in_chromium(pool: PgPool) {
    seed(&pool).await;
    let store = Store::from_pool(pool);
    let html = render(&store, usage_cmd(GroupBy::Plan, OutputFormat::Html)).await;
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    assert!(html.contains("<svg") && html.contains("中国联通"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("usage.html");
    std::fs::write(&file, &html).unwrap();
    let png = dir.path().join("out.png");
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,2000")
        .arg(format!("file://{}", file.display()))
        .output();
    let status = status.expect("chromium missing: run scripts/install-test-deps.sh");
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    if let Ok(keep) = std::env::var("GSL_REPORT_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let px = info.color_type.samples();
    let colours: std::collections::HashSet<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    assert!(
        colours.len() > 50,
        "screenshot looks blank: {} colours",
        colours.len()
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn http_api_answers_200_400_404(pool: PgPool) {
    seed(&pool).await;
    let app = gsl_sync::http::api::routes(Store::from_pool(pool), chrono_tz::Asia::Shanghai, 4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    for (path, status) in [
        (
            "/api/v1/usage?month=2026-11&group_by=plan&format=json&top=1",
            200,
        ),
        ("/api/v1/usage?month=2026-11&format=csv", 200),
        ("/api/v1/usage?month=2026-13", 400),
        ("/api/v1/usage?month=2026-11&group_by=colour", 400),
        ("/api/v1/usage?month=2026-11&top=-1", 400),
        ("/api/v1/usage", 400),
        (
            "/api/v1/sims/8986001/daily?from=2026-11-01&to=2026-11-30",
            200,
        ),
        ("/api/v1/sims/8986001/daily?from=yesterday", 400),
        ("/api/v1/sims/0000/daily", 404),
    ] {
        let resp = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        let body = resp.text().await.unwrap();
        if status != 200 {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(v["error"].is_string(), "{path}: {body}");
        } else if path.contains("csv") {
            assert!(body.starts_with('\u{feff}'));
        } else if path.contains("sims") {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["days"].as_array().unwrap().len(), 30);
        }
    }
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn json_has_no_float_noise_and_no_negative_zero(pool: PgPool) {
    seed(&pool).await;
    sqlx::query(
        "INSERT INTO sim_daily_flow (account, sim_card_id, iccid, day, flow_mb) VALUES \
         ('main', 4, '8986004', '2026-11-20', 0.1), ('main', 4, '8986004', '2026-11-21', 0.2)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let store = Store::from_pool(pool);
    gsl_sync::store::reports::rebuild_flow_rollup(
        &store,
        "2026-11-01".parse().unwrap(),
        "2026-12-01".parse().unwrap(),
    )
    .await
    .unwrap();
    let json = render(&store, usage_cmd(GroupBy::Sim, OutputFormat::Json)).await;
    assert!(json.contains("\"daily_sum_mb\": 0.3,"), "{json}");
    assert!(!json.contains("0.30000000000000004"), "{json}");
    let future = ReportCommand::Usage {
        month: "2027-05".parse().unwrap(),
        group_by: GroupBy::Plan,
        format: OutputFormat::Json,
        top: None,
    };
    let json = render(&store, future).await;
    assert!(!json.contains(": -0"), "{json}");
    let table = render(&store, usage_cmd(GroupBy::Plan, OutputFormat::Table)).await;
    assert!(table.contains("303.30 MB by daily sums"), "{table}");
}
