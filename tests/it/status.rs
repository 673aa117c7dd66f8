//! Integration tests: the status page, the card page and the search over real HTTP, hostile stored text
//! escaped, and headless-Chromium screenshots at desktop and phone widths.

use chrono::{Days, Utc};
use gsl_sync::http::status::{routes, StatusOptions};
use gsl_sync::store::Store;
use sqlx::PgPool;

const HOSTILE_TAG: &str = "<script>alert('tag')</script>";
const HOSTILE_PLAN: &str = "<img src=x onerror=alert(1)>";

async fn seed(pool: &PgPool) {
    let store = Store::from_pool(pool.clone());
    // The card page's default 90 days end yesterday in the sync zone (Asia/Shanghai), which is a day ahead
    // of UTC from 16:00 UTC on.
    let yesterday = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        - Days::new(1);
    store
        .ensure_partitions(yesterday - Days::new(100), yesterday)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO sim_cards (account, sim_card_id, iccid, msisdn, price_plan_name, tag_names, sim_status, \
         operator_status, flow_used_mb, flow_left_mb, sim_pool_id, data_date) VALUES \
         ('main', 1, '8986001', '1441001', '中国联通 月包 10GB', $1, 20, -1, 9500, 500, 7, $3), \
         ('main', 2, '8986002', '1441002', $2, 'fleet', 20, 1, 100, 900, NULL, $3), \
         ('main', 3, NULL, NULL, 'Plan B', '', 14, -1, 5, 95, NULL, $3)",
    )
    .bind(HOSTILE_TAG)
    .bind(HOSTILE_PLAN)
    .bind(yesterday)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO sim_daily_flow (account, sim_card_id, iccid, day, flow_mb) \
         SELECT 'main', 1, '8986001', d::date, 50 + (extract(day FROM d)::int % 7) * 20 \
         FROM generate_series($1::date - 89, $1::date, '1 day') d",
    )
    .bind(yesterday)
    .execute(pool)
    .await
    .unwrap();
    // Rows written around the daily-flow merge need the monthly rollup, as after an import.
    gsl_sync::store::reports::rebuild_flow_rollup(
        &store,
        yesterday - Days::new(100),
        yesterday + Days::new(1),
    )
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO alerts (account, kind, severity, sim_card_id, iccid, sim_pool_id, subject, value, threshold) \
         VALUES ('main', 'GslSimQuotaCritical', 'critical', 1, '8986001', NULL, 'sim:1', 0.95, 0.9), \
                ('main', 'GslSimSuspended', 'critical', 2, '8986002', NULL, 'sim:2', 1, NULL), \
                ('main', 'GslPoolQuotaWarning', 'warning', NULL, NULL, 7, 'pool:7', 0.85, 0.8)",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO sync_runs (account, job, started_at, finished_at, status, error) VALUES \
         ('main', 'inventory', now() - interval '10 min', now() - interval '9 min', 'succeeded', NULL), \
         ('main', 'daily_flow', now() - interval '5 min', now() - interval '4 min', 'failed', '<b>boom</b>')",
    )
    .execute(pool)
    .await
    .unwrap();
}

