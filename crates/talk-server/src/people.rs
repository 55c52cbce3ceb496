//! People (the CDP side): found and merged by normalised email or another merge field.

use crate::db::{self, Db};
use serde_json::{Map, Value};
use talk_protocol::{field, PersonSummary};

/// Person fields keyed by Ortto field name (`str::email`, `str::first`, …).
pub type Fields = Map<String, Value>;

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub fields: Fields,
}

#[derive(sqlx::FromRow)]
struct PersonRow {
    id: String,
    fields: String,
}

impl From<PersonRow> for Person {
    fn from(row: PersonRow) -> Self {
        Person {
            id: row.id,
            fields: serde_json::from_str(&row.fields).unwrap_or_default(),
        }
    }
}

impl Person {
    pub fn text(&self, name: &str) -> Option<&str> {
        text_field(&self.fields, name)
    }

    /// Full name: `str::name`, else first and last joined.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = self.text(field::NAME) {
            return Some(name.to_string());
        }
        let parts: Vec<&str> = [self.text(field::FIRST_NAME), self.text(field::LAST_NAME)]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    pub fn summary(&self) -> PersonSummary {
        PersonSummary {
            id: self.id.clone(),
            email: self.text(field::EMAIL).map(str::to_string),
            first_name: self.text(field::FIRST_NAME).map(str::to_string),
            last_name: self.text(field::LAST_NAME).map(str::to_string),
            name: self.display_name(),
        }
    }
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

const PERSON_COLUMNS: &str = "id, fields";

pub async fn by_id(db: &Db, workspace_id: &str, id: &str) -> Result<Option<Person>, sqlx::Error> {
    let row: Option<PersonRow> = sqlx::query_as(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = ? AND id = ?"
    ))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Person::from))
}

pub async fn by_email(
    db: &Db,
    workspace_id: &str,
    email: &str,
) -> Result<Option<Person>, sqlx::Error> {
    let row: Option<PersonRow> = sqlx::query_as(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = ? AND email_norm = ?"
    ))
    .bind(workspace_id)
    .bind(normalize_email(email))
    .fetch_optional(db)
    .await?;
    Ok(row.map(Person::from))
}

/// Finds a person whose field `name` equals `value` (email compared normalised).
pub async fn by_field(
    db: &Db,
    workspace_id: &str,
    name: &str,
    value: &Value,
) -> Result<Option<Person>, sqlx::Error> {
    if name == field::EMAIL {
        return match value.as_str() {
            Some(email) => by_email(db, workspace_id, email).await,
            None => Ok(None),
        };
    }
    let path = format!("$.{}", serde_json::to_string(name).unwrap_or_default());
    let row: Option<PersonRow> = sqlx::query_as(&format!(
        "SELECT {PERSON_COLUMNS} FROM people
         WHERE workspace_id = ? AND json_extract(fields, ?) = json_extract(?, '$')
         ORDER BY created_at LIMIT 1"
    ))
    .bind(workspace_id)
    .bind(path)
    .bind(value.to_string())
    .fetch_optional(db)
    .await?;
    Ok(row.map(Person::from))
}

/// Creates a person with these fields, or, when the email is taken (a concurrent create),
/// returns the existing one. The bool says whether it was created.
pub async fn create_or_get(
    db: &Db,
    workspace_id: &str,
    fields: &Fields,
) -> Result<(Person, bool), sqlx::Error> {
    let email = normalize_email(text_field(fields, field::EMAIL).unwrap_or_default());
    let id = db::new_id();
    let now = db::now_ms();
    let inserted = sqlx::query(
        "INSERT INTO people (id, workspace_id, email_norm, fields, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (workspace_id, email_norm) DO NOTHING",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(&email)
    .bind(Value::Object(fields.clone()).to_string())
    .bind(now)
    .bind(now)
    .execute(db)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        return Ok((
            Person {
                id,
                fields: fields.clone(),
            },
            true,
        ));
    }
    let existing = by_email(db, workspace_id, &email)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok((existing, false))
}

/// Stores the person's fields (and the email they are matched by).
pub async fn save(db: &Db, workspace_id: &str, person: &Person) -> Result<(), sqlx::Error> {
    let email = normalize_email(person.text(field::EMAIL).unwrap_or_default());
    sqlx::query(
        "UPDATE people SET fields = ?, email_norm = ?, updated_at = ?
         WHERE workspace_id = ? AND id = ?",
    )
    .bind(Value::Object(person.fields.clone()).to_string())
    .bind(email)
    .bind(db::now_ms())
    .bind(workspace_id)
    .bind(&person.id)
    .execute(db)
    .await?;
    Ok(())
}

/// Remembers who a visitor said it is (or was verified as).
pub async fn link_visitor(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    person_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE visitors SET person_id = ? WHERE workspace_id = ? AND id = ?")
        .bind(person_id)
        .bind(workspace_id)
        .bind(visitor_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn visitor_person_id(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let person_id: Option<Option<String>> =
        sqlx::query_scalar("SELECT person_id FROM visitors WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(visitor_id)
            .fetch_optional(db)
            .await?;
    Ok(person_id.flatten())
}

/// Records a visitor id the first time it is seen.
pub async fn upsert_visitor(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO visitors (workspace_id, id, created_at) VALUES (?, ?, ?)
         ON CONFLICT (workspace_id, id) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(visitor_id)
    .bind(db::now_ms())
    .execute(db)
    .await?;
    Ok(())
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
    fn emails_are_normalised_and_validated() {
        assert_eq!(normalize_email("  John@Example.COM "), "john@example.com");
        assert!(is_valid_email("john@example.com"));
        assert!(!is_valid_email("not an email"));
        assert!(!is_valid_email(&format!("{}@example.com", "a".repeat(250))));
    }
}
