//! Page views: a visitor's browsing history, shown to agents only. A view belongs to its
//! visitor and reaches a person through the visitor, so a visitor that identifies or gets a
//! verified session later brings its earlier views along without copying them.

use crate::db::{self, Db};
use crate::store::{PageViewRecord, StoreResult};
use talk_protocol::PageView;

pub struct NewPageView<'a> {
    pub url: &'a str,
    pub title: Option<&'a str>,
    pub referrer: Option<&'a str>,
}

/// Records a view with the person the visitor is known as now (the visitor must exist).
pub async fn record(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    view: NewPageView<'_>,
) -> StoreResult<()> {
    let record = PageViewRecord {
        url: view.url,
        title: view.title,
        referrer: view.referrer,
        created_at: db::now_ms(),
    };
    db.record_page_view(workspace_id, visitor_id, &record).await
}

/// A conversation's views, newest first: its visitor's and, when `verified_person_id` is
/// given (a verified conversation), those of every visitor verified as that person. An
/// unverified claim of an email never pulls in someone else's history.
pub async fn for_conversation(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    verified_person_id: Option<&str>,
) -> StoreResult<Vec<PageView>> {
    db.page_views_for_conversation(workspace_id, visitor_id, verified_person_id)
        .await
}

/// A person's views, newest first: those recorded while a visitor was known as the person,
/// and every view of the visitors linked to or verified as the person now.
pub async fn for_person(
    db: &Db,
    workspace_id: &str,
    person_id: &str,
) -> StoreResult<Vec<PageView>> {
    db.page_views_for_person(workspace_id, person_id).await
}
