//! Widget components mounted alone in headless Chromium.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;
use talk_browser::testing::{click, find, test_root, text_of, tick, type_into};
use talk_protocol::{Author, AuthorKind, IdentifyRequest, Message};
use talk_widget::components::dom::{mount, View};
use talk_widget::components::{identify_form, message_list};
use talk_widget::i18n::{Lang, EN};
use talk_widget::state::{merge_message, set_delivery, ChatLine, Delivery};
use talk_widget::validation::{check_email, FieldError};
use talk_widget::var::Var;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

/// A message list with no older page to ask for and initials for every author.
fn list(lines: Var<Vec<ChatLine>>, read_up_to: Var<i64>) -> View {
    message_list(lines, read_up_to, Rc::new(|_| {}), Rc::new(|()| {}), None)
}

fn message(seq: i64, kind: AuthorKind, body: &str, client_msg_id: Option<&str>) -> Message {
    Message {
        id: format!("m{seq}"),
        conversation_id: "c1".into(),
        seq,
        author: Author { kind, name: None },
        body: body.into(),
        client_msg_id: client_msg_id.map(Into::into),
        created_at: 1_700_000_000_000 + seq,
    }
}

#[wasm_bindgen_test]
async fn identify_form_requires_a_valid_email_and_submits_once() {
    let root = test_root();
    let submitted = Var::new(Vec::<IdentifyRequest>::new());
    let busy = Var::new(false);
    let _mounted = mount(&root, move || {
        identify_form(
            Rc::new(|| false),
            Rc::new(move || busy.get()),
            Var::new(None),
            Rc::new(move |request| {
                busy.set(true);
                submitted.update(|all| all.push(request));
            }),
        )
    });

    assert!(
        find(&root, "talk-first-name").is_none(),
        "names are not asked for"
    );
    click(&root, "talk-identify-submit").await;
    assert_eq!(
        text_of(&root, "talk-email-error"),
        FieldError::EmailMissing.text(&EN)
    );

    type_into(&root, "talk-email", "ada@example");
    click(&root, "talk-identify-submit").await;
    assert_eq!(
        text_of(&root, "talk-email-error"),
        FieldError::EmailInvalid.text(&EN)
    );
    assert!(submitted.get_untracked().is_empty());

    type_into(&root, "talk-email", "  ada@example.com ");
    click(&root, "talk-identify-submit").await;
    click(&root, "talk-identify-submit").await; // a double click
    assert!(find(&root, "talk-email-error").is_none());
    assert_eq!(
        submitted.get_untracked(),
        vec![IdentifyRequest {
            email: "ada@example.com".into(),
            first_name: None,
            last_name: None,
        }]
    );
    assert_eq!(text_of(&root, "talk-identify-submit"), "Starting…");
}

#[wasm_bindgen_test]
async fn identify_form_asks_for_names_when_the_workspace_requires_them() {
    let root = test_root();
    let submitted = Var::new(Vec::<IdentifyRequest>::new());
    let _mounted = mount(&root, move || {
        identify_form(
            Rc::new(|| true),
            Rc::new(|| false),
            Var::new(Some("Server says no".to_string())),
            Rc::new(move |request| submitted.update(|all| all.push(request))),
        )
    });
    tick().await;
    assert_eq!(text_of(&root, "talk-identify-error"), "Server says no");
    type_into(&root, "talk-email", "ada@example.com");
    click(&root, "talk-identify-submit").await;
    assert_eq!(
        text_of(&root, "talk-first-name-error"),
        FieldError::FirstNameMissing.text(&EN)
    );
    assert_eq!(
        text_of(&root, "talk-last-name-error"),
        FieldError::LastNameMissing.text(&EN)
    );
    assert!(submitted.get_untracked().is_empty());

    type_into(&root, "talk-first-name", "Ada");
    type_into(&root, "talk-last-name", "Lovelace");
    click(&root, "talk-identify-submit").await;
    assert_eq!(
        submitted.get_untracked(),
        vec![IdentifyRequest {
            email: "ada@example.com".into(),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
        }]
    );
}

