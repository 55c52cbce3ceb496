//! The messenger's words in each language it speaks. One table per language, so a missing
//! translation is a compile error, not an English word in an Arabic widget.

use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Ar,
}

impl Lang {
    /// The explicit option wins; else the first of the browser's languages we speak; else English.
    pub fn pick<'a>(option: Option<&'a str>, browser: impl IntoIterator<Item = &'a str>) -> Lang {
        if let Some(lang) = option.and_then(Lang::from_tag) {
            return lang;
        }
        for tag in browser {
            if let Some(lang) = Lang::from_tag(tag) {
                return lang;
            }
        }
        Lang::En
    }

    /// From a BCP 47 tag such as `de-AT`: only the primary subtag counts, in any case.
    fn from_tag(tag: &str) -> Option<Lang> {
        let tag = tag.as_bytes();
        [Lang::En, Lang::De, Lang::Ar].into_iter().find(|lang| {
            let code = lang.code().as_bytes();
            // Compared as bytes: splitting on `-`/`_` and lowercasing was 0.5 KB of WASM.
            tag.get(..code.len())
                .is_some_and(|primary| primary.eq_ignore_ascii_case(code))
                && matches!(tag.get(code.len()), None | Some(b'-' | b'_'))
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Ar => "ar",
        }
    }

    pub fn dir(self) -> &'static str {
        match self {
            Lang::Ar => "rtl",
            Lang::En | Lang::De => "ltr",
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
            Lang::Ar => &AR,
        }
    }
}

thread_local! {
    /// The page's messenger's language: one messenger per page, like the engine. Not a
    /// Leptos context, whose map is code the widget would carry for this one value.
    static LANG: Cell<Lang> = const { Cell::new(Lang::En) };
}

/// Sets the language the messenger speaks (before its views are built).
pub fn set_lang(lang: Lang) {
    LANG.with(|cell| cell.set(lang));
}

/// The texts of the language the messenger was started in (English where none was given,
/// e.g. a component mounted alone in a test).
pub fn use_texts() -> &'static Texts {
    LANG.with(Cell::get).texts()
}

/// Every visible or spoken string. `{n}` and `{name}` are filled in at run time.
pub struct Texts {
    pub open_chat: &'static str,
    pub close_chat: &'static str,
    /// The conversation's call button (a voice call to the agents).
    pub call: &'static str,
    pub open_chat_one_unread: &'static str,
    pub open_chat_unread: &'static str,
    pub chat: &'static str,
    pub greeting: &'static str,
    pub greeting_named: &'static str,
    pub here_to_help: &'static str,
    pub connecting: &'static str,
    pub identify_intro: &'static str,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: &'static str,
    pub start_conversation: &'static str,
    pub starting: &'static str,
    pub email_missing: &'static str,
    pub email_invalid: &'static str,
    pub first_name_missing: &'static str,
    pub last_name_missing: &'static str,
    pub empty_conversation: &'static str,
    pub you: &'static str,
    pub agent: &'static str,
    pub bot: &'static str,
    pub sending: &'static str,
    pub not_sent_retry: &'static str,
    pub message: &'static str,
    pub write_a_message: &'static str,
    pub send: &'static str,
    pub still_connecting: &'static str,
    pub network_error: &'static str,
    pub unexpected_answer: &'static str,
    pub conversations: &'static str,
    pub send_us_a_message: &'static str,
    pub continue_conversation: &'static str,
    pub quick_links: &'static str,
    pub back: &'static str,
    pub typing: &'static str,
    pub seen: &'static str,
    pub opens_in_new_tab: &'static str,
    pub new_reply: &'static str,
    pub too_many_conversations: &'static str,
    pub quota_reached: &'static str,
}

pub static EN: Texts = Texts {
    open_chat: "Open chat",
    close_chat: "Close chat",
    call: "Call",
    open_chat_one_unread: "Open chat, 1 unread message",
    open_chat_unread: "Open chat, {n} unread messages",
    chat: "Chat",
    greeting: "Hi there",
    greeting_named: "Hi {name}",
    here_to_help: "We're here to help.",
    connecting: "Connecting…",
    identify_intro: "Leave your email so we can get back to you.",
    first_name: "First name",
    last_name: "Last name",
    email: "Email",
    start_conversation: "Start conversation",
    starting: "Starting…",
    email_missing: "Enter your email so we can reply.",
    email_invalid: "That doesn't look like an email address.",
    first_name_missing: "Enter your first name.",
    last_name_missing: "Enter your last name.",
    empty_conversation: "Ask us anything. We usually reply within a few minutes.",
    you: "You",
    agent: "Agent",
    bot: "Bot",
    sending: "Sending…",
    not_sent_retry: "Not sent. Retry",
    message: "Message",
    write_a_message: "Write a message…",
    send: "Send",
    still_connecting: "Still connecting, try again in a moment.",
    network_error: "Can't reach the chat service. Check your connection.",
    unexpected_answer: "The chat service sent an unexpected answer.",
    conversations: "Conversations",
    send_us_a_message: "Send us a message",
    continue_conversation: "Continue the conversation",
    quick_links: "Quick links",
    back: "Back",
    typing: "{name} is typing…",
    seen: "Seen",
    opens_in_new_tab: "(opens in a new tab)",
    new_reply: "New reply",
    too_many_conversations: "You have too many open conversations. Please continue one of them.",
    quota_reached: "We can't take new messages right now. Yours will be sent as soon as we can.",
};

