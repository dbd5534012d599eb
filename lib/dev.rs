//! The embedded default for development and tests: find a Postgres with no
//! set-up. `DATABASE_URL` if set; else a server on localhost:5432 if one
//! answers; else a project-local cluster under `.kasirgo/`, initialised and
//! started from the installed PostgreSQL binaries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};
use url::Url;

/// Where a server on this machine is probed first.
pub const DEFAULT_PROBE_URL: &str = "postgres://postgres@localhost:5432/postgres";

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(
        "No PostgreSQL found: install it (Debian/Ubuntu: `apt-get install postgresql`, macOS: `brew install postgresql`) or set DATABASE_URL to a postgres:// URL."
    )]
    NoPostgres,
    #[error("{0}")]
    Cluster(String),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A Postgres server to work on, and the cluster this process started, if
/// it started one (so it can stop it again).
pub struct LocalServer {
    /// A URL to a maintenance database on the server, for CREATE DATABASE.
    pub admin_url: String,
    pub cluster: Option<Cluster>,
}

/// The project directory for local state (`KASIRGO_HOME`, default `.kasirgo`).
pub fn home() -> PathBuf {
    std::env::var_os("KASIRGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".kasirgo"))
}

/// Finds (or starts) a server. `DATABASE_URL` wins when set.
pub async fn locate() -> Result<LocalServer, DevError> {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        return Ok(LocalServer {
            admin_url: url,
            cluster: None,
        });
    }
    let probe = std::env::var("KASIRGO_PG_PROBE").unwrap_or_else(|_| DEFAULT_PROBE_URL.into());
    if answers(&probe).await {
        return Ok(LocalServer {
            admin_url: probe,
            cluster: None,
        });
    }
    let cluster = Cluster::start(&home().join("pg"))?;
    let admin_url = cluster.url("postgres");
    // pg_ctl -w returns once the server accepts connections.
    if !answers(&admin_url).await {
        return Err(DevError::Cluster(format!(
            "the local cluster started but does not answer at {admin_url}; see {}",
            cluster.log.display()
        )));
    }
    Ok(LocalServer {
        admin_url,
        cluster: Some(cluster),
    })
}

async fn answers(url: &str) -> bool {
    let Ok(options) = crate::db::connect_options(url) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), PgConnection::connect_with(&options)).await,
        Ok(Ok(_))
    )
}

/// `admin_url` with its database replaced by `name`.
pub fn database_url(admin_url: &str, name: &str) -> Result<String, DevError> {
    let mut url =
        Url::parse(admin_url).map_err(|e| DevError::Cluster(format!("bad database URL: {e}")))?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// Creates database `name` on the server unless it exists; returns its URL.
pub async fn ensure_database(admin_url: &str, name: &str) -> Result<String, DevError> {
    assert!(
        name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "database names here are plain identifiers"
    );
    let mut conn = PgConnection::connect_with(&crate::db::connect_options(admin_url)?).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let create = format!("CREATE DATABASE {name}");
        match conn
            .execute(sqlx::raw_sql(sqlx::AssertSqlSafe(create)))
            .await
        {
            Ok(_) => {}
            // Someone else created it meanwhile.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    database_url(admin_url, name)
}

/// A project-local Postgres cluster.
pub struct Cluster {
    bindir: PathBuf,
    data: PathBuf,
    socket_dir: PathBuf,
    log: PathBuf,
    port: u16,
    /// When running as root, the unprivileged account the server runs as.
    run_as: Option<(u32, u32)>,
    started_here: bool,
}

/// The account the cluster runs as when we are root (initdb refuses root).
const NOBODY: (u32, u32) = (65534, 65534);

impl Cluster {
    /// Initialises the cluster in `dir` if needed and starts it unless it is
    /// already running.
    pub fn start(dir: &Path) -> Result<Cluster, DevError> {
        let bindir = find_bindir().ok_or(DevError::NoPostgres)?;
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let run_as = is_root().then_some(NOBODY);
        let port_file = dir.join("port");
        let port = match std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            Some(port) => port,
            None => {
                let port = free_port()?;
                std::fs::write(&port_file, port.to_string())?;
                port
            }
        };
        let mut cluster = Cluster {
            bindir,
            data: dir.join("data"),
            socket_dir: dir.join("run"),
            log: dir.join("postgres.log"),
            port,
            run_as,
            started_here: false,
        };
        std::fs::create_dir_all(&cluster.socket_dir)?;
        if let Some((uid, gid)) = run_as {
            for path in [&dir, &cluster.socket_dir] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
            }
            if cluster.log.exists() {
                std::os::unix::fs::chown(&cluster.log, Some(uid), Some(gid))?;
            }
        }
        if !cluster.data.join("PG_VERSION").exists() {
            eprintln!(
                "kasirgo: initialising a local PostgreSQL cluster in {}",
                cluster.data.display()
            );
            cluster.run(
                "initdb",
                &[
                    "-D".as_ref(),
                    cluster.data.as_os_str(),
                    "-U".as_ref(),
                    "postgres".as_ref(),
                    "--auth=trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                    "--no-locale".as_ref(),
                ],
            )?;
        }
        if !cluster.is_running() {
            let options = format!(
                "-p {} -c listen_addresses=127.0.0.1 -k {}",
                cluster.port,
                cluster.socket_dir.display()
            );
            cluster.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    cluster.data.as_os_str(),
                    "-l".as_ref(),
                    cluster.log.as_os_str(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "start".as_ref(),
                ],
            )?;
            cluster.started_here = true;
        }
        Ok(cluster)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    /// Stops the cluster if this process started it (fast shutdown: open
    /// sessions are rolled back, data is flushed).
    pub fn stop(&mut self) -> Result<(), DevError> {
        if !self.started_here {
            return Ok(());
        }
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )?;
        self.started_here = false;
        Ok(())
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        // A directory the server's account can enter: initdb and postgres
        // chdir back to it.
        cmd.current_dir(self.data.parent().unwrap_or(Path::new("/")));
        if let Some((uid, gid)) = self.run_as {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(gid);
            cmd.env_remove("HOME");
        }
        cmd
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> Result<(), DevError> {
        let output = self.command(program).args(args).output()?;
        if output.status.success() {
            return Ok(());
        }
        Err(DevError::Cluster(format!(
            "{program} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            if program == "pg_ctl" {
                format!("; see {}", self.log.display())
            } else {
                String::new()
            }
        )))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("kasirgo: could not stop the local PostgreSQL cluster: {e}");
        }
    }
}

/// The installed PostgreSQL server binaries: `pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/*/bin`, else `initdb` on the PATH.
/// `KASIRGO_PG_BINDIR` overrides (an empty directory means "none").
pub fn find_bindir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("KASIRGO_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return has_initdb(&dir).then_some(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_initdb(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_initdb(dir))
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_initdb(dir)))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_swaps_the_database() {
        assert_eq!(
            database_url("postgres://postgres@localhost:5432/postgres", "kasirgo_dev").unwrap(),
            "postgres://postgres@localhost:5432/kasirgo_dev"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=require", "t1").unwrap(),
            "postgres://u:p@h/t1?sslmode=require"
        );
    }
}