#[wasm_bindgen_test]
async fn message_list_shows_markup_as_text_and_delivery_states() {
    let root = test_root();
    let lines = Var::new(Vec::<ChatLine>::new());
    let retried = Var::new(Vec::<String>::new());
    let _mounted = mount(&root, move || {
        message_list(
            lines,
            Var::new(0),
            Rc::new(move |key| retried.update(|all| all.push(key))),
            Rc::new(|()| {}),
            None,
        )
    });
    tick().await;
    assert!(find(&root, "talk-message").is_none());

    let hostile = "<img src=x onerror=alert(1)>";
    lines.update(|lines| {
        merge_message(lines, message(1, AuthorKind::Agent, hostile, None));
        lines.push(ChatLine::pending("pending-1", "on its way"));
        let mut failed = ChatLine::pending("failed-1", "too long");
        failed.delivery = Delivery::Failed;
        lines.push(failed);
    });
    tick().await;

    let list = find(&root, "talk-messages").unwrap();
    assert!(
        list.query_selector("img").unwrap().is_none(),
        "markup must not become elements"
    );
    let items = list
        .query_selector_all("[data-testid=talk-message]")
        .unwrap();
    assert_eq!(items.length(), 3);
    let item = |index: u32| -> HtmlElement { items.item(index).unwrap().unchecked_into() };
    let body = |index: u32| {
        item(index)
            .query_selector(".talk-message-body")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap()
    };
    assert_eq!(body(0), hostile);
    assert_eq!(
        item(0).get_attribute("data-author").as_deref(),
        Some("agent")
    );
    assert_eq!(item(0).get_attribute("data-state").as_deref(), Some("sent"));
    assert_eq!(
        item(1).get_attribute("data-state").as_deref(),
        Some("sending")
    );
    assert_eq!(
        item(2).get_attribute("data-state").as_deref(),
        Some("failed")
    );

    click(&root, "talk-retry").await;
    assert_eq!(retried.get_untracked(), vec!["failed-1".to_string()]);
}

#[wasm_bindgen_test]
fn merge_orders_by_sequence_confirms_own_sends_and_drops_duplicates() {
    let mut lines = vec![
        ChatLine::pending("own-1", "first"),
        ChatLine::pending("own-2", "second"),
    ];
    merge_message(&mut lines, message(2, AuthorKind::Agent, "reply", None));
    merge_message(
        &mut lines,
        message(1, AuthorKind::Visitor, "first", Some("own-1")),
    );
    merge_message(&mut lines, message(2, AuthorKind::Agent, "reply", None)); // seen again on resume
    let shown: Vec<(&str, Option<i64>, Delivery)> = lines
        .iter()
        .map(|line| (line.body.as_str(), line.seq, line.delivery))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("first", Some(1), Delivery::Sent),
            ("reply", Some(2), Delivery::Sent),
            ("second", None, Delivery::Sending),
        ]
    );
    assert_eq!(
        lines[0].key, "own-1",
        "an own message keeps its key once confirmed"
    );
}

#[wasm_bindgen_test]
fn email_check_accepts_plain_addresses_only() {
    assert_eq!(check_email(" ada@example.com "), Ok(()));
    assert_eq!(check_email("a.b+tag@mail.example.co.uk"), Ok(()));
    assert_eq!(check_email(""), Err(FieldError::EmailMissing));
    for bad in [
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@example.com",
        "ada@@example.com",
        "ada@example..com",
    ] {
        assert_eq!(check_email(bad), Err(FieldError::EmailInvalid), "{bad}");
    }
}

#[wasm_bindgen_test]
fn message_ids_are_version_7_uuids_of_now() {
    let id = talk_browser::ids::uuid_v7();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "7");
    assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
    let unix_ms = u64::from_str_radix(&id[..8], 16).unwrap() << 16
        | u64::from_str_radix(&id[9..13], 16).unwrap();
    assert!(
        unix_ms.abs_diff(js_sys::Date::now() as u64) < 60_000,
        "{id}"
    );
    assert_ne!(id, talk_browser::ids::uuid_v7());
}

#[wasm_bindgen_test]
fn language_comes_from_the_option_then_the_browser_then_english() {
    assert_eq!(Lang::pick(Some("ar"), ["de-DE"]), Lang::Ar);
    assert_eq!(Lang::pick(None, ["fr-FR", "de-AT", "en"]), Lang::De);
    assert_eq!(Lang::pick(Some("xx"), ["pt-BR"]), Lang::En);
    assert_eq!(Lang::pick(None, []), Lang::En);
    assert_eq!(Lang::pick(Some("AR-eg"), ["en"]), Lang::Ar);
    assert_eq!(Lang::pick(None, ["de_CH"]), Lang::De);
    assert_eq!(Lang::Ar.dir(), "rtl");
    assert_eq!(Lang::De.dir(), "ltr");
}

