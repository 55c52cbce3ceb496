//! What the capture-widget and bot forms hold while an admin types, checked against the
//! server's limits (the constants in `talk_protocol::captures` and `bots`) and turned into the
//! request. Numbers and dates stay text as typed, so a half-typed value is never lost and the
//! problem is named next to its field; the server checks everything again.

use crate::datetime::{LocalDateTime, YEARS};
use crate::validation::{is_web_url, problem, Problem};
use talk_protocol::{
    Audience, BotInput, BotTakes, CaptureDisplay, CaptureSender, CaptureWidgetInput, Frequency,
    GreetingTemplate, UrlMatch, UrlRule, MAX_BOT_NAME_CHARS, MAX_CAPTURE_DELAY_SECS,
    MAX_CAPTURE_MESSAGE_BYTES, MAX_CAPTURE_NAME_CHARS, MAX_CAPTURE_RULES, MAX_CAPTURE_RULE_BYTES,
    MAX_WEBHOOK_URL_BYTES,
};

/// The capture-widget form. Problems are keyed by the field's test id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureDraft {
    pub name: String,
    pub enabled: bool,
    pub message: String,
    pub sender: CaptureSender,
    pub rules: Vec<UrlRule>,
    /// Seconds on the page, as typed.
    pub delay_secs: String,
    pub audience: Audience,
    pub frequency: Frequency,
    /// Seconds, as typed.
    pub min_gap_secs: String,
    /// A `datetime-local` value, or empty for "at once".
    pub starts_at: String,
    /// A `datetime-local` value, or empty for "never ends".
    pub ends_at: String,
    pub display: CaptureDisplay,
}

impl Default for CaptureDraft {
    fn default() -> Self {
        CaptureDraft {
            name: String::new(),
            enabled: true,
            message: String::new(),
            sender: CaptureSender::Bot,
            rules: Vec::new(),
            delay_secs: "0".into(),
            audience: Audience::default(),
            frequency: Frequency::default(),
            min_gap_secs: "0".into(),
            starts_at: String::new(),
            ends_at: String::new(),
            display: CaptureDisplay::default(),
        }
    }
}

/// A new, empty URL rule: an include rule on pages whose URL contains the value.
pub fn new_rule() -> UrlRule {
    UrlRule {
        kind: UrlMatch::Contains,
        value: String::new(),
        exclude: false,
    }
}

impl CaptureDraft {
    /// A stored capture widget in the form; `local` writes an instant in the agent's zone.
    pub fn from_input(input: &CaptureWidgetInput, local: impl Fn(i64) -> LocalDateTime) -> Self {
        let date = |at: Option<i64>| at.map(|ms| local(ms).format()).unwrap_or_default();
        CaptureDraft {
            name: input.name.clone(),
            enabled: input.enabled,
            message: input.message.clone(),
            sender: input.sender.clone(),
            rules: input.rules.clone(),
            delay_secs: input.delay_secs.to_string(),
            audience: input.audience,
            frequency: input.frequency,
            min_gap_secs: input.min_gap_secs.to_string(),
            starts_at: date(input.starts_at),
            ends_at: date(input.ends_at),
            display: input.display,
        }
    }

