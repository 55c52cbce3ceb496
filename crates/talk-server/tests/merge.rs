//! `POST /v1/talk/session` merge semantics: every merge_strategy × find_strategy ×
//! skip_non_existing × scenario with a two-field merge_by, then person_id, field types and
//! the other rules of the fields.

mod common;

use axum::http::StatusCode;
use common::{test_app, visitor_id, TestApp};
use serde_json::{json, Value};

/// Main `str::phone`, fallback `str::email`: the email is always required, so only a main
/// field other than the email can be empty.
const MERGE_BY: [&str; 2] = ["str::phone", "str::email"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// The phone is the existing person's; the email is new.
    MainMatches,
    /// The phone is new; the email is the existing person's (in other case and spacing).
    OnlyFallbackMatches,
    /// Phone and email are both new.
    NothingMatches,
    /// No phone; the email is the existing person's.
    MainEmpty,
}
use Scenario::*;

/// What the lookup should come to, before skip_non_existing is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// The existing person.
    Finds,
    /// No match: a person is created.
    Creates,
    /// No match, and creating would reuse the existing person's email: 409 email_in_use.
    EmailTaken,
}
use Lookup::*;

/// find_strategy × scenario. 0 any: main, then fallback; 1: fallback only when the main value
/// is empty; 2 all: every merge field must match, and an empty value matches nobody.
const LOOKUPS: [(u8, Scenario, Lookup); 12] = [
    (0, MainMatches, Finds),
    (0, OnlyFallbackMatches, Finds),
    (0, NothingMatches, Creates),
    (0, MainEmpty, Finds),
    (1, MainMatches, Finds),
    (1, OnlyFallbackMatches, EmailTaken),
    (1, NothingMatches, Creates),
    (1, MainEmpty, Finds),
    (2, MainMatches, Creates),
    (2, OnlyFallbackMatches, EmailTaken),
    (2, NothingMatches, Creates),
    (2, MainEmpty, EmailTaken),
];

/// Distinct values per case, so every case runs against its own existing person.
struct Case {
    n: usize,
}

impl Case {
    fn email(&self) -> String {
        format!("ann{}@example.com", self.n)
    }
    fn email_variant(&self) -> String {
        format!("  ANN{}@Example.COM ", self.n)
    }
    fn new_email(&self) -> String {
        format!("new{}@example.com", self.n)
    }
    fn phone(&self) -> String {
        format!("+6140000{:04}", self.n)
    }
    fn new_phone(&self) -> String {
        format!("+6149999{:04}", self.n)
    }

    /// The existing person as created (its first and last name split from str::name).
    fn existing_fields(&self) -> Value {
        json!({
            "str::email": self.email(), "str::name": "Ann Original", "str::first": "Ann",
            "str::last": "Original", "str::phone": self.phone(), "str:cm:plan": "basic",
        })
    }

    /// The request's fields. `str:cm:company` is empty on the existing person.
    fn request_fields(&self, scenario: Scenario) -> Value {
        let (phone, email) = match scenario {
            MainMatches => (Some(format!(" {} ", self.phone())), self.new_email()),
            OnlyFallbackMatches => (Some(self.new_phone()), self.email_variant()),
            NothingMatches => (Some(self.new_phone()), self.new_email()),
            MainEmpty => (None, self.email_variant()),
        };
        let mut fields = json!({
            "str::email": email, "str::name": "New Name", "str:cm:plan": "pro",
            "str:cm:company": "Acme",
        });
        if let Some(phone) = phone {
            fields["str::phone"] = json!(phone);
        }
        fields
    }

    /// The existing person's fields after a match, by merge_strategy.
    fn merged_fields(&self, scenario: Scenario, merge_strategy: u8) -> Value {
        let mut fields = self.existing_fields();
        match merge_strategy {
            // Append only: just the empty field is filled.
            1 => fields["str:cm:company"] = json!("Acme"),
            // Overwrite: every value sent replaces the stored one (trimmed); names split from
            // str::name only ever fill empty first/last names.
            2 => {
                let request = self.request_fields(scenario);
                for (name, value) in request.as_object().unwrap() {
                    fields[name] = json!(value.as_str().unwrap().trim());
                }
            }
            // Ignore: unchanged.
            3 => {}
            _ => unreachable!(),
        }
        fields
    }

    /// A new person's fields: what was sent, trimmed, plus first/last from str::name.
    fn created_fields(&self, scenario: Scenario) -> Value {
        let mut fields = json!({"str::first": "New", "str::last": "Name"});
        for (name, value) in self.request_fields(scenario).as_object().unwrap() {
            fields[name] = json!(value.as_str().unwrap().trim());
        }
        fields
    }
}

