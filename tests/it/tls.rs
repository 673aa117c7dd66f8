//! Postgres over TLS: a real cluster started with `ssl = on` and a certificate made for it by `openssl`,
//! reached through `database.url` with each `sslmode`.

use std::path::Path;
use std::process::Command;

use gsl_sync::app::temp_pg::{self, ClusterOptions, TempCluster};
use gsl_sync::store::Store;
use secrecy::SecretString;

/// A CA, and a server certificate it signed for `localhost` only (not 127.0.0.1), so that verify-full
/// through the IP address must fail while verify-ca passes.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=gsl-sync test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=another CA",
                "-keyout",
                "other.key",
                "-out",
                "other.crt",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
            ],
        );
        std::fs::write(d.join("ext.cnf"), "subjectAltName=DNS:localhost\n").unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-out",
                "server.crt",
            ],
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl unavailable ({e}): run scripts/install-test-deps.sh"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn tls_cluster(pki: &Pki) -> TempCluster {
    temp_pg::start_with(ClusterOptions {
        settings: vec![
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), "server.crt".into()),
            ("ssl_key_file".into(), "server.key".into()),
        ],
        files: vec![
            ("server.crt".into(), pki.read("server.crt")),
            ("server.key".into(), pki.read("server.key")),
        ],
    })
    .await
    .expect("a TLS cluster starts from the local server binaries")
}

fn port_of(cluster: &TempCluster) -> u16 {
    url::Url::parse(&cluster.url).unwrap().port().unwrap()
}

async fn connect(url: String) -> Result<Store, String> {
    // A just-started cluster may refuse a first connection: retry only that, never a TLS refusal.
    let mut last = String::new();
    for _ in 0..40 {
        match Store::connect(&SecretString::from(url.clone()), 2).await {
            Ok(store) => return Ok(store),
            Err(e) if e.to_string().contains("Connection refused") => last = e.to_string(),
            Err(e) => return Err(e.to_string()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Err(last)
}

async fn uses_tls(store: &Store) -> bool {
    sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn every_sslmode_works_and_untrusted_servers_are_refused_in_one_line() {
    let pki = Pki::new();
    let cluster = tls_cluster(&pki).await;
    let port = port_of(&cluster);
    let url =
        |host: &str, query: &str| format!("postgres://postgres@{host}:{port}/gsl_tls?{query}");

    let store = connect(url("127.0.0.1", "sslmode=require")).await.unwrap();
    assert!(uses_tls(&store).await, "sslmode=require must encrypt");
    store.migrate().await.expect("migrations run over TLS");

    let ca = pki.path("ca.crt");
    let store = connect(url(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    assert!(uses_tls(&store).await);
    let store = connect(url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .unwrap();
    assert!(uses_tls(&store).await);

    let other = pki.path("other.crt");
    let wrong_ca = connect(url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    ))
    .await
    .expect_err("a certificate from another CA is refused");
    assert_one_line_naming(
        &wrong_ca,
        &format!("localhost:{port}"),
        "not signed by a trusted CA",
    );

    let wrong_host = connect(url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .expect_err("a certificate for another host name is refused");
    assert_one_line_naming(
        &wrong_host,
        &format!("127.0.0.1:{port}"),
        "not valid for the host name 127.0.0.1",
    );
}

#[tokio::test]
async fn sslmode_require_is_refused_by_a_server_without_tls() {
    let cluster = temp_pg::start().await.expect("a cluster starts");
    let port = port_of(&cluster);
    let err = connect(format!(
        "postgres://postgres@127.0.0.1:{port}/gsl_tls?sslmode=require"
    ))
    .await
    .expect_err("no TLS, no connection");
    assert_one_line_naming(&err, &format!("127.0.0.1:{port}"), "does not offer TLS");
}

#[tokio::test]
async fn a_dead_server_is_named_with_its_host_port_and_reason() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Store::connect(
        &SecretString::from(format!("postgres://postgres:hunter2@127.0.0.1:{port}/x")),
        2,
    )
    .await
    .expect_err("nothing listens there")
    .to_string();
    assert_one_line_naming(&err, &format!("127.0.0.1:{port}"), "Connection refused");
    assert!(!err.contains("hunter2"), "{err}");
}

fn assert_one_line_naming(err: &str, target: &str, reason: &str) {
    assert!(!err.contains('\n'), "more than one line: {err}");
    assert!(err.contains(target), "does not name {target}: {err}");
    assert!(err.contains(reason), "does not say {reason:?}: {err}");
}
