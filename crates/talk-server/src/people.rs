//! People (the CDP side): found and merged by normalised email or another merge field.

use crate::db::{self, Db};
use crate::store::{PersonKey, StoreError, StoreResult};
use serde_json::{Map, Value};
use talk_protocol::{field, FieldValue, PersonDetail, PersonSummary};

/// Person fields keyed by Ortto field name (`str::email`, `str::first`, …).
pub type Fields = Map<String, Value>;

/// What a field holds, told by its name's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Integer,
    Bool,
}

impl FieldKind {
    pub fn describe(self) -> &'static str {
        match self {
            FieldKind::Text => "a string",
            FieldKind::Integer => "an integer",
            FieldKind::Bool => "true or false",
        }
    }
}

const FIELD_PREFIXES: [(&str, FieldKind); 6] = [
    ("str::", FieldKind::Text),
    ("str:cm:", FieldKind::Text),
    ("int::", FieldKind::Integer),
    ("int:cm:", FieldKind::Integer),
    ("bool::", FieldKind::Bool),
    ("bool:cm:", FieldKind::Bool),
];
const MAX_FIELD_NAME_BYTES: usize = 64;

/// The kind of a well-formed field name (`str::phone`, `str:cm:plan`, `int::age`,
/// `bool:cm:vip`, …); `None` for an unknown prefix or a malformed name. Names are limited
/// to ASCII letters, digits, `-` and `_`, so they are safe inside a JSON path.
pub fn field_kind(name: &str) -> Option<FieldKind> {
    if name.len() > MAX_FIELD_NAME_BYTES {
        return None;
    }
    FIELD_PREFIXES.iter().find_map(|(prefix, kind)| {
        let rest = name.strip_prefix(prefix)?;
        let well_formed = !rest.is_empty()
            && rest
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        well_formed.then_some(*kind)
    })
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub fields: Fields,
    pub created_at: i64,
    pub last_seen_ip: Option<String>,
}

impl Person {
    pub fn text(&self, name: &str) -> Option<&str> {
        text_field(&self.fields, name)
    }

    /// Full name: `str::name`, else first and last joined.
    pub fn display_name(&self) -> Option<String> {
        match self.text(field::NAME) {
            Some(name) => Some(name.to_string()),
            None => joined_name(self.text(field::FIRST_NAME), self.text(field::LAST_NAME)),
        }
    }

    pub fn summary(&self) -> PersonSummary {
        PersonSummary {
            email: self.text(field::EMAIL).map(str::to_string),
            first_name: self.text(field::FIRST_NAME).map(str::to_string),
            last_name: self.text(field::LAST_NAME).map(str::to_string),
            name: self.display_name(),
        }
    }

    /// Every field, for agents.
    pub fn detail(&self) -> PersonDetail {
        let summary = self.summary();
        PersonDetail {
            id: self.id.clone(),
            fields: self
                .fields
                .iter()
                .filter_map(|(name, value)| {
                    let value = serde_json::from_value::<FieldValue>(value.clone()).ok()?;
                    Some((name.clone(), value))
                })
                .collect(),
            email: summary.email,
            first_name: summary.first_name,
            last_name: summary.last_name,
            name: summary.name,
            created_at: self.created_at,
            last_seen_ip: self.last_seen_ip.clone(),
        }
    }
}

/// First and last name joined by a space, whichever are present.
fn joined_name(first: Option<&str>, last: Option<&str>) -> Option<String> {
    let parts: Vec<&str> = [first, last].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// What a visitor typed in the widget's email form. It is kept on the visitor, never written
/// to the person: a typed email proves nothing, so the person's stored names must not be
/// shown to whoever typed it, and typed names must not become the person's (verified) names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl Claim {
    /// From the `visitors.claimed_*` columns: none without an email.
    pub fn from_columns(
        email: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
    ) -> Option<Self> {
        email.map(|email| Claim {
            email,
            first_name,
            last_name,
        })
    }

    pub fn name(&self) -> Option<String> {
        joined_name(self.first_name.as_deref(), self.last_name.as_deref())
    }

    pub fn summary(&self) -> PersonSummary {
        PersonSummary {
            email: Some(self.email.clone()),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            name: self.name(),
        }
    }
}

/// What the server knows of a visitor: the person it is linked to (by a typed email or a
/// verified session) and its latest claim.
#[derive(Debug, Clone, Default)]
pub struct VisitorIdentity {
    pub person_id: Option<String>,
    pub claim: Option<Claim>,
}

/// A non-blank text field, trimmed.
pub fn text_field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn is_empty_value(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.trim().is_empty(),
        Some(_) => false,
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn is_valid_email(email: &str) -> bool {
    email.len() <= 254 && email_address::EmailAddress::is_valid(email)
}

/// How incoming fields combine with an existing person's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// Only fill fields that are empty.
    AppendOnly,
    /// Incoming values replace existing ones.
    Overwrite,
    /// Leave an existing person unchanged.
    Ignore,
}

