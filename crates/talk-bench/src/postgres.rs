//! The PostgreSQL side of the Talk targets: the server `scripts/postgres.sh --durable` started
//! (named by `TALK_TEST_DATABASE_URL`), a fresh database on it for every target run, and what
//! the report says about it (durability settings, where its data lives).

use anyhow::{bail, Context, Result};
use sqlx::{Connection, PgConnection};

/// The variable `scripts/postgres.sh` sets: the cluster's `postgres` database.
pub const ADMIN_URL_VAR: &str = "TALK_TEST_DATABASE_URL";

/// The admin URL, or why the PostgreSQL targets can't run.
pub fn admin_url() -> Result<String, String> {
    match std::env::var(ADMIN_URL_VAR) {
        Ok(url) if url.starts_with("postgres") => Ok(url),
        Ok(url) => Err(format!("{ADMIN_URL_VAR} is not a postgres:// URL ({url})")),
        Err(_) => Err(format!(
            "{ADMIN_URL_VAR} is not set: run under scripts/postgres.sh --durable \
             (scripts/bench-server.sh does when PostgreSQL is installed)"
        )),
    }
}

/// `admin`'s URL with the database `name` instead of its own; the query (the socket
/// folder) stays.
pub fn database_url(admin: &str, name: &str) -> Result<String> {
    let mut url = reqwest::Url::parse(admin).context("parsing the PostgreSQL URL")?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

/// A database name of our own: lower case, so it needs no quoting.
fn fresh_name() -> String {
    format!("talk_bench_{}", uuid::Uuid::new_v4().simple())
}

/// Creates an empty database for one target run (so no run sees another's data) and
/// answers its URL; talk-server migrates it when it starts.
pub async fn create_database(admin: &str) -> Result<String> {
    let name = fresh_name();
    let mut conn = PgConnection::connect(admin)
        .await
        .context("connecting to PostgreSQL")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .with_context(|| format!("CREATE DATABASE {name}"))?;
    conn.close().await?;
    database_url(admin, &name)
}

/// What decides durability and where the data lives, as the server reports it.
pub struct ServerFacts {
    pub version: String,
    pub fsync: String,
    pub synchronous_commit: String,
    pub full_page_writes: String,
    pub wal_sync_method: String,
    pub data_directory: String,
}

impl ServerFacts {
    /// A commit is on disk when it is acknowledged, as SQLite's `synchronous = FULL` is.
    pub fn durable(&self) -> bool {
        self.fsync == "on" && self.synchronous_commit == "on" && self.full_page_writes == "on"
    }

    pub fn summary(&self) -> String {
        format!(
            "PostgreSQL {}: fsync={}, synchronous_commit={}, full_page_writes={}, wal_sync_method={}{}",
            self.version,
            self.fsync,
            self.synchronous_commit,
            self.full_page_writes,
            self.wal_sync_method,
            if self.durable() {
                ""
            } else {
                " (NOT durable: run it under scripts/postgres.sh --durable)"
            }
        )
    }
}

pub async fn server_facts(admin: &str) -> Result<ServerFacts> {
    let mut conn = PgConnection::connect(admin)
        .await
        .context("connecting to PostgreSQL")?;
    let facts = ServerFacts {
        version: show(&mut conn, "server_version").await?,
        fsync: show(&mut conn, "fsync").await?,
        synchronous_commit: show(&mut conn, "synchronous_commit").await?,
        full_page_writes: show(&mut conn, "full_page_writes").await?,
        wal_sync_method: show(&mut conn, "wal_sync_method").await?,
        data_directory: show(&mut conn, "data_directory").await?,
    };
    conn.close().await?;
    Ok(facts)
}

async fn show(conn: &mut PgConnection, setting: &str) -> Result<String> {
    let (value,): (String,) = sqlx::query_as(&format!("SHOW {setting}"))
        .fetch_one(conn)
        .await
        .with_context(|| format!("SHOW {setting}"))?;
    Ok(value)
}

/// Visitor messages stored in the database at `url`: read after the run, the durable count.
pub async fn stored_messages(url: &str) -> Result<u64> {
    let mut conn = PgConnection::connect(url).await?;
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM messages WHERE author_kind = 'visitor'")
            .fetch_one(&mut conn)
            .await?;
    conn.close().await?;
    Ok(count as u64)
}

/// The filesystem `path` is on, as `df` names it: device, type and mount point.
pub fn filesystem(path: &std::path::Path) -> Result<String> {
    let output = std::process::Command::new("df")
        .args(["--output=source,fstype,target"])
        .arg(path)
        .output()
        .context("running df")?;
    if !output.status.success() {
        bail!("df {}: {}", path.display(), output.status);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().nth(1).context("df printed no filesystem")?;
    Ok(line.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_url_names_the_new_database_and_keeps_the_socket_folder() {
        assert_eq!(
            database_url(
                "postgres://talk@localhost/postgres?host=/tmp/talk-pg.x1",
                "talk_bench_1"
            )
            .unwrap(),
            "postgres://talk@localhost/talk_bench_1?host=/tmp/talk-pg.x1"
        );
        assert_eq!(
            database_url("postgres://u:p@127.0.0.1:5432/db", "other").unwrap(),
            "postgres://u:p@127.0.0.1:5432/other"
        );
    }

    #[test]
    fn fresh_names_differ_and_need_no_quoting() {
        let (a, b) = (fresh_name(), fresh_name());
        assert_ne!(a, b);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        assert!(a.len() <= 63, "PostgreSQL's identifier limit");
    }

    #[test]
    fn only_all_three_settings_on_is_durable() {
        let facts = |fsync: &str, sync: &str, fpw: &str| ServerFacts {
            version: "15".into(),
            fsync: fsync.into(),
            synchronous_commit: sync.into(),
            full_page_writes: fpw.into(),
            wal_sync_method: "fdatasync".into(),
            data_directory: "/tmp/x".into(),
        };
        assert!(facts("on", "on", "on").durable());
        assert!(!facts("off", "on", "on").durable());
        assert!(!facts("on", "off", "on").durable());
        assert!(!facts("on", "on", "off").durable());
        assert!(facts("off", "off", "off").summary().contains("NOT durable"));
    }

    #[test]
    fn df_names_the_root_filesystem() {
        let root = filesystem(std::path::Path::new("/")).unwrap();
        assert!(root.ends_with(" /"), "{root}");
    }
}
