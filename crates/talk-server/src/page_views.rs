//! Page views: a visitor's browsing history, shown to agents only. A view belongs to its
//! visitor and reaches a person through the visitor, so a visitor that identifies or gets a
//! verified session later brings its earlier views along without copying them.

use crate::db::{self, Db};
use talk_protocol::{PageView, MAX_PAGE_VIEWS};

pub struct NewPageView<'a> {
    pub url: &'a str,
    pub title: Option<&'a str>,
    pub referrer: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
struct PageViewRow {
    url: String,
    title: Option<String>,
    referrer: Option<String>,
    visitor_id: String,
    created_at: i64,
}

impl From<PageViewRow> for PageView {
    fn from(row: PageViewRow) -> Self {
        PageView {
            url: row.url,
            title: row.title,
            referrer: row.referrer,
            visitor_id: row.visitor_id,
            created_at: row.created_at,
        }
    }
}

const PAGE_VIEW_COLUMNS: &str = "url, title, referrer, visitor_id, created_at";

/// Visitors that had a verified widget session for person ?2 (workspace ?1).
const VERIFIED_VISITORS_OF_PERSON: &str = "SELECT visitor_id FROM sessions
     WHERE workspace_id = ?1 AND person_id = ?2 AND verified AND kind = 'widget'
       AND visitor_id IS NOT NULL";

/// Records a view with the person the visitor is known as now (the visitor must exist).
pub async fn record(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    view: NewPageView<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO page_views
           (workspace_id, visitor_id, person_id, url, title, referrer, created_at)
         VALUES (?1, ?2, (SELECT person_id FROM visitors WHERE workspace_id = ?1 AND id = ?2),
                 ?3, ?4, ?5, ?6)",
    )
    .bind(workspace_id)
    .bind(visitor_id)
    .bind(view.url)
    .bind(view.title)
    .bind(view.referrer)
    .bind(db::now_ms())
    .execute(db)
    .await?;
    Ok(())
}

/// A conversation's views, newest first: its visitor's and, when `verified_person_id` is
/// given (a verified conversation), those of every visitor verified as that person. An
/// unverified claim of an email never pulls in someone else's history.
pub async fn for_conversation(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    verified_person_id: Option<&str>,
) -> Result<Vec<PageView>, sqlx::Error> {
    let rows: Vec<PageViewRow> = sqlx::query_as(&format!(
        "SELECT {PAGE_VIEW_COLUMNS} FROM page_views
         WHERE workspace_id = ?1
           AND (visitor_id = ?3
                OR (?2 IS NOT NULL AND visitor_id IN ({VERIFIED_VISITORS_OF_PERSON})))
         ORDER BY created_at DESC, id DESC LIMIT {MAX_PAGE_VIEWS}"
    ))
    .bind(workspace_id)
    .bind(verified_person_id)
    .bind(visitor_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(PageView::from).collect())
}

/// A person's views, newest first: those recorded while a visitor was known as the person,
/// and every view of the visitors linked to or verified as the person now.
pub async fn for_person(
    db: &Db,
    workspace_id: &str,
    person_id: &str,
) -> Result<Vec<PageView>, sqlx::Error> {
    let rows: Vec<PageViewRow> = sqlx::query_as(&format!(
        "SELECT {PAGE_VIEW_COLUMNS} FROM page_views
         WHERE workspace_id = ?1
           AND (person_id = ?2
                OR visitor_id IN (SELECT id FROM visitors WHERE workspace_id = ?1 AND person_id = ?2)
                OR visitor_id IN ({VERIFIED_VISITORS_OF_PERSON}))
         ORDER BY created_at DESC, id DESC LIMIT {MAX_PAGE_VIEWS}"
    ))
    .bind(workspace_id)
    .bind(person_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(PageView::from).collect())
}