async fn create_existing(app: &TestApp, case: &Case) -> String {
    let fields = case.existing_fields();
    let answer = app
        .talk_session(json!({"fields": {
            "str::email": fields["str::email"], "str::name": fields["str::name"],
            "str::phone": fields["str::phone"], "str:cm:plan": fields["str:cm:plan"],
        }}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["person_status"], "created");
    let person_id = answer.json()["person_id"].as_str().unwrap().to_string();
    assert_eq!(
        app.person_profile(&person_id).await["person"]["fields"],
        fields
    );
    person_id
}

#[tokio::test]
async fn every_strategy_combination_with_a_two_field_merge_by() {
    let app = test_app().await;
    let mut n = 0;
    for (find_strategy, scenario, lookup) in LOOKUPS {
        for merge_strategy in [1u8, 2, 3] {
            for skip_non_existing in [false, true] {
                n += 1;
                let case = Case { n };
                let label = format!(
                    "merge_strategy {merge_strategy}, find_strategy {find_strategy}, \
                     skip_non_existing {skip_non_existing}, {scenario:?}"
                );
                let existing_id = create_existing(&app, &case).await;
                let people_before = app.people_count().await;

                let answer = app
                    .talk_session(json!({
                        "merge_by": MERGE_BY,
                        "merge_strategy": merge_strategy,
                        "find_strategy": find_strategy,
                        "skip_non_existing": skip_non_existing,
                        "fields": case.request_fields(scenario),
                    }))
                    .await;
                let existing_now =
                    app.person_profile(&existing_id).await["person"]["fields"].clone();

                match (lookup, skip_non_existing) {
                    (Finds, _) => {
                        assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text);
                        let body = answer.json();
                        assert_eq!(body["person_status"], "by-merge-field", "{label}");
                        assert_eq!(body["person_id"], existing_id.as_str(), "{label}");
                        assert_eq!(
                            existing_now,
                            case.merged_fields(scenario, merge_strategy),
                            "{label}"
                        );
                        assert_eq!(app.people_count().await, people_before, "{label}");
                    }
                    (Creates, false) => {
                        assert_eq!(answer.status, StatusCode::OK, "{label}: {}", answer.text);
                        let body = answer.json();
                        assert_eq!(body["person_status"], "created", "{label}");
                        let created_id = body["person_id"].as_str().unwrap();
                        assert_ne!(created_id, existing_id, "{label}");
                        // Whatever the merge strategy, a new person gets every field.
                        assert_eq!(
                            app.person_profile(created_id).await["person"]["fields"],
                            case.created_fields(scenario),
                            "{label}"
                        );
                        assert_eq!(existing_now, case.existing_fields(), "{label}");
                        assert_eq!(app.people_count().await, people_before + 1, "{label}");
                    }
                    (EmailTaken, false) => {
                        assert_eq!(
                            (answer.status, answer.code().as_str()),
                            (StatusCode::CONFLICT, "email_in_use"),
                            "{label}"
                        );
                        assert_eq!(existing_now, case.existing_fields(), "{label}");
                        assert_eq!(app.people_count().await, people_before, "{label}");
                    }
                    (Creates | EmailTaken, true) => {
                        assert_eq!(
                            (answer.status, answer.code().as_str()),
                            (StatusCode::NOT_FOUND, "person_not_found"),
                            "{label}"
                        );
                        assert_eq!(existing_now, case.existing_fields(), "{label}");
                        assert_eq!(app.people_count().await, people_before, "{label}");
                    }
                }
            }
        }
    }
    assert_eq!(n, 72);
}

// ---------------------------------------------------------------------------------------------
// person_id
// ---------------------------------------------------------------------------------------------

fn ann() -> Value {
    json!({"str::email": "ann@example.com", "str::name": "Ann Original"})
}

async fn person_fields(app: &TestApp, person_id: &str) -> Value {
    app.person_profile(person_id).await["person"]["fields"].clone()
}

