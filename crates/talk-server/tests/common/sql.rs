//! Direct SQL for tests, on whichever engine the app under test runs. Statements use `$1`,
//! `$2` … placeholders, which both SQLite and PostgreSQL accept.

use sqlx::{PgPool, SqlitePool};

#[derive(Clone)]
pub enum Sql {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A bound value.
#[derive(Clone, Debug)]
pub enum Bind {
    Text(String),
    Int(i64),
}

impl From<&str> for Bind {
    fn from(text: &str) -> Self {
        Bind::Text(text.to_string())
    }
}

impl From<String> for Bind {
    fn from(text: String) -> Self {
        Bind::Text(text)
    }
}

impl From<&String> for Bind {
    fn from(text: &String) -> Self {
        Bind::Text(text.clone())
    }
}

impl From<i64> for Bind {
    fn from(value: i64) -> Self {
        Bind::Int(value)
    }
}

macro_rules! bound {
    ($query:expr, $binds:expr) => {{
        let mut query = $query;
        for bind in $binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(value) => query.bind(*value),
            };
        }
        query
    }};
}

macro_rules! on_both {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Sql::Sqlite($pool) => $body,
            Sql::Postgres($pool) => $body,
        }
    };
}

impl Sql {
    pub async fn connect(url: &str) -> Sql {
        if url.starts_with("sqlite:") {
            Sql::Sqlite(SqlitePool::connect(url).await.unwrap())
        } else {
            Sql::Postgres(PgPool::connect(url).await.unwrap())
        }
    }

    /// Runs a statement; the rows it changed.
    pub async fn execute(&self, sql: &str, binds: &[Bind]) -> u64 {
        on_both!(self, pool => bound!(sqlx::query(sql), binds)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected())
    }

    pub async fn i64s(&self, sql: &str, binds: &[Bind]) -> Vec<i64> {
        on_both!(self, pool => bound!(sqlx::query_scalar::<_, i64>(sql), binds)
            .fetch_all(pool)
            .await
            .unwrap())
    }

    pub async fn strings(&self, sql: &str, binds: &[Bind]) -> Vec<String> {
        on_both!(self, pool => bound!(sqlx::query_scalar::<_, String>(sql), binds)
            .fetch_all(pool)
            .await
            .unwrap())
    }

    pub async fn text_pairs(&self, sql: &str, binds: &[Bind]) -> Vec<(String, String)> {
        on_both!(self, pool => bound!(sqlx::query_as::<_, (String, String)>(sql), binds)
            .fetch_all(pool)
            .await
            .unwrap())
    }

    pub async fn text_i64_pairs(&self, sql: &str, binds: &[Bind]) -> Vec<(String, i64)> {
        on_both!(self, pool => bound!(sqlx::query_as::<_, (String, i64)>(sql), binds)
            .fetch_all(pool)
            .await
            .unwrap())
    }

    pub async fn i64(&self, sql: &str, binds: &[Bind]) -> i64 {
        let values = self.i64s(sql, binds).await;
        *values.first().unwrap_or_else(|| panic!("no row: {sql}"))
    }

    pub async fn opt_i64(&self, sql: &str, binds: &[Bind]) -> Option<i64> {
        self.i64s(sql, binds).await.first().copied()
    }

    pub async fn string(&self, sql: &str, binds: &[Bind]) -> String {
        let values = self.strings(sql, binds).await;
        values
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no row: {sql}"))
    }
}

/// The database URL a test app uses: a new SQLite file in `dir`, or, when
/// `TALK_TEST_DATABASE_URL` names a PostgreSQL server (`scripts/postgres.sh` starts one), a
/// new database on it, one per test.
pub async fn test_database_url(dir: &std::path::Path) -> String {
    match std::env::var("TALK_TEST_DATABASE_URL") {
        Ok(admin) if admin.starts_with("postgres") => {
            let name = format!("t_{}", talk_server::db::random_hex(8));
            let admin_pool = PgPool::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin_pool)
                .await
                .unwrap();
            admin_pool.close().await;
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        _ => format!("sqlite://{}", dir.join("talk.db").display()),
    }
}