/// Applies `incoming` to `existing`; returns whether anything changed.
pub fn merge_fields(existing: &mut Fields, incoming: &Fields, strategy: MergeStrategy) -> bool {
    let mut changed = false;
    for (name, value) in incoming {
        let replace = match strategy {
            MergeStrategy::Ignore => false,
            MergeStrategy::Overwrite => existing.get(name) != Some(value),
            MergeStrategy::AppendOnly => {
                is_empty_value(existing.get(name)) && !is_empty_value(Some(value))
            }
        };
        if replace {
            existing.insert(name.clone(), value.clone());
            changed = true;
        }
    }
    changed
}

pub async fn by_id(db: &Db, workspace_id: &str, id: &str) -> StoreResult<Option<Person>> {
    db.person_by_id(workspace_id, id).await
}

pub async fn by_email(db: &Db, workspace_id: &str, email: &str) -> StoreResult<Option<Person>> {
    db.person_by_email(workspace_id, &normalize_email(email))
        .await
}

/// The oldest person whose fields match every `(name, value)` pair: `str::email` compared
/// normalised, other text trimmed, integers and booleans exactly. `None` for no pairs.
pub async fn find_matching(
    db: &Db,
    workspace_id: &str,
    keys: &[(&str, &Value)],
) -> StoreResult<Option<Person>> {
    let keys: Vec<PersonKey> = keys
        .iter()
        .map(|(name, value)| match (*name, value.as_str()) {
            (field::EMAIL, Some(email)) => PersonKey::Email(normalize_email(email)),
            (_, Some(text)) => PersonKey::Text {
                name: name.to_string(),
                value: text.trim().to_string(),
            },
            _ => PersonKey::Exact {
                name: name.to_string(),
                json: value.to_string(),
            },
        })
        .collect();
    db.find_person(workspace_id, &keys).await
}

/// Creates a person with these fields; `None` when the email is taken.
pub async fn insert(db: &Db, workspace_id: &str, fields: &Fields) -> StoreResult<Option<Person>> {
    let email = normalize_email(text_field(fields, field::EMAIL).unwrap_or_default());
    let person = Person {
        id: db::new_id(),
        fields: fields.clone(),
        created_at: db::now_ms(),
        last_seen_ip: None,
    };
    let inserted = db
        .insert_person(workspace_id, &person, &email, person.created_at)
        .await?;
    Ok(inserted.then_some(person))
}

/// Creates a person with these fields, or, when the email is taken (a concurrent create),
/// returns the existing one. The bool says whether it was created.
pub async fn create_or_get(
    db: &Db,
    workspace_id: &str,
    fields: &Fields,
) -> StoreResult<(Person, bool)> {
    if let Some(person) = insert(db, workspace_id, fields).await? {
        return Ok((person, true));
    }
    let email = text_field(fields, field::EMAIL).unwrap_or_default();
    let existing = by_email(db, workspace_id, email)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((existing, false))
}

/// Stores the person's fields (and the email they are matched by).
pub async fn save(db: &Db, workspace_id: &str, person: &Person) -> StoreResult<()> {
    let email = normalize_email(person.text(field::EMAIL).unwrap_or_default());
    db.save_person(workspace_id, person, &email, db::now_ms())
        .await
}

/// Records the IP the site's backend last saw the person at.
pub async fn record_source_ip(
    db: &Db,
    workspace_id: &str,
    person: &mut Person,
    ip: std::net::IpAddr,
) -> StoreResult<()> {
    let ip = ip.to_string();
    db.record_source_ip(workspace_id, &person.id, &ip, db::now_ms())
        .await?;
    person.last_seen_ip = Some(ip);
    Ok(())
}

/// Remembers who a visitor said it is (or was verified as).
pub async fn link_visitor(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    person_id: &str,
) -> StoreResult<()> {
    db.link_visitor(workspace_id, visitor_id, person_id).await
}

/// Links a visitor to the person whose email it typed and remembers what it typed, replacing
/// its earlier claim.
pub async fn record_claim(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    person_id: &str,
    claim: &Claim,
) -> StoreResult<()> {
    db.record_claim(workspace_id, visitor_id, person_id, claim)
        .await
}

/// The visitor's link and claim; empty for a visitor never seen.
pub async fn visitor_identity(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
) -> StoreResult<VisitorIdentity> {
    Ok(db
        .visitor_identity(workspace_id, visitor_id)
        .await?
        .unwrap_or_default())
}

/// A visitor id the server derives rather than a browser's cookie: the same for the same
/// `scope` and `owner_id` every time, and shaped like a widget's (32 lowercase hex), e.g. a
/// person's API-channel visitor (`"api"`) or an admin's preview visitor (`"preview"`).
pub fn derived_visitor_id(scope: &str, owner_id: &str) -> String {
    let mut id = db::sha256_hex(&format!("{scope}:{owner_id}"));
    id.truncate(32);
    id
}