#[wasm_bindgen_test]
async fn identify_form_speaks_the_messenger_language() {
    let root = test_root();
    talk_widget::i18n::set_lang(Lang::Ar);
    let _mounted = mount(&root, move || {
        identify_form(
            Rc::new(|| false),
            Rc::new(|| false),
            Var::new(None),
            Rc::new(|_| {}),
        )
    });
    click(&root, "talk-identify-submit").await;
    let texts = Lang::Ar.texts();
    assert_eq!(
        text_of(&root, "talk-identify-submit"),
        texts.start_conversation
    );
    assert_eq!(text_of(&root, "talk-email-error"), texts.email_missing);
    let label = root
        .query_selector("label[for=talk-email]")
        .unwrap()
        .unwrap();
    assert_eq!(label.text_content().as_deref(), Some(texts.email));
    talk_widget::i18n::set_lang(Lang::En);
}

#[wasm_bindgen_test]
async fn the_list_follows_new_messages_unless_the_visitor_scrolled_up() {
    let root = test_root();
    let lines = Var::new(Vec::<ChatLine>::new());
    let _mounted = mount(&root, move || list(lines, Var::new(0)));
    tick().await;
    // Component tests load no stylesheet: give the log a viewport of its own.
    let log: HtmlElement = root
        .query_selector(".talk-log")
        .unwrap()
        .unwrap()
        .unchecked_into();
    log.set_attribute("style", "height: 100px; overflow-y: auto")
        .unwrap();
    let at_bottom =
        |log: &HtmlElement| log.scroll_height() - log.scroll_top() - log.client_height() <= 1;

    lines.update(|lines| {
        for seq in 1..=30 {
            merge_message(lines, message(seq, AuthorKind::Agent, "line", None));
        }
    });
    tick().await;
    assert!(at_bottom(&log), "follows new messages");

    log.set_scroll_top(0);
    log.dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    lines.update(|lines| merge_message(lines, message(31, AuthorKind::Agent, "new", None)));
    tick().await;
    assert_eq!(log.scroll_top(), 0, "reading history: stays put");

    lines.update(|lines| lines.push(ChatLine::pending("own", "mine")));
    tick().await;
    assert!(at_bottom(&log), "an own message brings the visitor down");
}

#[wasm_bindgen_test]
async fn the_top_of_the_list_asks_for_older_messages_and_keeps_the_visitors_place() {
    let root = test_root();
    let lines = Var::new(Vec::<ChatLine>::new());
    let asked = Var::new(0);
    let _mounted = mount(&root, move || {
        message_list(
            lines,
            Var::new(0),
            Rc::new(|_| {}),
            Rc::new(move |()| asked.update(|count| *count += 1)),
            None,
        )
    });
    tick().await;
    let log: HtmlElement = root
        .query_selector(".talk-log")
        .unwrap()
        .unwrap()
        .unchecked_into();
    log.set_attribute(
        "style",
        "height: 100px; overflow-y: auto; overflow-anchor: none",
    )
    .unwrap();
    // The newest page.
    lines.update(|lines| {
        for seq in 31..=60 {
            merge_message(lines, message(seq, AuthorKind::Agent, "line", None));
        }
    });
    tick().await;
    assert_eq!(asked.get_untracked(), 0, "at the bottom: nothing asked");

    log.set_scroll_top(0);
    log.dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    assert_eq!(asked.get_untracked(), 1, "the top asks for older messages");

    // The older page goes in above; what the visitor was reading stays in view.
    let height = log.scroll_height();
    lines.update(|lines| {
        for seq in 1..=30 {
            merge_message(lines, message(seq, AuthorKind::Agent, "older", None));
        }
    });
    tick().await;
    let moved = log.scroll_height() - height;
    assert!(moved > 0);
    assert!(
        (log.scroll_top() - moved).abs() <= 1,
        "{} vs {moved}",
        log.scroll_top()
    );
}