/// Serves the pages and the report API on a free port; returns the base URL.
pub(crate) async fn serve(pool: PgPool) -> String {
    let store = Store::from_pool(pool);
    let options = StatusOptions {
        schedules: vec![
            ("inventory".into(), "0 0 * * * *".into()),
            ("daily_flow".into(), "0 30 2 * * *".into()),
        ],
    };
    let app = routes(store.clone(), chrono_tz::Asia::Shanghai, options).merge(
        gsl_sync::http::api::routes(store, chrono_tz::Asia::Shanghai, 4),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn get(url: &str) -> (u16, String, String) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    let final_url = resp.url().path().to_owned();
    (status, final_url, resp.text().await.unwrap())
}

fn assert_escaped(html: &str) {
    assert!(!html.contains("<script"), "a script got through: {html}");
    assert!(!html.contains("<img"), "an element got through: {html}");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn the_status_page_shows_health_alerts_fleet_and_the_cards_to_watch(pool: PgPool) {
    seed(&pool).await;
    let base = serve(pool).await;
    let resp = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let html = resp.text().await.unwrap();
    for want in [
        "Sync health",
        "inventory",
        "daily_flow",
        "&lt;b&gt;boom&lt;/b&gt;",
        "GslSimQuotaCritical",
        "GslPoolQuotaWarning",
        "pool 7",
        "95.0 %",
        "20 in use / -1 normal",
        "20 in use / 1 stopped: flow exceeded",
        "14 deactivated / -1 normal",
        "Top consumers",
        "Nearest exhaustion",
        "href=\"/sims/8986001\"",
        "href=\"/search?q=3\"",
        "9.28 GB",
        "action=\"/search\"",
        "href=\"/metrics\"",
        "format=html",
        "Real-time figures of watched cards are estimates",
        "Watched cards (0)",
        "中国联通 月包 10GB",
    ] {
        assert!(html.contains(want), "missing {want:?} in {html}");
    }
    assert!(html.contains("&lt;img src=x"), "{html}");
    assert_escaped(&html);
    // Next runs come from the cron strings: the hourly inventory is under an hour away.
    assert!(html.contains("(in "), "{html}");
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn the_search_opens_the_card_page_and_an_unknown_card_is_a_404_page(pool: PgPool) {
    seed(&pool).await;
    let base = serve(pool).await;
    for q in ["8986001", "1441001", "1", "%208986001%20"] {
        let (status, path, html) = get(&format!("{base}/search?q={q}")).await;
        assert_eq!((status, path.as_str()), (200, "/sims/8986001"), "{q}");
        for want in [
            "Card 8986001",
            "<svg viewBox",
            "&lt;script&gt;alert(&#39;tag&#39;)&lt;/script&gt;",
            "GslSimQuotaCritical",
            "95.0 %",
            "real-time",
            "/api/v1/sims/8986001/daily?",
            "format=csv",
        ] {
            assert!(html.contains(want), "{q}: missing {want:?} in {html}");
        }
        assert_escaped(&html);
    }
    let (status, _, html) = get(&format!("{base}/sims/8986002")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{html}"
    );
    assert!(
        html.contains("No data yet"),
        "card 2 has no daily rows: {html}"
    );
    assert_escaped(&html);
    // A card without an ICCID has no /sims/ address: the search shows its page itself.
    let (status, path, html) = get(&format!("{base}/search?q=3")).await;
    assert_eq!((status, path.as_str()), (200, "/search"));
    assert!(
        html.contains("Card id 3") && html.contains("14 deactivated"),
        "{html}"
    );
    for url in [
        format!("{base}/sims/0000"),
        format!("{base}/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    ] {
        let (status, _, html) = get(&url).await;
        assert_eq!(status, 404, "{url}");
        assert!(
            html.contains("No such card") && html.contains("action=\"/search\""),
            "{html}"
        );
        assert_escaped(&html);
    }
    let (status, path, _) = get(&format!("{base}/search?q=")).await;
    assert_eq!((status, path.as_str()), (200, "/"));
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn the_card_history_route_honours_format_csv(pool: PgPool) {
    seed(&pool).await;
    let base = serve(pool).await;
    let resp = reqwest::get(format!("{base}/api/v1/sims/8986001/daily?format=csv"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = resp.text().await.unwrap();
    assert!(body.starts_with("\u{feff}day,flow_mb\r\n"), "{body}");
    assert_eq!(body.lines().count(), 91, "header and 90 days: {body}");
    let resp = reqwest::get(format!("{base}/api/v1/sims/8986001/daily?format=xml"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

struct Shot {
    name: &'static str,
    path: String,
}

/// Screenshots `url` at `width` in headless Chromium and checks the picture: it decodes, has the asked
/// size and enough drawn pixels not to be a blank or near-empty page. Keeps a copy under target/.
fn screenshot(url: &str, name: &str, width: u32) {
    let height = 2400;
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("out.png");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(url)
        .output()
        .expect("chromium missing: run scripts/install-test-deps.sh");
    assert!(
        png.exists(),
        "no screenshot of {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::copy(&png, keep.join(format!("{name}-{width}.png"))).unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (width, height), "{name}");
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    // The page background is #f5f7fa and panels are white: count what is neither, i.e. text and charts.
    let drawn = pixels
        .iter()
        .filter(|p| p[..3] != [255, 255, 255] && p[..3] != [0xf5, 0xf7, 0xfa])
        .count();
    assert!(
        colours.len() > 50,
        "{name} at {width}: {} colours",
        colours.len()
    );
    assert!(
        drawn * 100 > pixels.len(),
        "{name} at {width}: only {drawn} of {} pixels drawn",
        pixels.len()
    );
}

#[sqlx::test(migrator = "gsl_sync::store::MIGRATOR")]
async fn pages_render_in_chromium_at_desktop_and_phone_widths(pool: PgPool) {
    seed(&pool).await;
    let base = serve(pool).await;
    let month = (Utc::now().date_naive() - Days::new(1)).format("%Y-%m");
    let shots = [
        Shot {
            name: "status",
            path: "/".into(),
        },
        Shot {
            name: "card",
            path: "/sims/8986001".into(),
        },
        Shot {
            name: "report",
            path: format!("/api/v1/usage?month={month}&group_by=plan&format=html"),
        },
    ];
    for shot in &shots {
        let url = format!("{base}{}", shot.path);
        // Not an error page: the same address answers 200 with HTML before it is drawn.
        let (status, _, html) = get(&url).await;
        assert_eq!(status, 200, "{url}: {html}");
        assert!(html.starts_with("<!DOCTYPE html>"), "{url}");
        for width in [1400, 390] {
            let (url, name) = (url.clone(), shot.name);
            tokio::task::spawn_blocking(move || screenshot(&url, name, width))
                .await
                .unwrap();
        }
    }
}
