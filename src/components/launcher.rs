use super::dom::{el, icon, keyed, when, RowFn, View};
use crate::i18n::use_texts;
use crate::var::Var;
use talk_browser::text::{decimal, fill};
use talk_protocol::{LauncherIcon, WidgetConfig};

/// The round button that opens and closes the messenger.
pub fn launcher(open: Var<bool>, unread: Var<i64>, config: Var<Option<WidgetConfig>>) -> View {
    let texts = use_texts();
    el("button")
        .attr("type", "button")
        .class("talk-launcher")
        .testid("talk-launcher")
        .attr_text("aria-label", move || match (open.get(), unread.get()) {
            (true, _) => texts.close_chat.to_string(),
            (false, 0) => texts.open_chat.to_string(),
            (false, 1) => texts.open_chat_one_unread.to_string(),
            (false, count) => fill(
                texts.open_chat_unread,
                "{n}",
                &decimal(count.max(0) as u64, 0),
            ),
        })
        .attr_text("aria-expanded", move || open.get().to_string())
        .on("click", move |_| open.update(|open| *open = !*open))
        // Keyed by what it shows: kept, not built again, when the settings come again.
        .child(keyed(move || {
            let shown = config
                .with(|c| c.as_ref().map(|c| c.settings.launcher.icon.clone()))
                .unwrap_or(LauncherIcon::Default);
            let (key, row): (String, RowFn) = match shown {
                LauncherIcon::Custom { url } => (
                    url.clone(),
                    Box::new(move || {
                        el("img")
                            .class("talk-launcher-icon")
                            .attr("src", &url)
                            .attr("alt", "")
                    }),
                ),
                LauncherIcon::Question => (
                    "\u{0}question".into(),
                    Box::new(|| icon("talk-launcher-icon", QUESTION_ICON)),
                ),
                LauncherIcon::Default | LauncherIcon::Chat => (
                    "\u{0}chat".into(),
                    Box::new(|| icon("talk-launcher-icon", CHAT_ICON)),
                ),
            };
            vec![(key, row)]
        }))
        .child(when(
            move || unread.get() != 0,
            move || {
                el("span")
                    .class("talk-badge")
                    .testid("talk-unread")
                    .attr("aria-hidden", "true")
                    .text_with(move || match unread.get() {
                        count @ 0..=99 => decimal(count as u64, 0),
                        _ => "99+".to_string(),
                    })
            },
        ))
}

const QUESTION_ICON: &str = "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 16h-2v-2h2zm2.1-7.8-.9.9c-.7.7-1.2 1.3-1.2 2.9h-2v-.5c0-1.1.5-2.1 1.2-2.8l1.2-1.3a2 2 0 1 0-3.4-1.4H8a4 4 0 1 1 7.1 2.2z";
const CHAT_ICON: &str =
    "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