    /// The request, or every problem in the order the form shows the fields. `to_ms` turns a
    /// local date-time into an instant in the agent's zone.
    pub fn to_input(
        &self,
        to_ms: impl Fn(LocalDateTime) -> i64,
    ) -> Result<CaptureWidgetInput, Vec<Problem>> {
        let mut problems = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_CAPTURE_NAME_CHARS {
            problems.push(problem(
                "capture-name",
                format!("Give it a name of 1 to {MAX_CAPTURE_NAME_CHARS} characters (only admins see it)."),
            ));
        }
        let message = self.message.trim();
        if message.is_empty() {
            problems.push(problem(
                "capture-message",
                "Write the message visitors see.",
            ));
        } else if message.len() > MAX_CAPTURE_MESSAGE_BYTES {
            problems.push(problem(
                "capture-message",
                format!("The message is too long: at most {MAX_CAPTURE_MESSAGE_BYTES} bytes (accented letters and emoji count as several)."),
            ));
        } else {
            match GreetingTemplate::parse(message) {
                Err(reason) => problems.push(problem(
                    "capture-message",
                    format!("The message's merge tags are wrong: {reason}."),
                )),
                // A visitor without a name would get an empty message.
                Ok(template) if template.render(None).trim().is_empty() => {
                    problems.push(problem(
                        "capture-message",
                        "Visitors without a name would see nothing: give the merge tags a fallback, like {{first_name|there}}.",
                    ))
                }
                Ok(_) => {}
            }
        }
        if matches!(&self.sender, CaptureSender::Agent { agent_id } if agent_id.is_empty()) {
            problems.push(problem(
                "capture-sender",
                "Choose who the message comes from.",
            ));
        }
        problems.extend(check_rules(&self.rules));
        let delay_secs = seconds(&self.delay_secs, MAX_CAPTURE_DELAY_SECS);
        if delay_secs.is_none() {
            problems.push(problem(
                "capture-delay",
                format!("Enter whole seconds from 0 to {MAX_CAPTURE_DELAY_SECS}."),
            ));
        }
        let min_gap_secs = seconds(&self.min_gap_secs, u32::MAX);
        if min_gap_secs.is_none() {
            problems.push(problem(
                "capture-min-gap",
                "Enter whole seconds, 0 or more.",
            ));
        }
        let starts_at = optional_date(&self.starts_at, "capture-starts", &mut problems);
        let ends_at = optional_date(&self.ends_at, "capture-ends", &mut problems);
        let starts_at = starts_at.map(&to_ms);
        let ends_at = ends_at.map(&to_ms);
        if let (Some(start), Some(end)) = (starts_at, ends_at) {
            if end <= start {
                problems.push(problem(
                    "capture-ends",
                    "The end must come after the start.",
                ));
            }
        }
        match (delay_secs, min_gap_secs) {
            (Some(delay_secs), Some(min_gap_secs)) if problems.is_empty() => {
                Ok(CaptureWidgetInput {
                    name: name.to_string(),
                    enabled: self.enabled,
                    message: message.to_string(),
                    sender: self.sender.clone(),
                    rules: self
                        .rules
                        .iter()
                        .map(|rule| UrlRule {
                            value: rule.value.trim().to_string(),
                            ..rule.clone()
                        })
                        .collect(),
                    delay_secs,
                    audience: self.audience,
                    frequency: self.frequency,
                    min_gap_secs,
                    starts_at,
                    ends_at,
                    display: self.display,
                })
            }
            _ => Err(problems),
        }
    }
}

/// The URL rules: how many, and each one's value (`capture-rule-value-{index}`).
pub fn check_rules(rules: &[UrlRule]) -> Vec<Problem> {
    let mut problems = Vec::new();
    if rules.len() > MAX_CAPTURE_RULES {
        problems.push(problem(
            "capture-rules",
            format!("There can be at most {MAX_CAPTURE_RULES} URL rules."),
        ));
    }
    for (index, rule) in rules.iter().enumerate() {
        let value = rule.value.trim();
        let field = format!("capture-rule-value-{index}");
        if value.is_empty() {
            problems.push(problem(
                field,
                format!(
                    "Rule {}: enter a URL or a part of one, like /pricing (or remove the rule).",
                    index + 1
                ),
            ));
        } else if value.len() > MAX_CAPTURE_RULE_BYTES {
            problems.push(problem(
                field,
                format!(
                    "Rule {}: at most {MAX_CAPTURE_RULE_BYTES} bytes.",
                    index + 1
                ),
            ));
        }
    }
    problems
}

/// Whole seconds from 0 to `max`, as typed.
fn seconds(text: &str, max: u32) -> Option<u32> {
    text.trim().parse::<u32>().ok().filter(|secs| *secs <= max)
}

/// An empty input is no date; anything else must be one.
fn optional_date(text: &str, field: &str, problems: &mut Vec<Problem>) -> Option<LocalDateTime> {
    if text.trim().is_empty() {
        return None;
    }
    let parsed = LocalDateTime::parse(text);
    if parsed.is_none() {
        problems.push(problem(
            field,
            format!(
                "Enter a date and time between {} and {}, or leave it empty.",
                YEARS.start(),
                YEARS.end()
            ),
        ));
    }
    parsed
}

/// The bot form (register and edit). Problems are keyed by the field's test id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotDraft {
    pub name: String,
    /// Empty for none.
    pub photo_url: String,
    pub webhook_url: String,
    pub takes: BotTakes,
    pub enabled: bool,
}

impl Default for BotDraft {
    fn default() -> Self {
        BotDraft {
            name: String::new(),
            photo_url: String::new(),
            webhook_url: "https://".into(),
            takes: BotTakes::AllNew,
            enabled: true,
        }
    }
}

impl BotDraft {
    pub fn from_input(input: &BotInput) -> Self {
        BotDraft {
            name: input.name.clone(),
            photo_url: input.photo_url.clone().unwrap_or_default(),
            webhook_url: input.webhook_url.clone(),
            takes: input.takes,
            enabled: input.enabled,
        }
    }

