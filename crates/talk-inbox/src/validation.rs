//! Form checks made before anything is sent, with the same limits as the server (which checks
//! again: these only spare a round trip and say at once what to fix).

use talk_protocol::{
    is_plausible_email, GreetingTemplate, LauncherIcon, WidgetSettings, MAX_BOT_NAME_CHARS,
    MAX_FONT_FAMILY_CHARS, MAX_GREETING_CHARS, MAX_LAUNCHER_MARGIN, MAX_QUICK_LINKS,
    MAX_QUICK_LINK_LABEL_CHARS, MAX_RESPONSE_TIME_CHARS,
};

/// One problem, keyed by the field it belongs to (the key is also the field's test id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub message: String,
}

pub(crate) fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

/// The message for `field`, if it has a problem.
pub fn problem_for(problems: &[Problem], field: &str) -> Option<String> {
    problems
        .iter()
        .find(|problem| problem.field == field)
        .map(|problem| problem.message.clone())
}

/// The sign-in form: both fields, a plausible email.
pub fn check_sign_in(email: &str, password: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    if email.trim().is_empty() {
        problems.push(problem("signin-email", "Enter your email address."));
    } else if !is_plausible_email(email) {
        problems.push(problem(
            "signin-email",
            "Enter an email address like name@example.com.",
        ));
    }
    if password.is_empty() {
        problems.push(problem("signin-password", "Enter your password."));
    }
    problems
}

/// An absolute http(s) URL with a host and no spaces.
pub fn is_web_url(value: &str) -> bool {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !host.starts_with(':')
                && !value.chars().any(char::is_whitespace)
                && value.len() <= 2048
        }
        None => false,
    }
}

/// `scheme://host[:port]`, nothing after it (a trailing slash is forgiven, as the server does).
pub fn is_origin(value: &str) -> bool {
    let value = value.trim().trim_end_matches('/');
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host) => {
            let (name, port) = match host.rsplit_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (host, None),
            };
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
                && port.is_none_or(|port| {
                    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
                })
        }
        None => false,
    }
}

pub fn is_hex_colour(value: &str) -> bool {
    let value = value.trim();
    value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn is_font_family(value: &str) -> bool {
    let value = value.trim();
    !value.is_empty()
        && value.chars().count() <= MAX_FONT_FAMILY_CHARS
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | ',' | '-' | '_' | '\'' | '"'))
}

/// A margin as typed: whole pixels, 0 to the maximum.
pub fn parse_margin(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|margin| *margin <= MAX_LAUNCHER_MARGIN)
        .ok_or_else(|| format!("Enter whole pixels from 0 to {MAX_LAUNCHER_MARGIN}."))
}

/// Every problem in the widget settings, in the order the form shows the fields.
pub fn check_settings(settings: &WidgetSettings) -> Vec<Problem> {
    let mut problems = Vec::new();
    let homepage = &settings.homepage;
    if let Some(url) = homepage
        .logo_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        if !is_web_url(url) {
            problems.push(problem(
                "settings-logo-url",
                "The logo must be an https:// or http:// address.",
            ));
        }
    }
    if !is_hex_colour(&homepage.brand_color) {
        problems.push(problem(
            "settings-brand-color",
            "Write the brand colour like #1f6feb.",
        ));
    }
    if !is_hex_colour(&homepage.text_color) {
        problems.push(problem(
            "settings-text-color",
            "Write the text colour like #ffffff.",
        ));
    }
    if !is_font_family(&homepage.font_family) {
        problems.push(problem(
            "settings-font-family",
            format!("Use a font list like Inter, sans-serif: letters, digits, spaces, commas, hyphens and quotes, at most {MAX_FONT_FAMILY_CHARS}."),
        ));
    }
    let bot_name = homepage.bot_name.trim();
    if bot_name.is_empty() || bot_name.chars().count() > MAX_BOT_NAME_CHARS {
        problems.push(problem(
            "settings-bot-name",
            format!("The bot needs a name of 1 to {MAX_BOT_NAME_CHARS} characters."),
        ));
    }
    if let Some(url) = homepage
        .bot_photo_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        if !is_web_url(url) {
            problems.push(problem(
                "settings-bot-photo-url",
                "The bot photo must be an https:// or http:// address.",
            ));
        }
    }
    if homepage.greeting.trim().chars().count() > MAX_GREETING_CHARS {
        problems.push(problem(
            "settings-greeting",
            format!("The greeting is at most {MAX_GREETING_CHARS} characters."),
        ));
    } else if let Err(reason) = GreetingTemplate::parse(homepage.greeting.trim()) {
        problems.push(problem(
            "settings-greeting",
            format!("The greeting's merge tags are wrong: {reason}."),
        ));
    }
    if homepage.quick_links.len() > MAX_QUICK_LINKS {
        problems.push(problem(
            "settings-quick-links",
            format!("There can be at most {MAX_QUICK_LINKS} quick links."),
        ));
    }
    for (index, link) in homepage.quick_links.iter().enumerate() {
        let label = link.label.trim();
        if label.is_empty() || label.chars().count() > MAX_QUICK_LINK_LABEL_CHARS {
            problems.push(problem(
                format!("settings-quick-link-label-{index}"),
                format!(
                    "Quick link {}: give it a label of 1 to {MAX_QUICK_LINK_LABEL_CHARS} characters.",
                    index + 1
                ),
            ));
        }
        if !is_web_url(&link.url) {
            problems.push(problem(
                format!("settings-quick-link-url-{index}"),
                format!(
                    "Quick link {}: the address must start with https:// or http://.",
                    index + 1
                ),
            ));
        }
    }
    if let LauncherIcon::Custom { url } = &settings.launcher.icon {
        if !is_web_url(url) {
            problems.push(problem(
                "settings-launcher-icon-url",
                "A custom icon needs an https:// or http:// address.",
            ));
        }
    }
    for (field, name, text) in [
        (
            "settings-response-online",
            "online",
            &settings.response_times.online,
        ),
        (
            "settings-response-away",
            "away",
            &settings.response_times.away,
        ),
    ] {
        if text.trim().chars().count() > MAX_RESPONSE_TIME_CHARS {
            problems.push(problem(
                field,
                format!(
                    "The {name} response time is at most {MAX_RESPONSE_TIME_CHARS} characters."
                ),
            ));
        }
    }
    problems
}

