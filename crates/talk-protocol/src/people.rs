//! People (CDP) as agents see them, and the page views that make up a visitor's browsing
//! history. Only the agent API (X-Api-Key) answers with these; visitors never see them.

use crate::{FieldValue, PersonSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest page URL and referrer accepted by `POST /v1/talk/track`, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest page title accepted by `POST /v1/talk/track`, in characters.
pub const MAX_TITLE_CHARS: usize = 512;
/// Most page views an agent endpoint returns.
pub const MAX_PAGE_VIEWS: usize = 100;

/// `POST /v1/talk/track` (browser, public capture key): the visitor viewed a page. Answers 204.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackRequest {
    pub capture_key: String,
    pub visitor_id: String,
    /// Absolute `http(s)` URL of the page.
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `document.referrer`; empty means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    /// The visitor (browser) that viewed it.
    pub visitor_id: String,
    pub created_at: i64,
}

/// A person with every field, for agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonDetail {
    pub id: String,
    /// Keyed by field name (`str::email`, `str:cm:plan`, `int::…`, `bool::…`).
    pub fields: BTreeMap<String, FieldValue>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `str::name`, else first and last name joined.
    pub name: Option<String>,
    pub created_at: i64,
    /// From `location.source_ip` of the newest `POST /v1/talk/session`.
    pub last_seen_ip: Option<String>,
}

/// Agent API: `GET /v1/conversations/{id}/contact`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The person the conversation was started as, else whom its visitor said it is since.
    /// Only proven when `verified`.
    pub person: Option<PersonDetail>,
    /// What the conversation's visitor typed in the widget's email form, if anything:
    /// unchecked, so for an unverified conversation this, not `person`'s stored names, is who
    /// the visitor says it is.
    #[serde(default)]
    pub claimed: Option<PersonSummary>,
    pub visitor_id: String,
    /// The conversation's: it was started in a verified session.
    pub verified: bool,
    /// The newest page view of the conversation's visitor.
    pub current_page: Option<PageView>,
    /// Newest first, at most [`MAX_PAGE_VIEWS`]: the conversation's visitor's and, for a
    /// verified conversation, those of the person's other verified visitors.
    pub page_views: Vec<PageView>,
}

/// Agent API: `GET /v1/people/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonProfile {
    pub person: PersonDetail,
    /// Newest first, at most [`MAX_PAGE_VIEWS`].
    pub page_views: Vec<PageView>,
}

/// The widget's and the inbox's check before sending: one `@`, something before it, a dotted
/// domain after it, no spaces. Deliberately plain; the server's check is the real one.
pub fn is_plausible_email(email: &str) -> bool {
    let email = email.trim();
    email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.as_bytes().windows(2).any(|pair| pair == b"..") // no empty label
            }
            None => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plausible_emails_are_plain_addresses() {
        for good in [" ada@example.com ", "a.b+tag@mail.example.co.uk"] {
            assert!(is_plausible_email(good), "{good}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@.example.com",
            "ada@example.com.",
            "ada@example..com",
            &long,
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }

    #[test]
    fn track_request_takes_optional_title_and_referrer() {
        let request: TrackRequest = serde_json::from_value(json!({
            "capture_key": "k", "visitor_id": "v", "url": "https://shop.example.com/"
        }))
        .unwrap();
        assert_eq!(request.title, None);
        assert_eq!(request.referrer, None);
        assert!(serde_json::from_value::<TrackRequest>(json!({"capture_key": "k"})).is_err());
    }

    #[test]
    fn person_fields_keep_their_json_types() {
        let detail: PersonDetail = serde_json::from_value(json!({
            "id": "p", "fields": {"str::email": "a@example.com", "int::age": 42, "bool::vip": true},
            "email": "a@example.com", "first_name": null, "last_name": null, "name": null,
            "created_at": 1, "last_seen_ip": null
        }))
        .unwrap();
        assert_eq!(detail.fields["int::age"], FieldValue::Integer(42));
        assert_eq!(detail.fields["bool::vip"], FieldValue::Bool(true));
        assert_eq!(
            serde_json::to_value(&detail).unwrap()["fields"]["int::age"],
            json!(42)
        );
    }
}