#[tokio::test]
async fn person_id_alone_is_the_only_key() {
    let app = test_app().await;
    let ann_id = app.talk_session(json!({"fields": ann()})).await.json()["person_id"]
        .as_str()
        .unwrap()
        .to_string();
    let unknown_id = "006281d8ff95c3ed70b70801";
    let by_id = |person_id: Option<&str>, merge_strategy: u8, skip: bool, fields: Value| {
        let mut body = json!({"merge_by": ["person_id"], "merge_strategy": merge_strategy,
            "skip_non_existing": skip, "fields": fields});
        if let Some(person_id) = person_id {
            body["person_id"] = json!(person_id);
        }
        body
    };
    let renamed = json!({"str::email": "ann.new@example.com", "str::name": "Ann Renamed"});

    // Found by id: the merge strategy applies, even to the email.
    for (merge_strategy, expected_email, expected_name) in [
        (3, "ann@example.com", "Ann Original"),
        (1, "ann@example.com", "Ann Original"),
        (2, "ann.new@example.com", "Ann Renamed"),
    ] {
        let answer = app
            .talk_session(by_id(Some(&ann_id), merge_strategy, true, renamed.clone()))
            .await
            .json();
        assert_eq!(answer["person_status"], "by-id");
        assert_eq!(answer["person_id"], ann_id.as_str());
        let fields = person_fields(&app, &ann_id).await;
        assert_eq!(fields["str::email"], expected_email, "{merge_strategy}");
        assert_eq!(fields["str::name"], expected_name, "{merge_strategy}");
    }

    // Not found by id: the email is not a key, so a match by email is not looked for.
    let taken = app
        .talk_session(by_id(Some(unknown_id), 2, false, renamed.clone()))
        .await;
    assert_eq!(
        (taken.status, taken.code().as_str()),
        (StatusCode::CONFLICT, "email_in_use")
    );
    let skipped = app
        .talk_session(by_id(Some(unknown_id), 2, true, renamed.clone()))
        .await;
    assert_eq!(
        (skipped.status, skipped.code().as_str()),
        (StatusCode::NOT_FOUND, "person_not_found")
    );
    let fresh = json!({"str::email": "bo@example.com", "str::name": "Bo"});
    let created = app
        .talk_session(by_id(Some(unknown_id), 2, false, fresh))
        .await
        .json();
    assert_eq!(created["person_status"], "created");
    assert_ne!(created["person_id"], unknown_id, "ids are the server's");
    // No person_id at all: nothing to find by.
    let no_id = app
        .talk_session(by_id(
            None,
            2,
            false,
            json!({"str::email": "cy@example.com", "str::name": "Cy"}),
        ))
        .await
        .json();
    assert_eq!(no_id["person_status"], "created");
    let no_id_skipped = app
        .talk_session(by_id(
            None,
            2,
            true,
            json!({"str::email": "di@example.com", "str::name": "Di"}),
        ))
        .await;
    assert_eq!(no_id_skipped.code(), "person_not_found");
}