/// The allowed-origins box: one origin per line; blank lines are skipped.
pub fn parse_origins(text: &str) -> Result<Vec<String>, Problem> {
    let mut origins = Vec::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if !is_origin(line) {
            return Err(problem(
                "settings-origins",
                format!("`{line}` is not an origin: write scheme://host[:port], like https://www.example.com."),
            ));
        }
        origins.push(line.trim_end_matches('/').to_string());
    }
    Ok(origins)
}

/// The new-agent form.
pub fn check_new_agent(email: &str, name: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !is_plausible_email(email) {
        problems.push(problem(
            "settings-agent-email",
            "Enter the agent's email address, like sam@example.com.",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        problems.push(problem(
            "settings-agent-name",
            "Enter the agent's name (1 to 100 characters).",
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::QuickLink;

    #[test]
    fn settings_defaults_pass_and_each_bad_field_is_named() {
        assert_eq!(check_settings(&WidgetSettings::default()), Vec::new());
        let mut settings = WidgetSettings::default();
        settings.homepage.brand_color = "blue".into();
        settings.homepage.greeting = "Hi {{password}}".into();
        settings.homepage.quick_links = vec![QuickLink {
            label: " ".into(),
            url: "javascript:alert(1)".into(),
        }];
        settings.launcher.icon = LauncherIcon::Custom {
            url: "icon.svg".into(),
        };
        let fields: Vec<_> = check_settings(&settings)
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            [
                "settings-brand-color",
                "settings-greeting",
                "settings-quick-link-label-0",
                "settings-quick-link-url-0",
                "settings-launcher-icon-url"
            ]
        );
    }

    #[test]
    fn origins_and_urls() {
        assert!(is_origin("https://www.example.com"));
        assert!(is_origin("http://127.0.0.1:8080/"));
        assert!(!is_origin("https://example.com/shop"));
        assert!(!is_origin("example.com"));
        assert!(!is_origin("https://example.com:"));
        assert!(!is_web_url("https://example.com/a b"));
        assert!(is_web_url("https://example.com/help"));
        assert!(!is_web_url("https:///nohost"));
        assert_eq!(
            parse_origins("https://a.example\n\n http://b.example:8080/ ").unwrap(),
            ["https://a.example", "http://b.example:8080"]
        );
        assert!(parse_origins("https://a.example/path").is_err());
        assert_eq!(parse_margin("200"), Ok(200));
        assert!(parse_margin("201").is_err());
        assert!(parse_margin("-1").is_err());
    }

    #[test]
    fn sign_in_needs_both_fields() {
        let fields =
            |e, p| -> Vec<String> { check_sign_in(e, p).into_iter().map(|p| p.field).collect() };
        assert_eq!(fields("", ""), ["signin-email", "signin-password"]);
        assert_eq!(fields("ada", "x"), ["signin-email"]);
        assert!(fields("ada@example.com", "x").is_empty());
    }
}