    /// The request, or every problem in the order the form shows the fields.
    pub fn to_input(&self) -> Result<BotInput, Vec<Problem>> {
        let mut problems = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_BOT_NAME_CHARS {
            problems.push(problem(
                "bot-name",
                format!(
                    "Give the bot a name of 1 to {MAX_BOT_NAME_CHARS} characters: visitors see it."
                ),
            ));
        }
        let photo_url = self.photo_url.trim();
        if !photo_url.is_empty() && !is_web_url(photo_url) {
            problems.push(problem(
                "bot-photo",
                "The photo must be an https:// address of an image, or empty.",
            ));
        }
        let webhook_url = self.webhook_url.trim();
        if !is_web_url(webhook_url) || webhook_url.len() > MAX_WEBHOOK_URL_BYTES {
            problems.push(problem(
                "bot-webhook",
                format!("Enter the address Talk posts to, like https://bot.example.com/talk (at most {MAX_WEBHOOK_URL_BYTES} bytes)."),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(BotInput {
            name: name.to_string(),
            photo_url: (!photo_url.is_empty()).then(|| photo_url.to_string()),
            webhook_url: webhook_url.to_string(),
            takes: self.takes,
            enabled: self.enabled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::problem_for;

    /// The tests' "local zone": UTC, minutes since the epoch.
    fn utc_ms(local: LocalDateTime) -> i64 {
        let days = days_from_civil(local.year, local.month, local.day);
        ((days * 24 + i64::from(local.hour)) * 60 + i64::from(local.minute)) * 60_000
    }

    // Howard Hinnant's days_from_civil.
    fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
        let year = i64::from(year) - i64::from(month <= 2);
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month = i64::from(month);
        let day_of_year =
            (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + i64::from(day) - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    fn utc_local(ms: i64) -> LocalDateTime {
        // Only the test's own instants come back: 2025-03-01T09:30 and 2025-04-01T00:00.
        [(2025, 3, 1, 9, 30), (2025, 4, 1, 0, 0)]
            .into_iter()
            .map(|(year, month, day, hour, minute)| LocalDateTime {
                year,
                month,
                day,
                hour,
                minute,
            })
            .find(|local| utc_ms(*local) == ms)
            .expect("a known instant")
    }

    fn fields(problems: Vec<Problem>) -> Vec<String> {
        problems.into_iter().map(|p| p.field).collect()
    }

    fn good_draft() -> CaptureDraft {
        CaptureDraft {
            name: " Pricing help ".into(),
            message: "Hi {{first_name|there}}, questions about plans?".into(),
            sender: CaptureSender::Agent {
                agent_id: "a1".into(),
            },
            rules: vec![
                UrlRule {
                    kind: UrlMatch::StartsWith,
                    value: " /pricing ".into(),
                    exclude: false,
                },
                UrlRule {
                    kind: UrlMatch::Contains,
                    value: "utm_source=ads".into(),
                    exclude: true,
                },
            ],
            delay_secs: "3".into(),
            audience: Audience::Unidentified,
            frequency: Frequency::OncePerSession,
            min_gap_secs: "3600".into(),
            starts_at: "2025-03-01T09:30".into(),
            ends_at: "2025-04-01T00:00".into(),
            display: CaptureDisplay::Opened,
            ..CaptureDraft::default()
        }
    }

    #[test]
    fn a_good_capture_becomes_its_request_and_back() {
        assert_eq!(
            utc_ms(LocalDateTime::parse("1970-01-02T00:01").unwrap()),
            86_460_000
        );
        let input = good_draft().to_input(utc_ms).unwrap();
        assert_eq!(input.name, "Pricing help");
        assert_eq!(input.rules[0].value, "/pricing");
        assert!(input.rules[1].exclude);
        assert_eq!(input.delay_secs, 3);
        assert_eq!(input.min_gap_secs, 3600);
        assert_eq!(input.starts_at, Some(1_740_821_400_000));
        assert_eq!(input.ends_at, Some(1_743_465_600_000));
        assert_eq!(input.display, CaptureDisplay::Opened);
        let again = CaptureDraft::from_input(&input, utc_local);
        assert_eq!(again.starts_at, "2025-03-01T09:30");
        assert_eq!(again.ends_at, "2025-04-01T00:00");
        assert_eq!(again.to_input(utc_ms), Ok(input));
    }

    #[test]
    fn empty_dates_mean_at_once_and_never_ending() {
        let draft = CaptureDraft {
            starts_at: " ".into(),
            ends_at: String::new(),
            ..good_draft()
        };
        let input = draft.to_input(utc_ms).unwrap();
        assert_eq!((input.starts_at, input.ends_at), (None, None));
        assert_eq!(CaptureDraft::from_input(&input, utc_local).starts_at, "");
    }

    #[test]
    fn each_bad_capture_field_is_named_in_form_order() {
        let draft = CaptureDraft {
            name: " ".into(),
            message: "Hi {{password}}".into(),
            sender: CaptureSender::Agent {
                agent_id: String::new(),
            },
            rules: vec![new_rule()],
            delay_secs: "3601".into(),
            min_gap_secs: "-1".into(),
            starts_at: "tomorrow".into(),
            ends_at: "2025-02-30T10:00".into(),
            ..CaptureDraft::default()
        };
        assert_eq!(
            fields(draft.to_input(utc_ms).unwrap_err()),
            [
                "capture-name",
                "capture-message",
                "capture-sender",
                "capture-rule-value-0",
                "capture-delay",
                "capture-min-gap",
                "capture-starts",
                "capture-ends"
            ]
        );
    }

    #[test]
    fn capture_bounds_are_the_servers() {
        let at_limit = CaptureDraft {
            name: "n".repeat(MAX_CAPTURE_NAME_CHARS),
            message: "é".repeat(MAX_CAPTURE_MESSAGE_BYTES / 2),
            delay_secs: MAX_CAPTURE_DELAY_SECS.to_string(),
            rules: vec![
                UrlRule {
                    value: "/".repeat(MAX_CAPTURE_RULE_BYTES),
                    ..new_rule()
                };
                MAX_CAPTURE_RULES
            ],
            ..good_draft()
        };
        assert!(at_limit.to_input(utc_ms).is_ok());
        let over = CaptureDraft {
            name: "n".repeat(MAX_CAPTURE_NAME_CHARS + 1),
            // Bytes, not characters: one more two-byte letter is over.
            message: "é".repeat(MAX_CAPTURE_MESSAGE_BYTES / 2 + 1),
            delay_secs: (MAX_CAPTURE_DELAY_SECS + 1).to_string(),
            rules: vec![
                UrlRule {
                    value: "/".repeat(MAX_CAPTURE_RULE_BYTES + 1),
                    ..new_rule()
                };
                MAX_CAPTURE_RULES + 1
            ],
            ..good_draft()
        };
        let found = fields(over.to_input(utc_ms).unwrap_err());
        assert_eq!(
            &found[..3],
            ["capture-name", "capture-message", "capture-rules"]
        );
        assert_eq!(
            found
                .iter()
                .filter(|f| f.starts_with("capture-rule-value-"))
                .count(),
            MAX_CAPTURE_RULES + 1
        );
        assert_eq!(found.last().map(String::as_str), Some("capture-delay"));
    }

    #[test]
    fn a_message_must_say_something_to_a_visitor_without_a_name() {
        let message_problem = |message: &str| {
            let draft = CaptureDraft {
                message: message.into(),
                ..good_draft()
            };
            draft
                .to_input(utc_ms)
                .err()
                .and_then(|problems| problem_for(&problems, "capture-message"))
        };
        assert!(message_problem("{{first_name}} {{last_name}}")
            .is_some_and(|text| text.contains("give the merge tags a fallback")));
        assert_eq!(message_problem("{{first_name|Hi}}"), None);
        assert_eq!(message_problem("Hi {{first_name}}"), None);
    }

    #[test]
    fn the_end_must_follow_the_start() {
        let draft = CaptureDraft {
            starts_at: "2025-04-01T00:00".into(),
            ends_at: "2025-04-01T00:00".into(),
            ..good_draft()
        };
        let problems = draft.to_input(utc_ms).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "capture-ends");
        assert_eq!(problems[0].message, "The end must come after the start.");
    }

    #[test]
    fn a_bot_needs_a_name_and_a_web_address() {
        let draft = BotDraft {
            name: " Ada ".into(),
            photo_url: " ".into(),
            webhook_url: " https://bot.example.com/talk ".into(),
            takes: BotTakes::OutsideOfficeHours,
            enabled: true,
        };
        let input = draft.to_input().unwrap();
        assert_eq!(input.name, "Ada");
        assert_eq!(input.photo_url, None);
        assert_eq!(input.webhook_url, "https://bot.example.com/talk");
        assert_eq!(BotDraft::from_input(&input).to_input(), Ok(input));

        let bad = BotDraft {
            name: "n".repeat(MAX_BOT_NAME_CHARS + 1),
            photo_url: "bot.png".into(),
            ..BotDraft::default()
        };
        assert_eq!(
            fields(bad.to_input().unwrap_err()),
            ["bot-name", "bot-photo", "bot-webhook"]
        );
        let long = BotDraft {
            name: "Ada".into(),
            webhook_url: format!(
                "https://bot.example.com/{}",
                "a".repeat(MAX_WEBHOOK_URL_BYTES)
            ),
            ..BotDraft::default()
        };
        assert_eq!(fields(long.to_input().unwrap_err()), ["bot-webhook"]);
        for refused in [
            "ftp://bot.example.com",
            "bot.example.com",
            "https://",
            "https://bot .example.com",
        ] {
            let draft = BotDraft {
                name: "Ada".into(),
                webhook_url: refused.into(),
                ..BotDraft::default()
            };
            assert!(draft.to_input().is_err(), "{refused}");
        }
    }
}
