//! A workspace's widget settings: validated, stored as JSON beside the workspace (names_required
//! keeps its own column, which the widget session reads), defaults when never saved.

use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::store::{StoreError, StoreResult};
use crate::validate::{checked_color, checked_optional_url, checked_text, checked_url};
use talk_protocol::{
    GreetingTemplate, LauncherIcon, QuickLink, WidgetSettings, MAX_BOT_NAME_CHARS,
    MAX_FONT_FAMILY_CHARS, MAX_GREETING_CHARS, MAX_LAUNCHER_MARGIN, MAX_QUICK_LINKS,
    MAX_QUICK_LINK_LABEL_CHARS, MAX_RESPONSE_TIME_CHARS, MAX_Z_INDEX,
};

/// The settings of a workspace, or `None` if there is no such workspace.
pub async fn load(db: &Db, workspace_id: &str) -> StoreResult<Option<WidgetSettings>> {
    let row = db.widget_settings(workspace_id).await?;
    Ok(row.map(|(stored, names_required)| {
        let mut settings: WidgetSettings = stored
            .and_then(|json| match serde_json::from_str(&json) {
                Ok(settings) => Some(settings),
                Err(error) => {
                    tracing::error!(%error, workspace_id, "stored widget settings unreadable; using defaults");
                    None
                }
            })
            .unwrap_or_default();
        settings.names_required = names_required;
        settings
    }))
}

/// Stores settings that passed [`validated`].
pub async fn save(db: &Db, workspace_id: &str, settings: &WidgetSettings) -> StoreResult<()> {
    let json = serde_json::to_string(settings)
        .map_err(|error| StoreError::other(format!("encoding widget settings: {error}")))?;
    db.save_widget_settings(workspace_id, &json, settings.names_required)
        .await
}

/// The settings as they will be stored (trimmed, URLs and colours normalised), or the first
/// problem found.
pub fn validated(mut settings: WidgetSettings) -> ApiResult<WidgetSettings> {
    let homepage = &mut settings.homepage;
    homepage.logo_url = checked_optional_url("homepage.logo_url", homepage.logo_url.as_deref())?;
    homepage.bot_photo_url =
        checked_optional_url("homepage.bot_photo_url", homepage.bot_photo_url.as_deref())?;
    homepage.brand_color = checked_color("homepage.brand_color", &homepage.brand_color)?;
    homepage.text_color = checked_color("homepage.text_color", &homepage.text_color)?;
    homepage.font_family = checked_font_family(&homepage.font_family)?;
    homepage.bot_name = checked_text(
        "invalid_bot_name",
        "homepage.bot_name",
        &homepage.bot_name,
        MAX_BOT_NAME_CHARS,
    )?;
    homepage.greeting = checked_greeting(&homepage.greeting)?;
    if homepage.quick_links.len() > MAX_QUICK_LINKS {
        return Err(ApiError::bad_request(
            "too_many_quick_links",
            format!("homepage.quick_links holds at most {MAX_QUICK_LINKS} links"),
        ));
    }
    homepage.quick_links = homepage
        .quick_links
        .iter()
        .map(|link| {
            Ok(QuickLink {
                label: checked_text(
                    "invalid_quick_link_label",
                    "each quick link's label",
                    &link.label,
                    MAX_QUICK_LINK_LABEL_CHARS,
                )?,
                url: checked_url("each quick link's url", &link.url)?,
            })
        })
        .collect::<ApiResult<_>>()?;

    let launcher = &mut settings.launcher;
    if let LauncherIcon::Custom { url } = &launcher.icon {
        launcher.icon = LauncherIcon::Custom {
            url: checked_url("launcher.icon.url", url)?,
        };
    }
    if launcher.horizontal_margin > MAX_LAUNCHER_MARGIN
        || launcher.vertical_margin > MAX_LAUNCHER_MARGIN
    {
        return Err(ApiError::bad_request(
            "invalid_margin",
            format!("launcher margins are 0 to {MAX_LAUNCHER_MARGIN} pixels"),
        ));
    }
    if launcher.z_index > MAX_Z_INDEX {
        return Err(ApiError::bad_request(
            "invalid_z_index",
            format!("launcher.z_index is 0 to {MAX_Z_INDEX}"),
        ));
    }

    let times = &mut settings.response_times;
    for (field, text) in [("online", &mut times.online), ("away", &mut times.away)] {
        *text = text.trim().to_string();
        if text.chars().count() > MAX_RESPONSE_TIME_CHARS {
            return Err(ApiError::bad_request(
                "response_time_too_long",
                format!("response_times.{field} is at most {MAX_RESPONSE_TIME_CHARS} characters"),
            ));
        }
    }
    Ok(settings)
}

/// A CSS font-family list. Only characters that cannot end the declaration are allowed, because
/// the widget puts it into its stylesheet.
fn checked_font_family(value: &str) -> ApiResult<String> {
    let value = value.trim();
    let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | ',' | '-' | '_' | '\'' | '"');
    if value.is_empty()
        || value.chars().count() > MAX_FONT_FAMILY_CHARS
        || !value.chars().all(allowed)
    {
        return Err(ApiError::bad_request(
            "invalid_font_family",
            format!(
                "homepage.font_family is a list like `Inter, sans-serif`: up to {MAX_FONT_FAMILY_CHARS} letters, digits, spaces, commas, hyphens and quotes"
            ),
        ));
    }
    Ok(value.to_string())
}

fn checked_greeting(value: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.chars().count() > MAX_GREETING_CHARS {
        return Err(ApiError::bad_request(
            "invalid_greeting",
            format!("homepage.greeting is at most {MAX_GREETING_CHARS} characters"),
        ));
    }
    GreetingTemplate::parse(value).map_err(|reason| {
        ApiError::bad_request("invalid_greeting", format!("homepage.greeting: {reason}"))
    })?;
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let defaults = WidgetSettings::default();
        assert_eq!(validated(defaults.clone()).unwrap(), defaults);
    }

    #[test]
    fn font_family_cannot_break_out_of_the_declaration() {
        assert!(checked_font_family("\"Helvetica Neue\", Arial, sans-serif").is_ok());
        for bad in ["Arial; color: red", "x} body {", "a(b)", ""] {
            assert_eq!(
                checked_font_family(bad).unwrap_err().code(),
                "invalid_font_family"
            );
        }
    }
}