#[wasm_bindgen_test]
async fn homepage_renders_the_greeting_merge_tags_quick_links_and_response_time() {
    use talk_protocol::{
        OnlineAgent, PersonSummary, Presence, QuickLink, WidgetConfig, WidgetSettings,
    };
    use talk_widget::components::messenger;
    use talk_widget::state::MessengerState;

    let root = test_root();
    let state = MessengerState::new();
    let mut settings = WidgetSettings::default();
    settings.homepage.greeting = "Hi {{first_name|there}}, <b>welcome</b>".into();
    settings.homepage.quick_links = vec![QuickLink {
        label: "Book a demo".into(),
        url: "https://example.com/demo".into(),
    }];
    settings.response_times.away = "Back tomorrow morning.".into();
    state.config.set(Some(WidgetConfig {
        settings,
        status: Presence::Away,
        online_agents: vec![OnlineAgent {
            name: "Grace".into(),
            photo_url: None,
        }],
    }));
    state.person.set(Some(PersonSummary {
        first_name: Some("Ada".into()),
        ..Default::default()
    }));
    let _mounted = mount(&root, move || messenger(state));
    tick().await;

    assert_eq!(
        text_of(&root, "talk-greeting"),
        "Hi Ada, <b>welcome</b>",
        "merge tag filled, markup kept as text"
    );
    assert!(root.query_selector("header b").unwrap().is_none());
    assert_eq!(
        text_of(&root, "talk-response-time"),
        "Back tomorrow morning."
    );
    let link = find(&root, "talk-quick-link").unwrap();
    assert_eq!(
        link.get_attribute("href").as_deref(),
        Some("https://example.com/demo")
    );
    assert_eq!(link.get_attribute("target").as_deref(), Some("_blank"));
    assert_eq!(
        link.get_attribute("rel").as_deref(),
        Some("noopener noreferrer")
    );
    assert!(link.text_content().unwrap().starts_with("Book a demo"));
    let avatar = root.query_selector(".talk-avatar").unwrap().unwrap();
    assert_eq!(avatar.get_attribute("aria-label").as_deref(), Some("Grace"));
    assert_eq!(avatar.text_content().as_deref(), Some("G"));

    // An anonymous visitor gets the fallback.
    state.person.set(None);
    tick().await;
    assert_eq!(text_of(&root, "talk-greeting"), "Hi there, <b>welcome</b>");
}

#[wasm_bindgen_test]
fn theme_css_takes_only_valid_values() {
    use talk_protocol::WidgetSettings;
    let mut settings = WidgetSettings::default();
    settings.homepage.brand_color = "#0a7d34".into();
    settings.homepage.font_family = "Inter, sans-serif".into();
    let css = talk_widget::theme_css(&settings);
    assert!(css.contains("--talk-brand: #0a7d34"), "{css}");
    assert!(css.contains("--talk-font: Inter, sans-serif"), "{css}");

    settings.homepage.brand_color = "red; } body { display: none".into();
    settings.homepage.font_family = "x; } :host { color: red".into();
    let css = talk_widget::theme_css(&settings);
    assert!(
        !css.contains("display") && !css.contains("color: red"),
        "{css}"
    );
}

#[wasm_bindgen_test]
async fn rows_keep_their_nodes_when_messages_come_in_above_below_and_change_state() {
    let root = test_root();
    let lines = Var::new(Vec::<ChatLine>::new());
    let read_up_to = Var::new(0);
    let _mounted = mount(&root, move || list(lines, read_up_to));
    tick().await;
    let rows = || -> Vec<HtmlElement> {
        let items = root
            .query_selector_all("[data-testid=talk-message]")
            .unwrap();
        (0..items.length())
            .map(|index| items.item(index).unwrap().unchecked_into())
            .collect()
    };
    let bodies = || -> Vec<String> {
        rows()
            .iter()
            .map(|row| {
                row.query_selector(".talk-message-body")
                    .unwrap()
                    .unwrap()
                    .text_content()
                    .unwrap()
            })
            .collect()
    };
    lines.update(|lines| {
        merge_message(lines, message(5, AuthorKind::Visitor, "five", Some("c5")));
        merge_message(lines, message(6, AuthorKind::Agent, "six", None));
    });
    tick().await;
    let before = rows();
    assert_eq!(bodies(), ["five", "six"]);

    // Appended: a pending send and a committed message.
    lines.update(|lines| {
        lines.push(ChatLine::pending("p1", "mine"));
        merge_message(lines, message(7, AuthorKind::Agent, "seven", None));
    });
    tick().await;
    assert_eq!(bodies(), ["five", "six", "seven", "mine"]);
    let now = rows();
    assert!(now[0].is_same_node(Some(&before[0])));
    assert!(now[1].is_same_node(Some(&before[1])));
    let pending = now[3].clone();

    // An older page above.
    lines.update(|lines| {
        for seq in 1..=4 {
            merge_message(lines, message(seq, AuthorKind::Agent, "older", None));
        }
    });
    tick().await;
    let now = rows();
    assert_eq!(now.len(), 8);
    assert!(now[4].is_same_node(Some(&before[0])));
    assert!(now[5].is_same_node(Some(&before[1])));
    assert!(now[7].is_same_node(Some(&pending)));

    // The pending send fails: a new row in its place, the others untouched.
    lines.update(|lines| set_delivery(lines, "p1", Delivery::Failed));
    tick().await;
    let after = rows();
    assert_eq!(after.len(), 8);
    assert!(!after[7].is_same_node(Some(&pending)));
    assert_eq!(
        after[7].get_attribute("data-state").as_deref(),
        Some("failed")
    );
    for index in 0..7 {
        assert!(after[index].is_same_node(Some(&now[index])));
    }

    // A kept row still follows its signals: "Seen" under the visitor's read message.
    read_up_to.set(5);
    tick().await;
    assert!(after[4]
        .query_selector("[data-testid=talk-seen]")
        .unwrap()
        .is_some());

    // Rows whose order changed are moved, not rebuilt.
    let first = after[0].clone();
    lines.update(|lines| {
        let line = lines.remove(0);
        lines.insert(3, line);
    });
    tick().await;
    let moved = rows();
    assert_eq!(moved.len(), 8);
    assert!(moved[3].is_same_node(Some(&first)));
    assert_eq!(bodies()[4], "five");

    lines.set(Vec::new());
    tick().await;
    assert!(rows().is_empty());
}