#[tokio::test]
async fn person_id_with_merge_fields_tries_the_id_first() {
    let app = test_app().await;
    let ann_id = app.talk_session(json!({"fields": ann()})).await.json()["person_id"]
        .as_str()
        .unwrap()
        .to_string();
    let bo = json!({"str::email": "bo@example.com", "str::name": "Bo Other"});
    let bo_id = app.talk_session(json!({"fields": bo})).await.json()["person_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The id wins over the merge field (which names Bo).
    let answer = app
        .talk_session(json!({"person_id": ann_id, "merge_strategy": 1,
            "fields": {"str::email": "bo@example.com", "str::name": "Bo Other", "str::phone": "+1 555"}}))
        .await
        .json();
    assert_eq!(answer["person_status"], "by-id");
    assert_eq!(answer["person_id"], ann_id.as_str());
    let fields = person_fields(&app, &ann_id).await;
    assert_eq!(fields["str::email"], "ann@example.com");
    assert_eq!(fields["str::phone"], "+1 555", "append fills empty fields");

    // Overwriting Ann's email with Bo's would give two people one email.
    let collision = app
        .talk_session(json!({"person_id": ann_id, "merge_strategy": 2,
            "fields": {"str::email": " BO@example.com", "str::name": "Bo Other"}}))
        .await;
    assert_eq!(
        (collision.status, collision.code().as_str()),
        (StatusCode::CONFLICT, "email_in_use")
    );
    assert_eq!(
        person_fields(&app, &ann_id).await["str::email"],
        "ann@example.com"
    );

    // An unknown id falls back to the merge fields.
    let fallback = app
        .talk_session(
            json!({"person_id": "006281d8ff95c3ed70b70801", "skip_non_existing": true,
            "fields": {"str::email": "bo@example.com", "str::name": "Bo Other"}}),
        )
        .await
        .json();
    assert_eq!(fallback["person_status"], "by-merge-field");
    assert_eq!(fallback["person_id"], bo_id.as_str());
}

// ---------------------------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn typed_and_custom_fields_are_stored_with_their_json_type() {
    let app = test_app().await;
    let answer = app
        .talk_session(json!({"fields": {
            "str::email": "ann@example.com", "str::name": "  Ann Mary Smith ",
            "str:cm:customer-id": " C-42 ", "int::visits": 3, "int:cm:seats": -2,
            "bool::vip": true, "bool:cm:trial": false, "str::phone": "  ",
        }}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let person_id = answer.json()["person_id"].as_str().unwrap().to_string();
    let profile = app.person_profile(&person_id).await;
    assert_eq!(
        profile["person"]["fields"],
        json!({
            "str::email": "ann@example.com", "str::name": "Ann Mary Smith",
            "str::first": "Ann", "str::last": "Mary Smith",
            "str:cm:customer-id": "C-42", "int::visits": 3, "int:cm:seats": -2,
            "bool::vip": true, "bool:cm:trial": false,
        }),
        "blank text is left out; names split at the first space"
    );
    assert_eq!(profile["person"]["first_name"], "Ann");
    assert_eq!(profile["person"]["last_name"], "Mary Smith");
    assert_eq!(profile["person"]["name"], "Ann Mary Smith");

    // Integers, booleans and custom text are merge keys too (text compared trimmed).
    for merge_by in [
        json!(["int::visits"]),
        json!(["bool::vip", "str::email"]),
        json!(["str:cm:customer-id"]),
    ] {
        let found = app
            .talk_session(json!({"merge_by": merge_by, "find_strategy": 2, "fields": {
                "str::email": "ann@example.com", "str::name": "Ann", "int::visits": 3,
                "bool::vip": true, "str:cm:customer-id": "C-42  ",
            }}))
            .await
            .json();
        assert_eq!(found["person_status"], "by-merge-field", "{merge_by}");
        assert_eq!(found["person_id"], person_id.as_str(), "{merge_by}");
    }
    let other_count = app
        .talk_session(
            json!({"merge_by": ["int::visits"], "skip_non_existing": true,
            "fields": {"str::email": "ann@example.com", "str::name": "Ann", "int::visits": 4}}),
        )
        .await;
    assert_eq!(other_count.code(), "person_not_found");
}

#[tokio::test]
async fn given_first_or_last_name_is_not_split_from_the_full_name() {
    let app = test_app().await;
    let answer = app
        .talk_session(
            json!({"fields": {"str::email": "cher@example.com", "str::name": "Cher",
            "str::last": "Sarkisian"}}),
        )
        .await
        .json();
    let fields = person_fields(&app, answer["person_id"].as_str().unwrap()).await;
    assert_eq!(fields.get("str::first"), None);
    assert_eq!(fields["str::last"], "Sarkisian");

    let single = app
        .talk_session(
            json!({"fields": {"str::email": "prince@example.com", "str::name": "Prince"}}),
        )
        .await
        .json();
    let fields = person_fields(&app, single["person_id"].as_str().unwrap()).await;
    assert_eq!(fields["str::first"], "Prince");
    assert_eq!(fields.get("str::last"), None);

    // Overwrite fills the empty last name from the full name but keeps the first name.
    app.talk_session(json!({"fields": {"str::email": "prince@example.com",
        "str::name": "Prince Nelson"}}))
        .await;
    let fields = person_fields(&app, single["person_id"].as_str().unwrap()).await;
    assert_eq!(fields["str::first"], "Prince");
    assert_eq!(fields["str::last"], "Nelson");

    // Ignore leaves even empty names alone; append only fills them.
    let cher_id = answer["person_id"].as_str().unwrap();
    let cher = |merge_strategy: u8| {
        json!({"merge_strategy": merge_strategy,
            "fields": {"str::email": "cher@example.com", "str::name": "Cherilyn Sarkisian"}})
    };
    app.talk_session(cher(3)).await;
    assert_eq!(person_fields(&app, cher_id).await.get("str::first"), None);
    app.talk_session(cher(1)).await;
    let fields = person_fields(&app, cher_id).await;
    assert_eq!(fields["str::first"], "Cherilyn");
    assert_eq!(fields["str::last"], "Sarkisian");
    assert_eq!(fields["str::name"], "Cher");
}

#[tokio::test]
async fn field_and_location_errors() {
    let app = test_app().await;
    let with = |extra: Value| {
        let mut fields = ann();
        for (name, value) in extra.as_object().unwrap() {
            fields[name] = value.clone();
        }
        json!({"fields": fields})
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(json!({"phn::phone": "+1"})), "invalid_field"),
        (with(json!({"email": "a@example.com"})), "invalid_field"),
        (with(json!({"str::": "x"})), "invalid_field"),
        (with(json!({"str::bad name": "x"})), "invalid_field"),
        (with(json!({"str::phone": 5})), "invalid_field_value"),
        (with(json!({"int::visits": "3"})), "invalid_field_value"),
        (with(json!({"int::visits": 3.5})), "invalid_field_value"),
        (with(json!({"bool::vip": 1})), "invalid_field_value"),
        (with(json!({"str:cm:x": true})), "invalid_field_value"),
        (with(json!({"str::email": 7})), "invalid_field_value"),
        (
            with(json!({"str:cm:bio": "x".repeat(1001)})),
            "field_too_long",
        ),
        (
            json!({"merge_by": ["phone"], "fields": ann()}),
            "invalid_merge_by",
        ),
        (
            json!({"merge_by": ["str::email", "str::email"], "fields": ann()}),
            "invalid_merge_by",
        ),
        (
            json!({"location": {"source_ip": "300.1.1.1"}, "fields": ann()}),
            "invalid_source_ip",
        ),
        (
            json!({"location": {"source_ip": "localhost"}, "fields": ann()}),
            "invalid_source_ip",
        ),
    ];
    for (body, code) in cases {
        let answer = app.talk_session(body.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "{body}"
        );
    }
    assert_eq!(app.people_count().await, 0);
}

#[tokio::test]
async fn source_ip_is_the_last_seen_ip_whatever_the_merge_strategy() {
    let app = test_app().await;
    let first = app
        .talk_session(json!({"location": {"source_ip": " 119.19.0.218 "}, "fields": ann()}))
        .await
        .json();
    let person_id = first["person_id"].as_str().unwrap();
    assert_eq!(
        app.person_profile(person_id).await["person"]["last_seen_ip"],
        "119.19.0.218"
    );
    app.talk_session(
        json!({"merge_strategy": 3, "location": {"source_ip": "2001:db8::1"},
        "fields": ann()}),
    )
    .await;
    let profile = app.person_profile(person_id).await;
    assert_eq!(profile["person"]["last_seen_ip"], "2001:db8::1");
    assert_eq!(profile["person"]["fields"]["str::name"], "Ann Original");
}

/// A visitor types Erin's email with its own names; Erin's backend then verifies her with
/// the documented body. Whatever the merge strategy, her verified person never holds a name
/// typed in an unverified session.
#[tokio::test]
async fn unverified_names_never_become_verified_fields() {
    let app = test_app().await;
    let mut shown = Vec::new();
    for strategy in [1u8, 2, 3] {
        let email = format!("erin{strategy}@example.com");
        let mallory = app.session_token(&visitor_id(strategy), None).await;
        let typed = app
            .identify(
                &mallory,
                json!({"email": email, "first_name": "Mallory", "last_name": "Evil"}),
            )
            .await;
        assert_eq!(typed.status, StatusCode::OK, "{}", typed.text);

        let minted = app
            .talk_session(
                json!({"merge_by": ["str::email"], "merge_strategy": strategy,
                "find_strategy": 0, "fields": {"str::email": email, "str::name": "Erin Real"}}),
            )
            .await;
        assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
        let minted = minted.json();
        let erin = app
            .widget_session(&visitor_id(strategy + 10), minted["token"].as_str())
            .await
            .json();
        assert_eq!(erin["verified"], true);
        let person = &erin["person"];
        let stored = person_fields(&app, minted["person_id"].as_str().unwrap()).await;
        shown.push(json!({"merge_strategy": strategy,
            "verified": [person["first_name"], person["last_name"], person["name"]],
            "stored_names": [stored["str::first"], stored["str::last"], stored["str::name"]]}));
    }
    // Strategy 3 leaves the person as the typed email created it: the email alone.
    assert_eq!(
        shown,
        [
            json!({"merge_strategy": 1, "verified": ["Erin", "Real", "Erin Real"],
                "stored_names": ["Erin", "Real", "Erin Real"]}),
            json!({"merge_strategy": 2, "verified": ["Erin", "Real", "Erin Real"],
                "stored_names": ["Erin", "Real", "Erin Real"]}),
            json!({"merge_strategy": 3, "verified": [null, null, null],
                "stored_names": [null, null, null]}),
        ]
    );
}