/// Records a visitor id the first time it is seen.
pub async fn upsert_visitor(db: &Db, workspace_id: &str, visitor_id: &str) -> StoreResult<()> {
    db.upsert_visitor(workspace_id, visitor_id, db::now_ms())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Fields {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn strategies_differ_on_existing_values() {
        let existing = fields(json!({"str::name": "Old", "str::first": ""}));
        let incoming = fields(json!({"str::name": "New", "str::first": "Ann"}));

        let mut appended = existing.clone();
        assert!(merge_fields(
            &mut appended,
            &incoming,
            MergeStrategy::AppendOnly
        ));
        assert_eq!(
            appended,
            fields(json!({"str::name": "Old", "str::first": "Ann"}))
        );

        let mut overwritten = existing.clone();
        merge_fields(&mut overwritten, &incoming, MergeStrategy::Overwrite);
        assert_eq!(overwritten, incoming);

        let mut ignored = existing.clone();
        assert!(!merge_fields(
            &mut ignored,
            &incoming,
            MergeStrategy::Ignore
        ));
        assert_eq!(ignored, existing);
    }

    #[test]
    fn field_kinds_come_from_the_prefix() {
        assert_eq!(field_kind("str::email"), Some(FieldKind::Text));
        assert_eq!(field_kind("str:cm:job-title"), Some(FieldKind::Text));
        assert_eq!(field_kind("int::age"), Some(FieldKind::Integer));
        assert_eq!(field_kind("bool:cm:vip_2"), Some(FieldKind::Bool));
        for bad in [
            "email",
            "phn::phone",
            "str::",
            "str:cm:",
            "str::a\"b",
            "str::a.b",
            "STR::x",
        ] {
            assert_eq!(field_kind(bad), None, "{bad}");
        }
        assert_eq!(field_kind(&format!("str::{}", "a".repeat(60))), None);
    }

    #[test]
    fn emails_are_normalised_and_validated() {
        assert_eq!(normalize_email("  John@Example.COM "), "john@example.com");
        assert!(is_valid_email("john@example.com"));
        assert!(!is_valid_email("not an email"));
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(250))));
    }
}

/// `merge_fields` under generated persons and requests: the three strategies' promises.
#[cfg(test)]
mod merge_properties {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 6] = [
        "str::name",
        "str::first",
        "str::last",
        "str:cm:plan",
        "int::seats",
        "bool::trial",
    ];

    /// A stored value, empty ones included (absent, null, blank text).
    fn stored_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            "[ ]{0,2}".prop_map(Value::from),
            "[a-z ]{1,8}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ]
    }

    /// A value as `POST /v1/talk/session` passes it on: blank text is dropped before merging.
    fn given_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            "[a-z]{1,8}".prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
        ]
    }

    fn fields_of(value: impl Strategy<Value = Value>) -> impl Strategy<Value = Fields> {
        prop::collection::btree_map(prop::sample::select(&NAMES[..]), value, 0..=NAMES.len())
            .prop_map(|map| map.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn append_only_never_overwrites_and_fills_every_empty_field(
            existing in fields_of(stored_value()),
            incoming in fields_of(given_value()),
        ) {
            let mut merged = existing.clone();
            let changed = merge_fields(&mut merged, &incoming, MergeStrategy::AppendOnly);
            for name in NAMES {
                let before = existing.get(name);
                let after = merged.get(name);
                if !is_empty_value(before) {
                    prop_assert_eq!(after, before, "{} was overwritten", name);
                } else if let Some(given) = incoming.get(name) {
                    prop_assert_eq!(after, Some(given), "{} was not filled", name);
                } else {
                    prop_assert_eq!(after, before, "{} changed, not given", name);
                }
            }
            prop_assert_eq!(changed, merged != existing);
        }

        #[test]
        fn overwrite_sets_every_given_field_and_nothing_else(
            existing in fields_of(stored_value()),
            incoming in fields_of(given_value()),
        ) {
            let mut merged = existing.clone();
            let changed = merge_fields(&mut merged, &incoming, MergeStrategy::Overwrite);
            for name in NAMES {
                let expected = incoming.get(name).or(existing.get(name));
                prop_assert_eq!(merged.get(name), expected, "{}", name);
            }
            prop_assert_eq!(changed, merged != existing);
        }

        #[test]
        fn ignore_leaves_an_existing_person_unchanged(
            existing in fields_of(stored_value()),
            incoming in fields_of(stored_value()),
        ) {
            let mut merged = existing.clone();
            prop_assert!(!merge_fields(&mut merged, &incoming, MergeStrategy::Ignore));
            prop_assert_eq!(merged, existing);
        }
    }
}