#[wasm_bindgen_test]
async fn homepage_rows_keep_their_nodes_and_the_focus_when_the_settings_and_previews_come_again() {
    use talk_browser::testing::find_all;
    use talk_protocol::{OnlineAgent, Presence, QuickLink, WidgetConfig, WidgetSettings};
    use talk_widget::components::messenger;
    use talk_widget::state::{ConversationPreview, MessengerState};

    let root = test_root();
    let state = MessengerState::new();
    let mut settings = WidgetSettings::default();
    settings.homepage.quick_links = vec![
        QuickLink {
            label: "Book a demo".into(),
            url: "https://example.com/demo".into(),
        },
        QuickLink {
            label: "Pricing".into(),
            url: "https://example.com/pricing".into(),
        },
    ];
    settings.response_times.online = "Within minutes.".into();
    let config = WidgetConfig {
        settings,
        status: Presence::Online,
        online_agents: vec![
            OnlineAgent {
                name: "Grace".into(),
                photo_url: None,
            },
            OnlineAgent {
                name: "Alan".into(),
                photo_url: Some("https://example.com/alan.png".into()),
            },
        ],
    };
    let preview = |id: &str, body: Option<&str>, unread: bool| ConversationPreview {
        id: id.into(),
        last_body: body.map(Into::into),
        changed_at: 0,
        unread,
    };
    // The remembered settings and list first.
    state.config.set(Some(config.clone()));
    state
        .conversations
        .set(vec![preview("c2", None, false), preview("c1", None, false)]);
    let _mounted = mount(&root, move || messenger(state));
    tick().await;
    let links = find_all(&root, "talk-quick-link");
    let items = find_all(&root, "talk-conversation-item");
    let avatars = || -> Vec<web_sys::Element> {
        let found = root.query_selector_all(".talk-avatar").unwrap();
        (0..found.length())
            .map(|index| found.item(index).unwrap().unchecked_into())
            .collect()
    };
    let faces = avatars();
    assert_eq!(links.len(), 2);
    assert_eq!(items.len(), 2);
    assert_eq!(faces.len(), 2);
    links[1].focus().unwrap();

    // The server's copy, the same: every row keeps its node, the focus stays.
    state.config.set(Some(config.clone()));
    tick().await;
    let now = find_all(&root, "talk-quick-link");
    assert!(now[0].is_same_node(Some(&links[0])) && now[1].is_same_node(Some(&links[1])));
    let now_faces = avatars();
    assert!(
        now_faces[0].is_same_node(Some(&faces[0])) && now_faces[1].is_same_node(Some(&faces[1]))
    );
    let active = || {
        web_sys::window()
            .unwrap()
            .document()
            .unwrap()
            .active_element()
    };
    assert!(active().is_some_and(|active| active.is_same_node(Some(&links[1]))));

    // A link changed: only its row is new.
    let mut changed = config.clone();
    changed.settings.homepage.quick_links[0].label = "Book a call".into();
    state.config.set(Some(changed));
    tick().await;
    let now = find_all(&root, "talk-quick-link");
    assert!(!now[0].is_same_node(Some(&links[0])));
    assert!(now[0].text_content().unwrap().starts_with("Book a call"));
    assert!(now[1].is_same_node(Some(&links[1])));
    assert!(active().is_some_and(|active| active.is_same_node(Some(&links[1]))));

    // The previews: listed again, then their newest messages; the rows stay, their text follows.
    items[0].focus().unwrap();
    state
        .conversations
        .set(vec![preview("c2", None, false), preview("c1", None, false)]);
    tick().await;
    state.conversations.set(vec![
        preview("c2", Some("Hello"), true),
        preview("c1", Some("Bye"), false),
    ]);
    tick().await;
    let now = find_all(&root, "talk-conversation-item");
    assert!(now[0].is_same_node(Some(&items[0])) && now[1].is_same_node(Some(&items[1])));
    assert_eq!(now[0].get_attribute("data-unread").as_deref(), Some("true"));
    assert_eq!(
        now[1].get_attribute("data-unread").as_deref(),
        Some("false")
    );
    assert!(now[0].text_content().unwrap().contains("Hello"));
    assert!(now[0].query_selector(".talk-unread-dot").unwrap().is_some());
    assert!(now[1].query_selector(".talk-unread-dot").unwrap().is_none());
    assert!(now[1].text_content().unwrap().contains("Bye"));
    assert!(active().is_some_and(|active| active.is_same_node(Some(&items[0]))));

    // A new message moves its conversation to the top: the row is moved, the focus on it stays.
    items[1].focus().unwrap();
    state.conversations.set(vec![
        preview("c1", Some("Back again"), true),
        preview("c2", Some("Hello"), true),
    ]);
    tick().await;
    let now = find_all(&root, "talk-conversation-item");
    assert!(now[0].is_same_node(Some(&items[1])) && now[1].is_same_node(Some(&items[0])));
    assert!(now[0].text_content().unwrap().contains("Back again"));
    assert!(active().is_some_and(|active| active.is_same_node(Some(&items[1]))));

    // No links: no section.
    let mut none = config;
    none.settings.homepage.quick_links.clear();
    state.config.set(Some(none));
    tick().await;
    assert!(find_all(&root, "talk-quick-link").is_empty());
    assert!(root.query_selector("#talk-links-title").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn the_logo_and_the_launcher_icon_stay_when_the_settings_come_again() {
    use talk_protocol::{LauncherIcon, Presence, WidgetConfig, WidgetSettings};
    use talk_widget::components::dom::fragment;
    use talk_widget::components::{launcher, messenger};
    use talk_widget::state::MessengerState;

    let root = test_root();
    let state = MessengerState::new();
    let mut settings = WidgetSettings::default();
    settings.homepage.logo_url = Some("https://example.com/logo.png".into());
    settings.launcher.icon = LauncherIcon::Custom {
        url: "https://example.com/icon.png".into(),
    };
    let config = WidgetConfig {
        settings,
        status: Presence::Online,
        online_agents: Vec::new(),
    };
    state.config.set(Some(config.clone()));
    let _mounted = mount(&root, move || {
        fragment(vec![
            messenger(state),
            launcher(state.open, state.unread, state.config),
        ])
    });
    tick().await;
    let pictures = || {
        (
            root.query_selector("img.talk-logo").unwrap(),
            root.query_selector("img.talk-launcher-icon").unwrap(),
        )
    };
    let (logo, icon) = pictures();
    let (logo, icon) = (logo.unwrap(), icon.unwrap());
    assert_eq!(
        logo.get_attribute("src").as_deref(),
        Some("https://example.com/logo.png")
    );
    assert_eq!(
        icon.get_attribute("src").as_deref(),
        Some("https://example.com/icon.png")
    );

    // The server's copy, the same: the same nodes.
    state.config.set(Some(config.clone()));
    tick().await;
    let (now_logo, now_icon) = pictures();
    assert!(now_logo.unwrap().is_same_node(Some(&logo)));
    assert!(now_icon.unwrap().is_same_node(Some(&icon)));

    // Changed: the new ones; none: gone, the launcher's own icon instead.
    let mut changed = config;
    changed.settings.homepage.logo_url = None;
    changed.settings.launcher.icon = LauncherIcon::Question;
    state.config.set(Some(changed));
    tick().await;
    let (now_logo, now_icon) = pictures();
    assert!(now_logo.is_none() && now_icon.is_none());
    assert!(root
        .query_selector("svg.talk-launcher-icon")
        .unwrap()
        .is_some());
}
