//! Widget settings (admin API) and the public widget configuration the widget loads with its
//! capture key. Defaults are what a new workspace shows.

use crate::agents::Presence;
use crate::PersonSummary;
use serde::{Deserialize, Serialize};

/// Everything an admin configures about the messenger. `PUT` replaces it whole; a field left
/// out takes its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WidgetSettings {
    /// Off: the loader draws nothing.
    pub enabled: bool,
    pub homepage: Homepage,
    pub launcher: Launcher,
    /// Unidentified visitors give first and last name besides the email.
    pub names_required: bool,
    pub response_times: ResponseTimes,
    /// Visitors and agents may call each other (WebRTC; the server's STUN/TURN settings say
    /// how media gets through).
    pub voice: bool,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            enabled: true,
            homepage: Homepage::default(),
            launcher: Launcher::default(),
            names_required: false,
            response_times: ResponseTimes::default(),
            voice: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Homepage {
    /// http(s) only.
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub brand_color: String,
    /// `#rrggbb`, drawn on the brand colour.
    pub text_color: String,
    /// A CSS font-family list: letters, digits, spaces, commas, hyphens and quotes.
    pub font_family: String,
    /// Author name of the auto-reply.
    pub bot_name: String,
    /// http(s) only.
    pub bot_photo_url: Option<String>,
    /// Plain text with merge tags, e.g. `Hi {{first_name|there}} 👋` (see [`GreetingTemplate`]).
    pub greeting: String,
    /// At most [`MAX_QUICK_LINKS`].
    pub quick_links: Vec<QuickLink>,
    /// Light or dark, or the visitor's system setting.
    #[serde(default)]
    pub appearance: Appearance,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Appearance {
    /// Follows the visitor's `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

impl Default for Homepage {
    fn default() -> Self {
        Homepage {
            logo_url: None,
            brand_color: "#1f6feb".into(),
            text_color: "#ffffff".into(),
            font_family: "system-ui, sans-serif".into(),
            bot_name: "Talk Bot".into(),
            bot_photo_url: None,
            greeting: "Hi {{first_name|there}} 👋".into(),
            quick_links: Vec::new(),
            appearance: Appearance::Auto,
        }
    }
}

pub const MAX_QUICK_LINKS: usize = 10;
pub const MAX_QUICK_LINK_LABEL_CHARS: usize = 60;
pub const MAX_FONT_FAMILY_CHARS: usize = 200;
pub const MAX_BOT_NAME_CHARS: usize = 60;
pub const MAX_GREETING_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickLink {
    pub label: String,
    /// http(s) only.
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Launcher {
    pub icon: LauncherIcon,
    pub position: LauncherPosition,
    /// Pixels from the side, 0..=200.
    pub horizontal_margin: u16,
    /// Pixels from the bottom, 0..=200.
    pub vertical_margin: u16,
    /// 0..=2147483647.
    pub z_index: u32,
}

impl Default for Launcher {
    fn default() -> Self {
        Launcher {
            icon: LauncherIcon::Default,
            position: LauncherPosition::Right,
            horizontal_margin: 20,
            vertical_margin: 20,
            z_index: 2_147_483_000,
        }
    }
}

pub const MAX_LAUNCHER_MARGIN: u16 = 200;
pub const MAX_Z_INDEX: u32 = i32::MAX as u32;

/// `{"kind": "default"}`, `{"kind": "chat"}`, `{"kind": "question"}` or
/// `{"kind": "custom", "url": "https://…"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LauncherIcon {
    #[default]
    Default,
    Chat,
    Question,
    Custom {
        url: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LauncherPosition {
    #[default]
    Right,
    Left,
}

/// Shown on the homepage and quoted by the auto-reply, per the workspace's status.
/// An empty text means no auto-reply in that status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponseTimes {
    pub online: String,
    pub away: String,
}

impl Default for ResponseTimes {
    fn default() -> Self {
        ResponseTimes {
            online: "We typically reply in a few minutes.".into(),
            away: "We'll reply as soon as we're back.".into(),
        }
    }
}

pub const MAX_RESPONSE_TIME_CHARS: usize = 120;

/// `GET /v1/talk/widget/config?capture_key=…`: public, what the widget draws before a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetConfig {
    pub settings: WidgetSettings,
    /// `online` while any agent is online.
    pub status: Presence,
    pub online_agents: Vec<OnlineAgent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnlineAgent {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
}

/// A greeting with merge tags: `{{tag}}` or `{{tag|fallback}}`, where tag is `first_name`,
/// `last_name` or `name`. Rendering yields plain text: the widget inserts it as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreetingTemplate {
    parts: Vec<GreetingPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum GreetingPart {
    Text(String),
    Tag { tag: MergeTag, fallback: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MergeTag {
    FirstName,
    LastName,
    Name,
}

/// Where the two ASCII bytes `pair` first stand together in `text`. A byte scan, not
/// `str::find("{{")`: the widget parses greetings too, and a string pattern brings core's
/// two-way searcher into its WASM.
fn find_pair(text: &str, pair: &[u8; 2]) -> Option<usize> {
    text.as_bytes().windows(2).position(|window| window == pair)
}

/// What is wrong with a greeting template.
enum TemplateError<'a> {
    Unclosed,
    UnknownTag(&'a str),
}

impl GreetingTemplate {
    /// Fails with a human-readable reason on an unclosed `{{` or an unknown tag.
    pub fn parse(template: &str) -> Result<Self, String> {
        Self::read_parts(template).map_err(|error| match error {
            TemplateError::Unclosed => "a merge tag `{{` is not closed with `}}`".to_string(),
            TemplateError::UnknownTag(tag) => {
                format!("unknown merge tag `{tag}`: use first_name, last_name or name")
            }
        })
    }

    /// The template, if it is one: `parse` without the reason, for the widget, which only
    /// shows a valid greeting (the server refuses to save any other) and so carries neither
    /// the reasons' texts nor their formatting.
    pub fn read(template: &str) -> Option<Self> {
        Self::read_parts(template).ok()
    }

    fn read_parts(template: &str) -> Result<Self, TemplateError<'_>> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(start) = find_pair(rest, b"{{") {
            if start > 0 {
                parts.push(GreetingPart::Text(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = find_pair(after, b"}}").ok_or(TemplateError::Unclosed)?;
            let inner = &after[..end];
            let (name, fallback) = match inner.split_once('|') {
                Some((name, fallback)) => (name.trim(), fallback.trim()),
                None => (inner.trim(), ""),
            };
            let tag = match name {
                "first_name" => MergeTag::FirstName,
                "last_name" => MergeTag::LastName,
                "name" => MergeTag::Name,
                other => return Err(TemplateError::UnknownTag(other)),
            };
            parts.push(GreetingPart::Tag {
                tag,
                fallback: fallback.to_string(),
            });
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(GreetingPart::Text(rest.to_string()));
        }
        Ok(GreetingTemplate { parts })
    }

    /// Plain text for this person (or an anonymous visitor): each tag becomes the person's
    /// value, else its fallback.
    pub fn render(&self, person: Option<&PersonSummary>) -> String {
        let value = |tag: MergeTag| -> Option<String> {
            let person = person?;
            let field = match tag {
                MergeTag::FirstName => &person.first_name,
                MergeTag::LastName => &person.last_name,
                MergeTag::Name => &person.name,
            };
            field
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_string)
        };
        self.parts
            .iter()
            .map(|part| match part {
                GreetingPart::Text(text) => text.clone(),
                GreetingPart::Tag { tag, fallback } => {
                    value(*tag).unwrap_or_else(|| fallback.clone())
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn default_greeting_renders_with_and_without_a_name() {
        let template = GreetingTemplate::parse(&Homepage::default().greeting).unwrap();
        assert_eq!(template.render(None), "Hi there 👋");
        let ann = PersonSummary {
            first_name: Some("Ann".into()),
            ..Default::default()
        };
        assert_eq!(template.render(Some(&ann)), "Hi Ann 👋");
    }

    #[test]
    fn bad_templates_are_refused() {
        assert!(GreetingTemplate::parse("Hi {{first_name").is_err());
        assert!(GreetingTemplate::parse("Hi {{password}}").is_err());
        assert_eq!(
            GreetingTemplate::parse("{{ name | friend }}!")
                .unwrap()
                .render(None),
            "friend!"
        );
    }

    #[test]
    fn missing_fields_take_defaults() {
        let settings: WidgetSettings =
            serde_json::from_value(json!({"enabled": false, "launcher": {"position": "left"}}))
                .unwrap();
        assert!(!settings.enabled);
        assert_eq!(settings.launcher.position, LauncherPosition::Left);
        assert_eq!(settings.launcher.horizontal_margin, 20);
        assert_eq!(settings.homepage, Homepage::default());
    }

    #[test]
    fn launcher_icon_is_tagged_by_kind() {
        assert_eq!(
            serde_json::to_value(LauncherIcon::Custom {
                url: "https://example.com/i.svg".into()
            })
            .unwrap(),
            json!({"kind": "custom", "url": "https://example.com/i.svg"})
        );
        assert_eq!(
            serde_json::from_value::<LauncherIcon>(json!({"kind": "chat"})).unwrap(),
            LauncherIcon::Chat
        );
    }
}