pub static DE: Texts = Texts {
    open_chat: "Chat öffnen",
    close_chat: "Chat schließen",
    call: "Anrufen",
    open_chat_one_unread: "Chat öffnen, 1 ungelesene Nachricht",
    open_chat_unread: "Chat öffnen, {n} ungelesene Nachrichten",
    chat: "Chat",
    greeting: "Hallo",
    greeting_named: "Hallo {name}",
    here_to_help: "Wir helfen gerne.",
    connecting: "Verbinde…",
    identify_intro: "Hinterlassen Sie Ihre E-Mail-Adresse, damit wir Ihnen antworten können.",
    first_name: "Vorname",
    last_name: "Nachname",
    email: "E-Mail",
    start_conversation: "Unterhaltung starten",
    starting: "Wird gestartet…",
    email_missing: "Geben Sie Ihre E-Mail-Adresse ein, damit wir antworten können.",
    email_invalid: "Das sieht nicht wie eine E-Mail-Adresse aus.",
    first_name_missing: "Geben Sie Ihren Vornamen ein.",
    last_name_missing: "Geben Sie Ihren Nachnamen ein.",
    empty_conversation: "Fragen Sie uns alles. Wir antworten meist innerhalb weniger Minuten.",
    you: "Sie",
    agent: "Support",
    bot: "Bot",
    sending: "Wird gesendet…",
    not_sent_retry: "Nicht gesendet. Erneut versuchen",
    message: "Nachricht",
    write_a_message: "Nachricht schreiben…",
    send: "Senden",
    still_connecting: "Die Verbindung wird noch aufgebaut. Bitte gleich noch einmal versuchen.",
    network_error: "Der Chat-Dienst ist nicht erreichbar. Bitte prüfen Sie Ihre Verbindung.",
    unexpected_answer: "Der Chat-Dienst hat unerwartet geantwortet.",
    conversations: "Unterhaltungen",
    send_us_a_message: "Schreiben Sie uns",
    continue_conversation: "Unterhaltung fortsetzen",
    quick_links: "Schnelllinks",
    back: "Zurück",
    typing: "{name} schreibt…",
    seen: "Gelesen",
    opens_in_new_tab: "(öffnet in einem neuen Tab)",
    new_reply: "Neue Antwort",
    too_many_conversations:
        "Sie haben zu viele offene Unterhaltungen. Bitte setzen Sie eine davon fort.",
    quota_reached: "Wir können gerade keine neuen Nachrichten annehmen. Ihre Nachricht wird gesendet, sobald es geht.",
};

pub static AR: Texts = Texts {
    open_chat: "فتح المحادثة",
    close_chat: "إغلاق المحادثة",
    call: "اتصال",
    open_chat_one_unread: "فتح المحادثة، رسالة واحدة غير مقروءة",
    open_chat_unread: "فتح المحادثة، {n} رسائل غير مقروءة",
    chat: "المحادثة",
    greeting: "مرحبًا",
    greeting_named: "مرحبًا {name}",
    here_to_help: "نحن هنا للمساعدة.",
    connecting: "جارٍ الاتصال…",
    identify_intro: "اترك بريدك الإلكتروني لنتمكن من الرد عليك.",
    first_name: "الاسم الأول",
    last_name: "اسم العائلة",
    email: "البريد الإلكتروني",
    start_conversation: "ابدأ المحادثة",
    starting: "جارٍ البدء…",
    email_missing: "أدخل بريدك الإلكتروني لنتمكن من الرد.",
    email_invalid: "لا يبدو هذا عنوان بريد إلكتروني صالحًا.",
    first_name_missing: "أدخل اسمك الأول.",
    last_name_missing: "أدخل اسم عائلتك.",
    empty_conversation: "اسألنا عن أي شيء. نرد عادةً خلال دقائق.",
    you: "أنت",
    agent: "فريق الدعم",
    bot: "الروبوت",
    sending: "جارٍ الإرسال…",
    not_sent_retry: "لم تُرسَل. أعد المحاولة",
    message: "رسالة",
    write_a_message: "اكتب رسالة…",
    send: "إرسال",
    still_connecting: "ما زال الاتصال جاريًا، حاول مرة أخرى بعد قليل.",
    network_error: "تعذّر الوصول إلى خدمة المحادثة. تحقّق من اتصالك.",
    unexpected_answer: "أرسلت خدمة المحادثة ردًا غير متوقع.",
    conversations: "المحادثات",
    send_us_a_message: "أرسل لنا رسالة",
    continue_conversation: "تابع المحادثة",
    quick_links: "روابط سريعة",
    back: "رجوع",
    typing: "{name} يكتب…",
    seen: "تمت القراءة",
    opens_in_new_tab: "(يفتح في علامة تبويب جديدة)",
    new_reply: "رد جديد",
    too_many_conversations: "لديك محادثات مفتوحة كثيرة جدًا. يُرجى متابعة إحداها.",
    quota_reached: "لا يمكننا استقبال رسائل جديدة الآن. ستُرسل رسالتك في أقرب وقت ممكن.",
};

#[cfg(test)]
mod tests {
    use super::Lang;

    #[test]
    fn a_tags_primary_subtag_picks_the_language_in_any_case() {
        for (tag, lang) in [
            ("en", Some(Lang::En)),
            ("de-AT", Some(Lang::De)),
            ("AR_eg", Some(Lang::Ar)),
            ("De", Some(Lang::De)),
            ("deu", None),
            ("d", None),
            ("", None),
            ("fr-DE", None),
            ("-de", None),
        ] {
            assert_eq!(Lang::from_tag(tag), lang, "{tag}");
        }
        assert_eq!(Lang::pick(None, ["fr", "de-CH", "en"]), Lang::De);
        assert_eq!(Lang::pick(Some("xx"), []), Lang::En);
    }
}
