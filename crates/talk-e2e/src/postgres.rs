//! The throwaway PostgreSQL cluster of `scripts/postgres.sh`, as the two-node tests use it: a
//! database of their own on it, a look at who is connected, and the faults an operator's
//! database has (a backend ended, a restart).

use sqlx::PgPool;
use std::time::Duration;

/// A fresh database on the cluster `TALK_TEST_DATABASE_URL` names (set by
/// `scripts/postgres.sh`); `None` when there is none, i.e. the tests run on SQLite.
pub async fn fresh_database() -> Option<String> {
    let admin = std::env::var("TALK_TEST_DATABASE_URL").ok()?;
    if !admin.starts_with("postgres") {
        return None;
    }
    let name = format!("e2e_{}", talk_server::db::random_hex(8));
    let pool = PgPool::connect(&admin).await.expect("the test cluster");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create a database");
    pool.close().await;
    let mut url = url::Url::parse(&admin).expect("TALK_TEST_DATABASE_URL");
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// A connection pool of the test's own beside the nodes'.
pub async fn pool(database_url: &str) -> PgPool {
    PgPool::connect(database_url).await.expect("the database")
}

/// The backend of a node's LISTEN connection: the one of its connections (by the
/// `application_name` [`crate::Node::start`] gives them) whose last statement is the
/// bus's `SELECT pg_backend_pid()`, which runs right after `LISTEN` and never on a pool
/// connection. `None` while the node is not listening.
pub async fn listener_backend(pool: &PgPool, application_name: &str) -> Option<i32> {
    let found: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity \
         WHERE application_name = $1 AND query = 'SELECT pg_backend_pid()'",
    )
    .bind(application_name)
    .fetch_all(pool)
    .await
    .expect("read pg_stat_activity");
    assert!(found.len() <= 1, "{application_name}: listeners {found:?}");
    found.first().copied()
}

/// Ends a backend as an operator (or a failover, or a proxy's idle timeout) would.
pub async fn terminate_backend(pool: &PgPool, pid: i32) {
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(pool)
        .await
        .expect("pg_terminate_backend");
    assert!(ended, "backend {pid} was not ended");
}

/// `pg_ctl restart -m fast` of the whole cluster: every connection is cut, the server is down
/// for a moment, then up again on the same socket. `scripts/postgres.sh` says where the
/// cluster is (`TALK_TEST_PG_DATA`, `TALK_TEST_PG_BIN`, `TALK_TEST_PG_LOG`) and, when run as
/// root, which user must run pg_ctl (`TALK_TEST_PG_USER`, through `runuser`).
pub async fn restart_cluster() {
    let var = |name: &str| {
        std::env::var(name)
            .unwrap_or_else(|_| panic!("{name} unset: run under scripts/postgres.sh"))
    };
    let (data, bin, log) = (
        var("TALK_TEST_PG_DATA"),
        var("TALK_TEST_PG_BIN"),
        var("TALK_TEST_PG_LOG"),
    );
    let pg_ctl = format!("{bin}/pg_ctl");
    let mut command = match std::env::var("TALK_TEST_PG_USER") {
        Ok(user) if !user.is_empty() => {
            let mut command = tokio::process::Command::new("runuser");
            command.args(["-u", &user, "--", &pg_ctl]);
            command
        }
        _ => tokio::process::Command::new(&pg_ctl),
    };
    // -l: the restarted server logs to the file, not to this command's output (whose pipe
    // would then stay open as long as the server runs).
    command
        .args(["-D", &data, "-l", &log, "-m", "fast", "-w", "restart"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    let status = tokio::time::timeout(Duration::from_secs(60), command.status())
        .await
        .expect("pg_ctl restart in time")
        .expect("run pg_ctl");
    assert!(status.success(), "pg_ctl restart: {status}; see {log}");
}
