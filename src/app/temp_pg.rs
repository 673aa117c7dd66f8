//! A throwaway PostgreSQL cluster for the demo, from the machine's server binaries.
//!
//! Not the `pgtemp` crate: it needs `sudo` when run as root (Debian images have none) and panics when a step
//! fails, while the demo must explain what to install instead.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct TempCluster {
    child: Child,
    dir: tempfile::TempDir,
    pub url: String,
}

impl TempCluster {
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        // SIGTERM would be gentler, but the data is thrown away with the folder anyway.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `initdb` and `postgres` live: PATH first, then Debian's /usr/lib/postgresql/*/bin (newest first).
pub fn find_server_binaries() -> Option<PathBuf> {
    if let Some(dir) = which("initdb").and_then(|p| p.parent().map(Path::to_path_buf)) {
        if dir.join("postgres").exists() {
            return Some(dir);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root: run its binaries as the `postgres` user then.
fn server_command(bin: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

/// What a cluster is started with beyond the defaults: server settings (`-c name=value`) and files written
/// into its data folder before it starts (certificates and keys, readable by the server only).
#[derive(Default)]
pub struct ClusterOptions {
    pub settings: Vec<(String, String)>,
    pub files: Vec<(String, Vec<u8>)>,
}

/// Starts a cluster in a temporary folder on a free port; it is stopped and deleted when dropped.
pub async fn start() -> Result<TempCluster, String> {
    start_with(ClusterOptions::default()).await
}

/// `start`, with extra settings and files (the TLS tests start a cluster with `ssl = on` this way).
pub async fn start_with(options: ClusterOptions) -> Result<TempCluster, String> {
    let bin = find_server_binaries()
        .ok_or("no PostgreSQL server binaries (initdb, postgres) found; install them (Debian: apt-get install postgresql) or set DATABASE_URL")?;
    let as_postgres = is_root();
    let dir = tempfile::Builder::new()
        .prefix("gsl-sync-demo-pg-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?;
    if as_postgres {
        let status = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            return Err(
                "running as root, but could not hand the temporary folder to the postgres user"
                    .into(),
            );
        }
    }
    let data = dir.path().join("data");
    let out = server_command(&bin.join("initdb"), as_postgres)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    write_files(&data, &options.files, as_postgres)?;
    let port = free_port()?;
    let mut server = server_command(&bin.join("postgres"), as_postgres);
    server.arg("-D").arg(&data).args([
        "-p",
        &port.to_string(),
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
    ]);
    for (name, value) in &options.settings {
        server.arg("-c").arg(format!("{name}={value}"));
    }
    let child = server
        .arg("-k")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("postgres: {e}"))?;
    let cluster = TempCluster {
        child,
        dir,
        url: format!("postgres://postgres@127.0.0.1:{port}/gsl_sync_demo"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            // Accepting connections comes a moment after the port opens; the store's connect retries cover it.
            tokio::time::sleep(Duration::from_millis(300)).await;
            return Ok(cluster);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the temporary PostgreSQL did not start within 10 s".into())
}

fn write_files(data: &Path, files: &[(String, Vec<u8>)], as_postgres: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    for (name, contents) in files {
        let path = data.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("{name}: {e}"))?;
        // The server refuses a key file that others can read.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{name}: {e}"))?;
        if as_postgres {
            let _ = Command::new("chown").arg("postgres").arg(&path).status();
        }
    }
    Ok(())
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[tokio::test]
    async fn a_throwaway_cluster_starts_answers_and_goes_away() {
        let cluster = start()
            .await
            .expect("server binaries are on this machine (Debian postgresql)");
        let admin = cluster.url.replace("/gsl_sync_demo", "/postgres");
        let mut conn = None;
        for _ in 0..50 {
            if let Ok(c) = sqlx::PgConnection::connect(&admin).await {
                conn = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut conn = conn.expect("the cluster accepts connections");
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        drop(conn);
        let dir = cluster.data_dir().to_path_buf();
        drop(cluster);
        assert!(!dir.exists(), "the folder is removed with the cluster");
    }
}
