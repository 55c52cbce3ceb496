//! Where the widget lives on the host page: a shadow root, so the page's CSS can't reach in,
//! styled by a constructable stylesheet, so a `style-src` without 'unsafe-inline' is fine.

use std::cell::RefCell;
use talk_browser::text::{concat, decimal};
use talk_protocol::WidgetSettings;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CssStyleSheet, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};

// Minified by build.rs.
const STYLES: &str = include_str!(concat!(env!("OUT_DIR"), "/widget.min.css"));

thread_local! {
    /// The widget's shadow root and its stylesheets: the base one and the workspace's theme.
    static SHEETS: RefCell<Option<(ShadowRoot, CssStyleSheet, CssStyleSheet)>> =
        const { RefCell::new(None) };
}

/// Mounts in the `<ap3c-talk>` host where the loader drew its launcher (its button stays until
/// ours shows: see [`remove_loader_launcher`]), or creates one at the end of `<body>`. Returns
/// the element to mount into, marked with the messenger's language and writing direction.
pub fn create_mount_point(lang: crate::i18n::Lang) -> Result<HtmlElement, JsValue> {
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let drawn = document
        .query_selector("ap3c-talk")?
        .and_then(|host| host.shadow_root());
    let shadow = match drawn {
        Some(shadow) => shadow,
        None => {
            let body = document.body().ok_or("no body")?;
            // A custom element: host rules aimed at `div` don't hit it.
            let host = document.create_element("ap3c-talk")?;
            body.append_child(&host)?;
            host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?
        }
    };
    let sheet = CssStyleSheet::new()?;
    sheet.replace_sync(STYLES)?;
    let theme = CssStyleSheet::new()?;
    // After the loader's sheet, whose rules only style its own button.
    let sheets = js_sys::Array::from(&js_sys::Reflect::get(
        &shadow,
        &"adoptedStyleSheets".into(),
    )?);
    sheets.push(&sheet);
    sheets.push(&theme);
    js_sys::Reflect::set(&shadow, &"adoptedStyleSheets".into(), &sheets)?;
    SHEETS.with(|sheets| *sheets.borrow_mut() = Some((shadow.clone(), sheet, theme)));
    let mount = document.create_element("div")?;
    mount.set_attribute("lang", lang.code())?;
    mount.set_attribute("dir", lang.dir())?;
    shadow.append_child(&mount)?;
    Ok(mount.unchecked_into())
}

/// Takes away the launcher the loader drew, once ours is on screen in its place.
pub fn remove_loader_launcher() {
    SHEETS.with(|sheets| {
        if let Some((shadow, _, _)) = sheets.borrow().as_ref() {
            if let Ok(Some(button)) = shadow.query_selector(".f") {
                button.remove();
            }
        }
    });
}

/// The workspace's look, as custom properties over the defaults in widget.css. The server
/// validated every value; they are checked again because they become CSS text.
pub fn apply_theme(settings: &WidgetSettings) {
    let css = theme_css(settings);
    SHEETS.with(|sheets| {
        if let Some((_, _, theme)) = sheets.borrow().as_ref() {
            let _ = theme.replace_sync(&css);
        }
    });
}

pub fn theme_css(settings: &WidgetSettings) -> String {
    let homepage = &settings.homepage;
    let launcher = &settings.launcher;
    let px = |value: u16| concat(&[&decimal(value.into(), 0), "px"]);
    let mut rules = vec![
        concat(&["--talk-offset-x: ", &px(launcher.horizontal_margin)]),
        concat(&["--talk-offset-y: ", &px(launcher.vertical_margin)]),
        concat(&[
            "--talk-z: ",
            &decimal(launcher.z_index.min(i32::MAX as u32).into(), 0),
        ]),
    ];
    if is_hex_colour(&homepage.brand_color) {
        rules.push(concat(&["--talk-brand: ", &homepage.brand_color]));
    }
    if is_hex_colour(&homepage.text_color) {
        rules.push(concat(&["--talk-on-brand: ", &homepage.text_color]));
    }
    let font = &homepage.font_family;
    if !font.trim().is_empty()
        && font
            .chars()
            // Letters and digits: ASCII ones, and any non-ASCII character (none of which is
            // CSS syntax), so Unicode's tables aren't compiled in for this one check.
            .all(|c| c.is_ascii_alphanumeric() || !c.is_ascii() || " ,-'\"".contains(c))
    {
        rules.push(concat(&["--talk-font: ", font]));
    }
    let mut css = String::from(":host { ");
    for rule in &rules {
        css.push_str(rule);
        css.push_str("; ");
    }
    css.push('}');
    css
}

fn is_hex_colour(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The browser's preferred languages, most preferred first.
pub fn browser_languages() -> Vec<String> {
    web_sys::window()
        .map(|window| {
            let mut languages = Vec::new();
            let listed = window.navigator().languages();
            for index in 0..listed.length() {
                if let Some(language) = listed.get(index).as_string() {
                    languages.push(language);
                }
            }
            languages
        })
        .unwrap_or_default()
}

/// Prefixes the tab title with the unread count, e.g. "(2) Shop", and restores it at 0.
/// Only our own prefix is replaced, so titles the page sets itself survive.
pub fn show_unread_in_title(count: u32) {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let title = document.title();
    let bare = strip_count(&title);
    let wanted = if count == 0 {
        bare.to_string()
    } else {
        concat(&["(", &decimal(count.into(), 0), ") ", bare])
    };
    if wanted != title {
        document.set_title(&wanted);
    }
}

fn strip_count(title: &str) -> &str {
    title
        .strip_prefix('(')
        // By characters: a string pattern (`") "`) brings core's two-way searcher in.
        .and_then(|rest| rest.split_once(')'))
        .filter(|(count, _)| !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|(_, rest)| rest.strip_prefix(' '))
        .unwrap_or(title)
}

/// Runs `f` whenever the tab becomes visible or hidden, for the page's lifetime.
pub fn on_visibility_change(f: impl FnMut() + 'static) {
    if let Some(document) = web_sys::window().and_then(|window| window.document()) {
        let listener = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(f);
        let _ = document.add_event_listener_with_callback(
            "visibilitychange",
            listener.as_ref().unchecked_ref(),
        );
        listener.forget(); // lives as long as the page
    }
}

#[cfg(test)]
mod tests {
    use super::strip_count;

    #[test]
    fn only_our_own_count_prefix_is_stripped() {
        assert_eq!(strip_count("(3) Shop"), "Shop");
        assert_eq!(strip_count("(12) (1) Shop"), "(1) Shop");
        assert_eq!(strip_count("Shop"), "Shop");
        assert_eq!(strip_count("(3)Shop"), "(3)Shop");
        assert_eq!(strip_count("() Shop"), "() Shop");
        assert_eq!(strip_count("(a) Shop"), "(a) Shop");
        assert_eq!(strip_count("(3)) Shop"), "(3)) Shop");
    }
}
