//! `GET /v1/talk/widget/config?capture_key=…`: public (the capture key is in every page's
//! snippet): what the widget draws before a session starts.

use super::static_files::Precompressed;
use crate::error::{ApiError, ApiResult};
use crate::validate::checked_color;
use crate::{agents, widget_settings, workspaces, AppState};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use talk_protocol::{LauncherIcon, LauncherPosition, WidgetConfig, WidgetSettings};

#[derive(Deserialize)]
pub struct ConfigQuery {
    capture_key: Option<String>,
}

/// The workspace named by `?capture_key=`, and its widget settings.
async fn workspace_settings(
    state: &AppState,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> ApiResult<(workspaces::Workspace, WidgetSettings)> {
    let workspace = queried_workspace(state, query).await?;
    let settings = widget_settings::load(&state.db, &workspace.id)
        .await?
        .ok_or_else(unknown_capture_key)?;
    Ok((workspace, settings))
}

/// The workspace named by a public `?capture_key=` (widget config, launcher, frame page).
pub(super) async fn queried_workspace(
    state: &AppState,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> ApiResult<workspaces::Workspace> {
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))?;
    let capture_key = query
        .capture_key
        .as_deref()
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("missing_capture_key", "add ?capture_key=<your capture key>")
        })?;
    workspaces::by_capture_key(&state.db, capture_key)
        .await?
        .ok_or_else(unknown_capture_key)
}

pub(super) fn unknown_capture_key() -> ApiError {
    ApiError::not_found("unknown_capture_key", "no workspace has this capture key")
}

pub async fn widget_config(
    State(state): State<AppState>,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> ApiResult<Json<WidgetConfig>> {
    let (workspace, settings) = workspace_settings(&state, query).await?;
    Ok(Json(WidgetConfig {
        settings,
        status: agents::workspace_status(&state.db, &workspace.id).await?,
        online_agents: agents::online(&state.db, &workspace.id).await?,
    }))
}

/// `GET /v1/talk/widget/launcher.css?capture_key=…`: the stylesheet of the launcher the loader
/// draws before the messenger is fetched (and of the frame it sizes in frame mode), from the
/// workspace's settings. 204 when the widget is switched off: nothing to draw. Every page view
/// of every site fetches it, so it travels compressed and is revalidated by its ETag (`304`
/// on the next page view while the settings stay the same); the settings are read on every
/// request as before, so a change reaches visitors on their next page load.
pub async fn launcher_css(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let (workspace, settings) = workspace_settings(&state, query).await?;
    if !settings.enabled {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let stylesheet = state
        .launcher_stylesheets
        .get(&workspace.id, launcher_stylesheet(&settings));
    Ok(stylesheet.respond(&headers, "text/css; charset=utf-8", "no-cache"))
}

/// Each workspace's launcher stylesheet as last rendered, with its brotli and gzip copies, so
/// nothing is compressed per request. Keyed by the rendered text itself, not by a signal that
/// the settings changed: rendering is a few string writes, and comparing its ~750 bytes with
/// the cached ones can't miss a change, whichever node or process saved it. One entry per
/// workspace (its latest stylesheet), so it grows no larger than the workspaces that serve one.
#[derive(Debug, Default)]
pub struct LauncherStylesheets(Mutex<HashMap<String, Arc<Precompressed>>>);

impl LauncherStylesheets {
    fn get(&self, workspace_id: &str, css: String) -> Arc<Precompressed> {
        let cached = self.lock().get(workspace_id).cloned();
        match cached {
            Some(cached) if cached.identity_bytes() == css.as_bytes() => cached,
            _ => {
                // Compressed outside the lock: a few milliseconds, once per settings change.
                let fresh = Arc::new(Precompressed::compress(Bytes::from(css)));
                self.lock().insert(workspace_id.to_string(), fresh.clone());
                fresh
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Precompressed>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The widget's own icons (src/components/launcher.rs), as clip paths in a 24 px box.
const CHAT_ICON: &str =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
const QUESTION_ICON: &str = "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 16h-2v-2h2zm2.1-7.8-.9.9c-.7.7-1.2 1.3-1.2 2.9h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3a2 2 0 1 0-3.4-1.4H8a4 4 0 1 1 7.1 2.2z";

/// Laid out as the widget's launcher (style/widget.css), so the messenger replaces it without
/// a jump. `.f` is the loader's button; the frame is launcher-sized until the messenger in it
/// opens (`.open`: as wide as the panel, full height; full screen on narrow screens),
/// invisible while the loader's button is still there, and gone while the page hides the
/// messenger. Every value was validated on save and
/// is checked again here because it becomes CSS text.
pub fn launcher_stylesheet(settings: &WidgetSettings) -> String {
    let launcher = &settings.launcher;
    let side = match launcher.position {
        LauncherPosition::Left => "left",
        LauncherPosition::Right => "right",
    };
    let x = launcher
        .horizontal_margin
        .min(talk_protocol::MAX_LAUNCHER_MARGIN);
    let y = launcher
        .vertical_margin
        .min(talk_protocol::MAX_LAUNCHER_MARGIN);
    let z = launcher.z_index.min(i32::MAX as u32);
    let colour = |value: &str, default: &str| {
        checked_color("colour", value).unwrap_or_else(|_| default.to_string())
    };
    let brand = colour(&settings.homepage.brand_color, "#4f46e5");
    let on_brand = colour(&settings.homepage.text_color, "#ffffff");
    let icon = match launcher.icon {
        LauncherIcon::Question => QUESTION_ICON,
        _ => CHAT_ICON,
    };
    let (frame_width, frame_height, open_width) = (x + 80, y + 80, x + 400);
    format!(
        ":host{{all:initial}}\
         .f{{all:initial;position:fixed;z-index:{z};{side}:{x}px;bottom:{y}px;width:56px;\
         height:56px;border-radius:50%;display:grid;place-items:center;cursor:pointer;\
         background:{brand};color:{on_brand};box-shadow:0 6px 20px rgb(0 0 0/.25)}}\
         .f:focus-visible{{outline:3px solid {brand};outline-offset:2px}}\
         .f::before{{content:\"\";width:24px;height:24px;scale:1.08;background:currentColor;\
         clip-path:path(\"{icon}\")}}\
         iframe{{all:initial;position:fixed;z-index:{z};{side}:0;bottom:0;\
         width:{frame_width}px;height:{frame_height}px;color-scheme:normal}}\
         iframe.open{{width:{open_width}px;height:100%}}\
         .f~iframe{{visibility:hidden}}iframe[hidden]{{display:none}}\
         @media (max-width:480px){{iframe.open{{width:100%}}}}"
    )
}
