//! Inbox components mounted alone in headless Chromium, each in a node the test owns,
//! elements found by `data-testid`.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use std::collections::BTreeMap;
use talk_browser::testing::{click, find, find_all, test_root, text_of, tick, type_into};
use talk_inbox::components::settings::WidgetSettingsForm;
use talk_inbox::components::{
    Auth, BotForm, BotsSection, CaptureForm, CaptureRow, CaptureWidgetsSection, Composer,
    ContactPanel, ConversationList, DeliveryRow, InboxState, MessageLine, NewBotSecrets,
    PendingLine, QuotaBanner, QuotaForm, SignInForm, StartConversation, UsageChart,
    UsageReportView,
};
use talk_inbox::datetime::{local_to_ms, ms_to_local, LocalDateTime};
use talk_inbox::outbox::{PendingReply, ReplyState};
use talk_inbox::state::{apply_message, sort_newest_first};
use talk_protocol::{
    AgentProfile, AgentRole, Audience, Author, AuthorKind, Bot, BotCreated, BotInput, BotTakes,
    CaptureDisplay, CaptureSender, CaptureStats, CaptureWidget, CaptureWidgetInput, Contact,
    Conversation, ConversationStatus, DeliveryStatus, FieldValue, Frequency, InboxConversation,
    Message, PageView, PersonDetail, PersonSummary, Presence, PreviewLimits, QuickLink, QuotaMeter,
    QuotaMetric, QuotaMode, QuotaSettings, QuotaStatus, QuotaWarning, ServerEvent, TextCounts,
    UrlMatch, UrlRule, UsageCounts, UsageDay, UsageReport, WebhookDelivery, WidgetSettings,
    MAX_CAPTURE_RULES,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, HtmlInputElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

fn conversation(id: &str, created_at: i64, verified: bool) -> Conversation {
    Conversation {
        id: id.into(),
        verified,
        status: ConversationStatus::Open,
        visitor_id: format!("visitor-{id}"),
        person_id: None,
        last_seq: 1,
        created_at,
        assignee_id: None,
        visitor_read_seq: 0,
        agent_read_seq: 0,
    }
}

fn message(conversation_id: &str, seq: i64, kind: AuthorKind, body: &str, at: i64) -> Message {
    Message {
        id: format!("{conversation_id}-{seq}"),
        conversation_id: conversation_id.into(),
        seq,
        author: Author { kind, name: None },
        body: body.into(),
        client_msg_id: None,
        created_at: at,
    }
}

fn listed(id: &str, name: &str, at: i64, unread: i64) -> InboxConversation {
    let mut conversation = conversation(id, at, false);
    conversation.last_seq = unread.max(1);
    conversation.agent_read_seq = conversation.last_seq - unread;
    InboxConversation {
        conversation,
        unread,
        contact_name: Some(name.into()),
        contact_email: None,
        last_message: Some(message(
            id,
            unread.max(1),
            AuthorKind::Visitor,
            &format!("from {name}"),
            at,
        )),
    }
}

#[wasm_bindgen_test]
async fn sign_in_form_explains_what_is_missing_before_sending() {
    let root = test_root();
    let signed_in = RwSignal::new(0);
    let notice = RwSignal::new(Some(
        "Your session has expired. Sign in again to continue.".to_string(),
    ));
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <SignInForm notice=move || notice.get() on_signed_in=Callback::new(move |_| signed_in.update(|n| *n += 1))/>
        }
    });
    assert_eq!(
        text_of(&root, "signin-notice"),
        "Your session has expired. Sign in again to continue."
    );
    click(&root, "signin-submit").await;
    assert_eq!(
        text_of(&root, "signin-email-error"),
        "Enter your email address."
    );
    assert_eq!(
        text_of(&root, "signin-password-error"),
        "Enter your password."
    );
    let email = find(&root, "signin-email").unwrap();
    assert_eq!(email.get_attribute("aria-invalid").as_deref(), Some("true"));

    type_into(&root, "signin-email", "ada@");
    type_into(&root, "signin-password", "secret");
    click(&root, "signin-submit").await;
    assert_eq!(
        text_of(&root, "signin-email-error"),
        "Enter an email address like name@example.com."
    );
    assert_eq!(text_of(&root, "signin-password-error"), "");
    assert!(find(&root, "signin-error").is_none(), "nothing was sent");
    assert_eq!(signed_in.get_untracked(), 0);

    notice.set(None);
    leptos::task::tick().await;
    assert!(find(&root, "signin-notice").is_none());
}

#[wasm_bindgen_test]
async fn conversation_list_shows_newest_first_with_unread_counts_and_follows_new_messages() {
    let root = test_root();
    let mut initial = vec![
        listed("a", "Ann", 1_000, 0),
        listed("c", "Cleo", 3_000, 2),
        listed("b", "Ben", 2_000, 1),
    ];
    sort_newest_first(&mut initial);
    let list = RwSignal::new(initial);
    let selected = RwSignal::new(None::<String>);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <ConversationList
                conversations=move || list.get()
                selected=move || selected.get()
                on_select=Callback::new(move |id| selected.set(Some(id)))
            />
        }
    });
    let names = |root: &HtmlElement| -> Vec<String> {
        find_all(root, "inbox-conversation-name")
            .into_iter()
            .map(|name| name.text_content().unwrap_or_default())
            .collect()
    };
    let unread = |root: &HtmlElement| -> Vec<String> {
        find_all(root, "inbox-conversation")
            .into_iter()
            .map(|item| item.get_attribute("data-unread").unwrap_or_default())
            .collect()
    };
    assert_eq!(names(&root), ["Cleo", "Ben", "Ann"]);
    assert_eq!(unread(&root), ["2", "1", "0"]);
    assert_eq!(find_all(&root, "inbox-unread").len(), 2, "no badge at 0");
    assert_eq!(text_of(&root, "inbox-conversation-preview"), "from Cleo");

    // Ann writes again: her conversation moves to the top, one unread.
    list.update(|list| {
        apply_message(
            list,
            &message("a", 2, AuthorKind::Visitor, "<b>still there?</b>", 4_000),
            None,
        )
    });
    leptos::task::tick().await;
    assert_eq!(names(&root), ["Ann", "Cleo", "Ben"]);
    assert_eq!(unread(&root), ["1", "2", "1"]);
    // Visitor text is text: no element was made of it.
    assert_eq!(
        text_of(&root, "inbox-conversation-preview"),
        "<b>still there?</b>"
    );
    assert!(root.query_selector("b").unwrap().is_none());

    click(&root, "inbox-conversation").await;
    assert_eq!(selected.get_untracked().as_deref(), Some("a"));

    list.set(Vec::new());
    leptos::task::tick().await;
    assert!(find(&root, "inbox-no-conversations").is_some());
}

#[wasm_bindgen_test]
async fn the_message_bar_says_not_verified_only_for_unverified_conversations() {
    let root = test_root();
    let verified = RwSignal::new(false);
    let sent = RwSignal::new(Vec::<String>::new());
    let typing = RwSignal::new(Vec::<bool>::new());
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <Composer
                verified=verified
                on_send=Callback::new(move |body| {
                    sent.update(|all| all.push(body));
                    true
                })
                on_typing=Callback::new(move |now| typing.update(|all| all.push(now)))
            />
        }
    });
    assert_eq!(text_of(&root, "inbox-not-verified"), "Not verified");
    verified.set(true);
    leptos::task::tick().await;
    assert!(
        find(&root, "inbox-not-verified").is_none(),
        "no label when verified"
    );
    verified.set(false);
    leptos::task::tick().await;
    assert!(find(&root, "inbox-not-verified").is_some());

    // Typing is announced once, sending ends it and clears the box; blank is never sent.
    click(&root, "inbox-send").await;
    type_into(&root, "inbox-reply", "Hi");
    type_into(&root, "inbox-reply", "Hi Ann");
    click(&root, "inbox-send").await;
    assert_eq!(sent.get_untracked(), ["Hi Ann"]);
    assert_eq!(typing.get_untracked(), [true, false]);
    let reply: web_sys::HtmlTextAreaElement = find(&root, "inbox-reply").unwrap().unchecked_into();
    assert_eq!(reply.value(), "");
}

#[wasm_bindgen_test]
async fn messages_and_contact_show_visitor_text_as_text_and_pages_newest_first() {
    let root = test_root();
    let view_at = |url: &str, at: i64| PageView {
        url: url.into(),
        title: None,
        referrer: None,
        visitor_id: "v".into(),
        created_at: at,
    };
    let contact = Contact {
        person: Some(PersonDetail {
            id: "p".into(),
            fields: BTreeMap::from([(
                "str::email".to_string(),
                FieldValue::Text("ann@example.com".into()),
            )]),
            email: Some("ann@example.com".into()),
            first_name: None,
            last_name: None,
            name: Some("Ann Stored".into()),
            created_at: 1,
            last_seen_ip: None,
        }),
        claimed: Some(PersonSummary {
            email: Some("ann@example.com".into()),
            name: Some("Ann <script>".into()),
            ..Default::default()
        }),
        visitor_id: "v".into(),
        verified: false,
        current_page: Some(view_at("https://shop.example/cart", 30)),
        page_views: vec![
            view_at("https://shop.example/", 10),
            view_at("https://shop.example/cart", 30),
            view_at("javascript:alert(1)", 20),
        ],
    };
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <ContactPanel contact=move || Some(contact.clone())/>
            <ol><MessageLine message=message("a", 1, AuthorKind::Visitor, "<img src=x onerror=alert(1)>", 1) seen=false/></ol>
        }
    });
    assert_eq!(text_of(&root, "inbox-contact-name"), "Ann <script>");
    assert_eq!(text_of(&root, "inbox-contact-verified"), "Not verified");
    let urls: Vec<String> = find_all(&root, "inbox-page-view")
        .into_iter()
        .map(|item| item.get_attribute("data-url").unwrap_or_default())
        .collect();
    assert_eq!(
        urls,
        [
            "https://shop.example/cart",
            "javascript:alert(1)",
            "https://shop.example/"
        ]
    );
    // Only http(s) pages become links.
    let links = root
        .query_selector_all("[data-testid=inbox-page-views] a")
        .unwrap();
    assert_eq!(links.length(), 2);
    assert!(text_of(&root, "inbox-current-page").contains("https://shop.example/cart"));
    assert_eq!(
        text_of(&root, "inbox-message-body"),
        "<img src=x onerror=alert(1)>"
    );
    assert!(root.query_selector("img, script").unwrap().is_none());
}

#[wasm_bindgen_test]
async fn settings_form_marks_bad_fields_and_edits_quick_links_without_saving() {
    let root = test_root();
    let mut settings = WidgetSettings::default();
    settings.homepage.quick_links = vec![
        QuickLink {
            label: "Shipping".into(),
            url: "https://shop.example/shipping".into(),
        },
        QuickLink {
            label: "Returns".into(),
            url: "https://shop.example/returns".into(),
        },
    ];
    let draft = RwSignal::new(settings);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! { <WidgetSettingsForm draft/> }
    });

    // Nothing is marked before a save is tried.
    type_into(&root, "settings-brand-color", "blue");
    type_into(&root, "settings-greeting", "Hi {{password}}");
    type_into(&root, "settings-margin-x", "500");
    leptos::task::tick().await;
    assert_eq!(text_of(&root, "settings-brand-color-error"), "");
    assert_eq!(
        draft.get_untracked().homepage.brand_color,
        "blue",
        "the preview follows the draft"
    );

    click(&root, "settings-save").await;
    assert_eq!(
        text_of(&root, "settings-brand-color-error"),
        "Write the brand colour like #1f6feb."
    );
    assert!(text_of(&root, "settings-greeting-error").contains("unknown merge tag `password`"));
    assert_eq!(
        text_of(&root, "settings-margin-x-error"),
        "Enter whole pixels from 0 to 200."
    );
    assert_eq!(
        text_of(&root, "settings-save-status"),
        "Fix the fields marked below, then save again."
    );
    assert_eq!(
        draft.get_untracked().launcher.horizontal_margin,
        20,
        "an invalid margin never reaches the draft"
    );

    // Fixed fields clear at once.
    type_into(&root, "settings-brand-color", "#0a7d34");
    leptos::task::tick().await;
    assert_eq!(text_of(&root, "settings-brand-color-error"), "");

    // Quick links: reorder, remove, add (a new one must be filled in).
    click(&root, "settings-quick-link-down-0").await;
    let labels = |draft: RwSignal<WidgetSettings>| -> Vec<String> {
        draft.with_untracked(|s| {
            s.homepage
                .quick_links
                .iter()
                .map(|l| l.label.clone())
                .collect()
        })
    };
    assert_eq!(labels(draft), ["Returns", "Shipping"]);
    let first_label: HtmlInputElement = find(&root, "settings-quick-link-label-0")
        .unwrap()
        .unchecked_into();
    assert_eq!(first_label.value(), "Returns");
    click(&root, "settings-quick-link-remove-0").await;
    assert_eq!(labels(draft), ["Shipping"]);
    click(&root, "settings-quick-link-add").await;
    assert_eq!(find_all(&root, "settings-quick-link").len(), 2);
    assert_eq!(
        text_of(&root, "settings-quick-link-label-1-error"),
        "Quick link 2: give it a label of 1 to 60 characters."
    );
    type_into(&root, "settings-quick-link-label-1", "Book a demo");
    type_into(
        &root,
        "settings-quick-link-url-1",
        "https://shop.example/demo",
    );
    leptos::task::tick().await;
    assert_eq!(text_of(&root, "settings-quick-link-label-1-error"), "");
    assert_eq!(labels(draft), ["Shipping", "Book a demo"]);
}

#[wasm_bindgen_test]
fn a_pending_reply_shows_as_sending_or_not_sent_with_retry_and_its_text_as_text() {
    let root = test_root();
    let reply = |id: &str, state: ReplyState| PendingReply {
        client_msg_id: id.into(),
        conversation_id: "c1".into(),
        body: "<img src=x onerror=alert(1)>".into(),
        state,
    };
    let (sending, failed) = (
        reply("a", ReplyState::OnSocket),
        reply("b", ReplyState::Failed("This conversation is gone.".into())),
    );
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        provide_context(InboxState::new());
        view! {
            <ol>
                <PendingLine reply=sending.clone()/>
                <PendingLine reply=failed.clone()/>
            </ol>
        }
    });
    let lines = find_all(&root, "inbox-pending");
    let states: Vec<String> = lines
        .iter()
        .map(|line| line.get_attribute("data-state").unwrap_or_default())
        .collect();
    assert_eq!(states, ["sending", "failed"]);
    assert_eq!(
        lines[0].text_content().unwrap_or_default(),
        "You<img src=x onerror=alert(1)>Sending…"
    );
    assert_eq!(
        text_of(&lines[1], "inbox-pending-status"),
        "Not sent: This conversation is gone."
    );
    assert_eq!(
        find_all(&root, "inbox-retry").len(),
        1,
        "only the failed one"
    );
    assert!(root.query_selector("img").unwrap().is_none(), "no markup");
}

// Capture widgets and bots (issue 17).

/// Picks an option as the user would: sets the select's value and fires `change`.
fn choose(root: &HtmlElement, testid: &str, value: &str) {
    let select: HtmlSelectElement = find(root, testid)
        .unwrap_or_else(|| panic!("no {testid}"))
        .unchecked_into();
    select.set_value(value);
    assert_eq!(select.value(), value, "{testid} has no option {value}");
    select
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
}

fn value_of(root: &HtmlElement, testid: &str) -> String {
    let input: HtmlInputElement = find(root, testid)
        .unwrap_or_else(|| panic!("no {testid}"))
        .unchecked_into();
    input.value()
}

/// Waits for a request's answer to show: polls every 20 ms, fails after 5 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..250 {
        if done() {
            return;
        }
        let pause = js_sys::Promise::new(&mut |resolve, _| {
            web_sys::window()
                .unwrap()
                .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 20)
                .unwrap();
        });
        wasm_bindgen_futures::JsFuture::from(pause).await.unwrap();
        leptos::task::tick().await;
    }
    panic!("timed out waiting for {what}");
}

fn agent(id: &str, name: &str) -> AgentProfile {
    AgentProfile {
        id: id.into(),
        email: format!("{id}@example.com"),
        name: name.into(),
        role: AgentRole::Agent,
        workspace_id: "w".into(),
        presence: Presence::Online,
        photo_url: None,
    }
}

fn capture_widget(starts_at: Option<i64>) -> CaptureWidget {
    CaptureWidget {
        id: "cw1".into(),
        input: CaptureWidgetInput {
            name: "Pricing help".into(),
            enabled: true,
            message: "Hi {{first_name|there}}, questions about plans?".into(),
            sender: CaptureSender::Agent {
                agent_id: "a2".into(),
            },
            rules: vec![
                UrlRule {
                    kind: UrlMatch::StartsWith,
                    value: "/pricing".into(),
                    exclude: false,
                },
                UrlRule {
                    kind: UrlMatch::Contains,
                    value: "preview".into(),
                    exclude: true,
                },
            ],
            delay_secs: 3,
            audience: Audience::Unidentified,
            frequency: Frequency::OncePerSession,
            min_gap_secs: 600,
            starts_at,
            ends_at: None,
            display: CaptureDisplay::Opened,
        },
        position: 0,
        created_at: 1,
        updated_at: 1,
        stats: CaptureStats {
            shown: 12,
            dismissed: 5,
            replied: 3,
            conversations: 2,
        },
    }
}

#[wasm_bindgen_test]
fn datetime_local_text_is_the_browsers_local_time() {
    let text = "2025-03-01T09:30";
    let local = LocalDateTime::parse(text).unwrap();
    // The browser reads a date-time without an offset as local time: the same instant.
    let browser = js_sys::Date::new(&text.into()).get_time() as i64;
    assert_eq!(local_to_ms(local), browser);
    assert_eq!(ms_to_local(browser).format(), text);
    // An instant with seconds comes back to the minute.
    assert_eq!(ms_to_local(browser + 59_999).format(), text);
    // Across a year's end and a leap day.
    for text in ["2024-12-31T23:59", "2028-02-29T00:00"] {
        let ms = local_to_ms(LocalDateTime::parse(text).unwrap());
        assert_eq!(ms_to_local(ms).format(), text);
    }
}

#[wasm_bindgen_test]
async fn capture_form_marks_each_bad_field_and_sends_nothing() {
    let root = test_root();
    let saved = RwSignal::new(0);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! {
            <CaptureForm editing=None agents=Signal::derive(|| vec![agent("a1", "Sam")])
                on_saved=Callback::new(move |_| saved.update(|n| *n += 1))
                on_cancel=Callback::new(|()| {})/>
        }
    });
    leptos::task::tick().await;
    // Nothing is marked before a save is tried.
    assert_eq!(text_of(&root, "capture-name-error"), "");
    assert_eq!(value_of(&root, "capture-delay"), "0");
    click(&root, "capture-save").await;
    assert_eq!(
        text_of(&root, "capture-name-error"),
        "Give it a name of 1 to 120 characters (only admins see it)."
    );
    assert_eq!(
        text_of(&root, "capture-message-error"),
        "Write the message visitors see."
    );
    assert_eq!(
        text_of(&root, "capture-form-error"),
        "Fix the fields marked above, then save again."
    );
    let name = find(&root, "capture-name").unwrap();
    assert_eq!(name.get_attribute("aria-invalid").as_deref(), Some("true"));
    let alert = find(&root, "capture-form-error").unwrap();
    assert_eq!(alert.get_attribute("role").as_deref(), Some("alert"));

    // Problems follow every change once a save was tried.
    type_into(&root, "capture-name", "Pricing help");
    type_into(&root, "capture-message", "Hi {{password}}");
    type_into(&root, "capture-delay", "3601");
    type_into(&root, "capture-min-gap", "soon");
    type_into(&root, "capture-starts", "2025-04-01T00:00");
    type_into(&root, "capture-ends", "2025-03-01T00:00");
    leptos::task::tick().await;
    assert_eq!(text_of(&root, "capture-name-error"), "");
    assert!(text_of(&root, "capture-message-error").contains("unknown merge tag `password`"));
    assert_eq!(
        text_of(&root, "capture-delay-error"),
        "Enter whole seconds from 0 to 3600."
    );
    assert_eq!(
        text_of(&root, "capture-min-gap-error"),
        "Enter whole seconds, 0 or more."
    );
    assert_eq!(
        text_of(&root, "capture-ends-error"),
        "The end must come after the start."
    );

    // The sender: the bot, or an agent from the team.
    choose(&root, "capture-sender", "agent:a1");
    type_into(&root, "capture-message", "Hi {{first_name|there}}");
    type_into(&root, "capture-delay", "3");
    type_into(&root, "capture-min-gap", "0");
    type_into(&root, "capture-ends", "");
    leptos::task::tick().await;
    for field in [
        "capture-message",
        "capture-delay",
        "capture-min-gap",
        "capture-ends",
    ] {
        assert_eq!(text_of(&root, &format!("{field}-error")), "", "{field}");
    }
    assert_eq!(saved.get_untracked(), 0, "nothing was saved");
}

#[wasm_bindgen_test]
async fn capture_rules_editor_adds_edits_and_removes_rows_up_to_the_limit() {
    let root = test_root();
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! {
            <CaptureForm editing=None agents=Signal::derive(Vec::new)
                on_saved=Callback::new(|_| {}) on_cancel=Callback::new(|()| {})/>
        }
    });
    assert!(
        find_all(&root, "capture-rule").is_empty(),
        "no rule: every page"
    );
    click(&root, "capture-rule-add").await;
    click(&root, "capture-rule-add").await;
    assert_eq!(find_all(&root, "capture-rule").len(), 2);
    // A new rule includes pages whose URL contains its value.
    let select_value = |testid: &str| -> String {
        let select: HtmlSelectElement = find(&root, testid).unwrap().unchecked_into();
        select.value()
    };
    assert_eq!(select_value("capture-rule-exclude-0"), "0");
    assert_eq!(select_value("capture-rule-match-0"), "1");

    type_into(&root, "capture-rule-value-0", "/pricing");
    choose(&root, "capture-rule-match-0", "2"); // starts with
    type_into(&root, "capture-rule-value-1", "preview");
    choose(&root, "capture-rule-exclude-1", "1"); // never on
    choose(&root, "capture-rule-match-1", "0"); // equals
    leptos::task::tick().await;

    // An empty value is named once a save was tried.
    click(&root, "capture-rule-add").await;
    click(&root, "capture-save").await;
    assert_eq!(
        text_of(&root, "capture-rule-value-2-error"),
        "Rule 3: enter a URL or a part of one, like /pricing (or remove the rule)."
    );
    assert_eq!(text_of(&root, "capture-rule-value-0-error"), "");

    // Removing the first moves the others up, with what was typed and chosen.
    click(&root, "capture-rule-remove-0").await;
    assert_eq!(find_all(&root, "capture-rule").len(), 2);
    assert_eq!(value_of(&root, "capture-rule-value-0"), "preview");
    assert_eq!(select_value("capture-rule-exclude-0"), "1");
    assert_eq!(select_value("capture-rule-match-0"), "0");
    assert_eq!(
        text_of(&root, "capture-rule-value-1-error"),
        "Rule 2: enter a URL or a part of one, like /pricing (or remove the rule)."
    );
    click(&root, "capture-rule-remove-1").await;
    assert_eq!(find_all(&root, "capture-rule").len(), 1);

    // At most MAX_CAPTURE_RULES.
    let add = find(&root, "capture-rule-add").unwrap();
    for _ in 1..MAX_CAPTURE_RULES {
        assert!(!add.has_attribute("disabled"));
        click(&root, "capture-rule-add").await;
    }
    assert_eq!(find_all(&root, "capture-rule").len(), MAX_CAPTURE_RULES);
    assert!(add.has_attribute("disabled"));
}

#[wasm_bindgen_test]
async fn capture_form_opens_a_stored_widget_and_shows_the_servers_refusal() {
    let root = test_root();
    let starts_at = local_to_ms(LocalDateTime::parse("2030-06-15T08:45").unwrap());
    let saved = RwSignal::new(0);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! {
            <CaptureForm editing=Some(capture_widget(Some(starts_at)))
                agents=Signal::derive(|| vec![agent("a1", "Sam"), agent("a2", "Kim")])
                on_saved=Callback::new(move |_| saved.update(|n| *n += 1))
                on_cancel=Callback::new(|()| {})/>
        }
    });
    leptos::task::tick().await;
    assert_eq!(value_of(&root, "capture-name"), "Pricing help");
    assert_eq!(value_of(&root, "capture-starts"), "2030-06-15T08:45");
    assert_eq!(value_of(&root, "capture-ends"), "");
    assert_eq!(value_of(&root, "capture-min-gap"), "600");
    let sender: HtmlSelectElement = find(&root, "capture-sender").unwrap().unchecked_into();
    assert_eq!(sender.value(), "agent:a2");
    assert_eq!(find_all(&root, "capture-rule").len(), 2);
    assert_eq!(value_of(&root, "capture-rule-value-1"), "preview");
    let opened: HtmlInputElement = find(&root, "capture-display-opened")
        .unwrap()
        .unchecked_into();
    assert!(opened.checked());

    // Valid, so it goes to the server: the test runner's server has no such route, and its
    // refusal is shown, the form kept.
    click(&root, "capture-save").await;
    until("the server's answer", || {
        !text_of(&root, "capture-form-error").is_empty()
    })
    .await;
    assert!(
        text_of(&root, "capture-form-error").starts_with("The server answered 4"),
        "{}",
        text_of(&root, "capture-form-error")
    );
    assert_eq!(saved.get_untracked(), 0);
    assert_eq!(value_of(&root, "capture-name"), "Pricing help");
}

#[wasm_bindgen_test]
async fn a_capture_row_shows_its_counts_and_asks_before_deleting() {
    let root = test_root();
    let moved = RwSignal::new(Vec::<usize>::new());
    let deleted = RwSignal::new(Vec::<String>::new());
    let switched = RwSignal::new(Vec::<bool>::new());
    let confirming = RwSignal::new(None::<String>);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! {
            <ol>
                <CaptureRow widget=capture_widget(None) index=1 last=Signal::derive(|| true) confirming
                    on_switch=Callback::new(move |(_, on)| switched.update(|all| all.push(on)))
                    on_move=Callback::new(move |to| moved.update(|all| all.push(to)))
                    on_edit=Callback::new(|_| {})
                    on_delete=Callback::new(move |widget: CaptureWidget| deleted.update(|all| all.push(widget.id)))/>
            </ol>
        }
    });
    assert_eq!(text_of(&root, "capture-shown"), "12");
    assert_eq!(text_of(&root, "capture-dismissed"), "5");
    assert_eq!(text_of(&root, "capture-replied"), "3");
    assert_eq!(text_of(&root, "capture-conversations"), "2");
    assert_eq!(
        text_of(&root, "capture-row-summary"),
        "2 URL rules · Unidentified visitors (no email given) · after 3 s on the page · Once per visit"
    );
    let down = find(&root, "capture-down").unwrap();
    assert!(
        down.has_attribute("disabled"),
        "the last one can't move down"
    );
    assert_eq!(
        down.text_content().unwrap_or_default(),
        "Move down “Pricing help”",
        "each button names its widget"
    );
    click(&root, "capture-up").await;
    assert_eq!(moved.get_untracked(), [0]);
    click(&root, "capture-enabled").await;
    assert_eq!(switched.get_untracked(), [false]);

    click(&root, "capture-delete").await;
    assert!(text_of(&root, "capture-delete-confirmation").starts_with("Delete “Pricing help”?"));
    click(&root, "capture-delete-cancel").await;
    assert!(find(&root, "capture-delete-confirmation").is_none());
    assert!(deleted.get_untracked().is_empty());
    click(&root, "capture-delete").await;
    click(&root, "capture-delete-confirm").await;
    assert_eq!(deleted.get_untracked(), ["cw1"]);
}

#[wasm_bindgen_test]
async fn bot_form_checks_name_and_addresses_before_sending() {
    let root = test_root();
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! {
            <BotForm editing=None on_created=Callback::new(|_| {}) on_saved=Callback::new(|_| {})
                on_cancel=Callback::new(|()| {})/>
        }
    });
    leptos::task::tick().await;
    assert_eq!(value_of(&root, "bot-webhook"), "https://");
    click(&root, "bot-save").await;
    assert_eq!(
        text_of(&root, "bot-name-error"),
        "Give the bot a name of 1 to 60 characters: visitors see it."
    );
    assert!(text_of(&root, "bot-webhook-error").starts_with("Enter the address Talk posts to"));
    assert_eq!(text_of(&root, "bot-photo-error"), "", "a photo is optional");
    type_into(&root, "bot-name", "Ada");
    type_into(&root, "bot-photo", "ada.png");
    type_into(&root, "bot-webhook", "https://bot.example.com/talk");
    choose(&root, "bot-takes", "1");
    leptos::task::tick().await;
    assert_eq!(text_of(&root, "bot-name-error"), "");
    assert_eq!(text_of(&root, "bot-webhook-error"), "");
    assert_eq!(
        text_of(&root, "bot-photo-error"),
        "The photo must be an https:// address of an image, or empty."
    );
}

#[wasm_bindgen_test]
async fn a_new_bots_secret_and_key_show_once_with_copy_buttons() {
    let root = test_root();
    let done = RwSignal::new(false);
    let answer = BotCreated {
        bot: Bot {
            id: "b1".into(),
            input: BotInput {
                name: "Ada".into(),
                photo_url: None,
                webhook_url: "https://bot.example.com/talk".into(),
                takes: BotTakes::AllNew,
                enabled: true,
            },
            api_key_prefix: "talk_bk_1a2b".into(),
            created_at: 1,
        },
        signing_secret: "whsec_0123456789".into(),
        api_key: "talk_bk_1a2b_secret".into(),
    };
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <NewBotSecrets answer=answer.clone() on_done=Callback::new(move |()| done.set(true))/> }
    });
    assert_eq!(text_of(&root, "bot-secret"), "whsec_0123456789");
    assert_eq!(text_of(&root, "bot-key"), "talk_bk_1a2b_secret");
    assert!(text_of(&root, "bot-created").contains("you won't see them again"));
    // Copying works where the page may write the clipboard, and says so either way.
    click(&root, "bot-copy-key").await;
    until("the copy's outcome", || {
        !text_of(&root, "bot-copy-status").is_empty()
    })
    .await;
    assert!(text_of(&root, "bot-copy-status").contains("API key"));
    click(&root, "bot-created-done").await;
    assert!(done.get_untracked());
}

#[wasm_bindgen_test]
fn the_delivery_log_says_what_happened_to_each_event() {
    let root = test_root();
    let delivery = |id: &str, status: DeliveryStatus| WebhookDelivery {
        id: id.into(),
        bot_id: "b1".into(),
        conversation_id: "c1".into(),
        event_type: "message.created".into(),
        status,
        attempts: 1,
        last_status: None,
        last_error: None,
        created_at: 1_000,
        next_attempt_at: None,
        delivered_at: None,
    };
    let rows = vec![
        WebhookDelivery {
            attempts: 3,
            last_status: Some(503),
            last_error: Some("<b>down</b>".into()),
            next_attempt_at: Some(9_000),
            ..delivery("d3", DeliveryStatus::Pending)
        },
        WebhookDelivery {
            attempts: 8,
            last_error: Some("connection refused".into()),
            ..delivery("d2", DeliveryStatus::Failed)
        },
        WebhookDelivery {
            last_status: Some(200),
            delivered_at: Some(2_000),
            ..delivery("d1", DeliveryStatus::Delivered)
        },
    ];
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! {
            <table><tbody>
                {rows.clone().into_iter().map(|delivery| view! { <DeliveryRow delivery/> }).collect_view()}
            </tbody></table>
        }
    });
    let column = |testid: &str| -> Vec<String> {
        find_all(&root, testid)
            .into_iter()
            .map(|cell| cell.text_content().unwrap_or_default())
            .collect()
    };
    assert_eq!(
        column("bot-delivery-status"),
        ["pending", "failed", "delivered"]
    );
    assert_eq!(column("bot-delivery-attempts"), ["3", "8", "1"]);
    assert_eq!(
        column("bot-delivery-last"),
        ["HTTP 503: <b>down</b>", "connection refused", "HTTP 200"]
    );
    assert!(
        root.query_selector("b").unwrap().is_none(),
        "errors are text"
    );
    let states: Vec<String> = find_all(&root, "bot-delivery")
        .into_iter()
        .map(|row| row.get_attribute("data-status").unwrap_or_default())
        .collect();
    assert_eq!(states, ["pending", "failed", "delivered"]);
}

#[wasm_bindgen_test]
async fn the_sections_show_the_servers_refusal_when_their_lists_cannot_load() {
    let root = test_root();
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! { <CaptureWidgetsSection/><BotsSection/> }
    });
    // The test runner's server has no admin API: each list's error shows, in an alert.
    until("both errors", || {
        !text_of(&root, "capture-error").is_empty() && !text_of(&root, "bot-error").is_empty()
    })
    .await;
    assert!(text_of(&root, "capture-error").starts_with("The server answered 4"));
    assert_eq!(
        find(&root, "bot-error")
            .unwrap()
            .get_attribute("role")
            .as_deref(),
        Some("alert")
    );
    // The forms open from the sections' buttons.
    click(&root, "capture-new").await;
    assert!(find(&root, "capture-form").is_some());
    click(&root, "capture-cancel").await;
    assert!(find(&root, "capture-form").is_none());
    click(&root, "bot-new").await;
    assert!(find(&root, "bot-form").is_some());
}

/// A contact of a known person: (unverified) Ann, who typed her email.
fn known_contact(person: bool) -> Contact {
    Contact {
        person: person.then(|| PersonDetail {
            id: "person-ann".into(),
            fields: BTreeMap::new(),
            email: Some("ann@example.com".into()),
            first_name: None,
            last_name: None,
            name: None,
            created_at: 1,
            last_seen_ip: None,
        }),
        claimed: Some(PersonSummary {
            email: Some("ann@example.com".into()),
            ..Default::default()
        }),
        visitor_id: "v".into(),
        verified: false,
        current_page: None,
        page_views: Vec::new(),
    }
}

#[wasm_bindgen_test]
async fn the_contact_panel_writes_first_to_a_known_person_and_says_what_went_wrong() {
    let root = test_root();
    let sent = RwSignal::new(Vec::<(String, String)>::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let person = RwSignal::new(true);
    let start = StartConversation {
        send: Callback::new(move |message| sent.update(|all| all.push(message))),
        busy: busy.into(),
        error: error.into(),
    };
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <ContactPanel contact=move || Some(known_contact(person.get())) start/> }
    });
    // Labelled for assistive technology, the error line announced.
    let body = find(&root, "contact-start-body").expect("a known person: the form is there");
    let label = root
        .query_selector("label[for=contact-start-body]")
        .unwrap()
        .expect("the message box has a label");
    assert_eq!(label.text_content().unwrap(), "Message this person");
    assert!(body
        .get_attribute("aria-describedby")
        .unwrap()
        .contains("contact-start-error"));
    let error_line = find(&root, "contact-start-error").unwrap();
    assert_eq!(error_line.get_attribute("role").as_deref(), Some("alert"));

    // Blank is refused here, and nothing is sent.
    click(&root, "contact-start-send").await;
    assert_eq!(
        text_of(&root, "contact-start-error"),
        "Write a message first."
    );
    assert_eq!(body.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert!(sent.get_untracked().is_empty());

    // Typing clears it; Send hands over the trimmed text with the person's id.
    type_into(&root, "contact-start-body", "  We have news  ");
    leptos::task::tick().await;
    assert_eq!(text_of(&root, "contact-start-error"), "");
    click(&root, "contact-start-send").await;
    assert_eq!(
        sent.get_untracked(),
        [("person-ann".to_string(), "We have news".to_string())]
    );

    // While it is on its way, Send waits; the server's refusal is shown.
    busy.set(true);
    leptos::task::tick().await;
    let button = find(&root, "contact-start-send").unwrap();
    assert!(button.has_attribute("disabled"));
    click(&root, "contact-start-send").await;
    assert_eq!(sent.get_untracked().len(), 1, "not twice");
    busy.set(false);
    error.set(Some(
        "This person has 10 open conversations already.".into(),
    ));
    leptos::task::tick().await;
    assert!(!button.has_attribute("disabled"));
    assert_eq!(
        text_of(&root, "contact-start-error"),
        "This person has 10 open conversations already."
    );

    // Sent again (the agent tries once more): handed over again, the inbox decides the id.
    click(&root, "contact-start-send").await;
    assert_eq!(sent.get_untracked().len(), 2);

    // An unidentified visitor has no person to write to.
    person.set(false);
    leptos::task::tick().await;
    assert!(find(&root, "contact-start").is_none());
}

#[wasm_bindgen_test]
async fn the_contact_panel_offers_no_new_conversation_where_it_cannot_start_one() {
    let root = test_root();
    // Without a `start` (a panel that only shows), nothing to write with.
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <ContactPanel contact=move || Some(known_contact(true))/> }
    });
    assert!(find(&root, "contact-start").is_none());
    assert_eq!(text_of(&root, "inbox-contact-name"), "ann@example.com");
}

// Usage, quotas and previews (issue 18).

fn usage_day(day: &str, visitor: i64, voice: i64, preview: i64) -> UsageDay {
    UsageDay {
        day: day.into(),
        production: UsageCounts {
            text: TextCounts {
                visitor,
                agent: visitor / 2,
                bot: 0,
                auto_reply: i64::from(visitor > 0),
            },
            voice_minutes: voice,
            calls: i64::from(voice > 0),
            conversations_inbound: i64::from(visitor > 0),
            widget_sessions: 2,
            ..Default::default()
        },
        preview: UsageCounts {
            text: TextCounts {
                visitor: preview,
                ..Default::default()
            },
            ..Default::default()
        },
    }
}

fn usage_report(mode: QuotaMode) -> UsageReport {
    let days = vec![
        usage_day("2025-05-01", 4, 0, 0),
        usage_day("2025-05-02", 0, 0, 3),
        usage_day("2025-05-03", 10, 7, 0),
    ];
    let mut totals = UsageCounts::default();
    let mut preview_totals = UsageCounts::default();
    for day in &days {
        totals.text.visitor += day.production.text.visitor;
        totals.text.agent += day.production.text.agent;
        totals.text.auto_reply += day.production.text.auto_reply;
        totals.voice_minutes += day.production.voice_minutes;
        totals.calls += day.production.calls;
        totals.conversations_inbound += day.production.conversations_inbound;
        totals.widget_sessions += day.production.widget_sessions;
        preview_totals.text.visitor += day.preview.text.visitor;
    }
    UsageReport {
        from: "2025-05-01".into(),
        to: "2025-05-03".into(),
        days,
        totals,
        preview_totals,
        quota: QuotaStatus {
            month: "2025-05".into(),
            settings: QuotaSettings {
                mode,
                text_messages_per_month: Some(100),
                voice_minutes_per_month: None,
            },
            text: QuotaMeter {
                used: 24,
                limit: Some(100),
            },
            voice: QuotaMeter {
                used: 7,
                limit: None,
            },
        },
        preview_limits: PreviewLimits {
            messages_per_day: 200,
            voice_minutes_per_day: 30,
        },
    }
}

fn attribute(element: &HtmlElement, name: &str) -> String {
    element.get_attribute(name).unwrap_or_default()
}

fn attributes(root: &HtmlElement, testid: &str, name: &str) -> Vec<String> {
    find_all(root, testid)
        .iter()
        .map(|element| attribute(element, name))
        .collect()
}

#[wasm_bindgen_test]
fn the_usage_chart_is_an_svg_image_with_each_days_counts_and_a_description() {
    let root = test_root();
    let report = usage_report(QuotaMode::Soft);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <UsageChart report=report.clone()/> }
    });
    let svg = find(&root, "usage-chart").expect("the chart");
    assert_eq!(
        svg.namespace_uri().as_deref(),
        Some("http://www.w3.org/2000/svg")
    );
    assert_eq!(attribute(&svg, "role"), "img");
    assert!(attribute(&svg, "viewBox").starts_with("0 0 "));
    let names: Vec<String> = attribute(&svg, "aria-labelledby")
        .split(' ')
        .map(|id| {
            root.query_selector(&format!("#{id}"))
                .unwrap()
                .and_then(|element| element.text_content())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names[0], "Daily usage");
    assert!(
        names[1].starts_with("From 2025-05-01 to 2025-05-03, 3 days: 23 text messages (busiest day 2025-05-03, with 16)"),
        "{}",
        names[1]
    );
    assert!(names[1].contains("This month: 24 of 100 text messages (24%)."));
    // A bar per day and series, its count and day in attributes.
    assert_eq!(
        attributes(&root, "usage-chart-text", "data-count"),
        ["7", "0", "16"]
    );
    assert_eq!(
        attributes(&root, "usage-chart-text", "data-day"),
        ["2025-05-01", "2025-05-02", "2025-05-03"]
    );
    assert_eq!(
        attributes(&root, "usage-chart-preview-text", "data-count"),
        ["0", "3", "0"]
    );
    assert_eq!(
        attributes(&root, "usage-chart-voice", "data-count"),
        ["0", "0", "7"]
    );
    let heights: Vec<i32> = attributes(&root, "usage-chart-text", "height")
        .iter()
        .map(|h| h.parse().unwrap())
        .collect();
    assert!(
        heights[2] > heights[0] && heights[0] > 0 && heights[1] == 0,
        "{heights:?}"
    );
    // The quota on: this month against it, text only (voice has no limit), and its lines.
    assert!(find(&root, "usage-chart-panel-quota").is_some());
    assert_eq!(
        attributes(&root, "usage-chart-text-quota", "data-total"),
        ["24"]
    );
    assert!(find(&root, "usage-chart-voice-quota").is_none());
    assert!(find(&root, "inbox-chart-quota").is_some());
    assert!(text_of(&root, "usage-legend").contains("the red line is the quota (100%)"));
}

#[wasm_bindgen_test]
fn without_a_quota_the_chart_has_no_quota_panel() {
    let root = test_root();
    let report = usage_report(QuotaMode::Off);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <UsageChart report=report.clone()/> }
    });
    assert!(find(&root, "usage-chart-panel-text").is_some());
    assert!(find(&root, "usage-chart-panel-quota").is_none());
    let svg = find(&root, "usage-chart").unwrap();
    assert!(svg
        .text_content()
        .unwrap()
        .contains("No monthly quota is set."));
}

/// Replaces `URL.createObjectURL` and links' `click` with recorders (no download starts):
/// the blobs handed over and the links clicked, as `[download, href]`. `restore` undoes it.
fn record_downloads() {
    js_sys::Function::new_no_args(
        "const url = URL.createObjectURL, click = HTMLAnchorElement.prototype.click; \
         window.__talkRestore = function () { URL.createObjectURL = url; HTMLAnchorElement.prototype.click = click; }; \
         window.__talkBlobs = []; window.__talkLinks = []; \
         URL.createObjectURL = function (blob) { window.__talkBlobs.push(blob); return url.call(URL, blob); }; \
         HTMLAnchorElement.prototype.click = function () { window.__talkLinks.push([this.download, this.href]); };",
    )
    .call0(&JsValue::NULL)
    .unwrap();
}

fn restore_downloads() {
    js_sys::Function::new_no_args("window.__talkRestore();")
        .call0(&JsValue::NULL)
        .unwrap();
}

fn global(path: &str) -> JsValue {
    js_sys::Function::new_no_args(&format!("return {path};"))
        .call0(&JsValue::NULL)
        .unwrap()
}

#[wasm_bindgen_test]
async fn the_report_has_a_table_behind_a_toggle_totals_and_a_csv_download() {
    let root = test_root();
    let report = usage_report(QuotaMode::Off);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <UsageReportView report=report.clone()/> }
    });
    let toggle = find(&root, "usage-table-toggle").unwrap();
    assert_eq!(attribute(&toggle, "aria-expanded"), "false");
    assert_eq!(attribute(&toggle, "aria-controls"), "usage-table");
    let holder = root.query_selector("#usage-table").unwrap().unwrap();
    assert!(holder.has_attribute("hidden"));
    click(&root, "usage-table-toggle").await;
    assert_eq!(attribute(&toggle, "aria-expanded"), "true");
    assert!(!holder.has_attribute("hidden"));
    assert_eq!(text_of(&root, "usage-table-toggle"), "Hide the table");

    let table = find(&root, "usage-table").unwrap();
    assert_eq!(
        table
            .query_selector("caption")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "Usage per day (UTC), 2025-05-01 to 2025-05-03"
    );
    let headers = table
        .query_selector_all("thead th[scope=col]")
        .unwrap()
        .length();
    assert_eq!(headers, 14);
    assert_eq!(
        attributes(&root, "usage-row", "data-day"),
        ["2025-05-01", "2025-05-02", "2025-05-03"]
    );
    let rows = find_all(&root, "usage-row");
    assert_eq!(
        rows[2]
            .query_selector("th[scope=row]")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "2025-05-03"
    );
    assert_eq!(text_of(&rows[2], "usage-row-text"), "16");
    assert_eq!(text_of(&rows[2], "usage-row-voice"), "7");
    assert_eq!(text_of(&rows[1], "usage-row-preview-text"), "3");
    let total = find(&root, "usage-row-total").unwrap();
    assert_eq!(text_of(&total, "usage-row-text"), "23");

    // The totals, production and previews apart.
    assert_eq!(text_of(&root, "usage-total-text"), "23");
    assert_eq!(text_of(&root, "usage-total-visitor"), "14");
    assert_eq!(text_of(&root, "usage-total-auto-reply"), "2");
    assert_eq!(text_of(&root, "usage-total-voice"), "7");
    assert_eq!(text_of(&root, "usage-total-calls"), "1");
    assert_eq!(text_of(&root, "usage-preview-text"), "3");
    assert!(text_of(&root, "usage-preview-limits")
        .contains("200 preview messages and 30 preview voice minutes a day"));

    // The CSV, built here, goes to the browser as a download.
    record_downloads();
    click(&root, "usage-csv").await;
    restore_downloads();
    let links: Vec<Vec<String>> = clicked_links();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0][0], "talk-usage-2025-05-01-to-2025-05-03.csv");
    assert!(links[0][1].starts_with("blob:"), "{}", links[0][1]);
    let blob: web_sys::Blob = js_sys::Reflect::get(&global("window.__talkBlobs"), &0.into())
        .unwrap()
        .unchecked_into();
    assert_eq!(blob.type_(), "text/csv;charset=utf-8");
    let text = wasm_bindgen_futures::JsFuture::from(blob.text())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("day,text_messages,"));
    assert!(
        lines[3].starts_with("2025-05-03,16,10,5,0,1,7,1,1,0,2,0,0,"),
        "{}",
        lines[3]
    );
    assert!(lines[4].starts_with("total,23,"));
    assert_eq!(text_of(&root, "usage-csv-error"), "");
}

/// The links the export clicked, as `[download, href]`.
fn clicked_links() -> Vec<Vec<String>> {
    let links: js_sys::Array = global("window.__talkLinks").unchecked_into();
    links
        .iter()
        .map(|link| {
            let pair: js_sys::Array = link.unchecked_into();
            pair.iter()
                .map(|v| v.as_string().unwrap_or_default())
                .collect()
        })
        .collect()
}

#[wasm_bindgen_test]
async fn the_quota_form_checks_its_limits_before_sending_and_shows_the_refusal() {
    let root = test_root();
    let saved = RwSignal::new(0);
    let mut current = usage_report(QuotaMode::Soft).quota;
    current.settings.voice_minutes_per_month = Some(500);
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        provide_context(Auth::new());
        view! { <QuotaForm current=current.clone() on_saved=Callback::new(move |_| saved.update(|n| *n += 1))/> }
    });
    tick().await;
    assert_eq!(value_of(&root, "quota-text"), "100");
    assert_eq!(value_of(&root, "quota-voice"), "500");
    let mode: HtmlSelectElement = find(&root, "quota-mode").unwrap().unchecked_into();
    assert_eq!(mode.value(), "1", "soft");

    type_into(&root, "quota-text", "12.5");
    type_into(&root, "quota-voice", "");
    click(&root, "quota-save").await;
    assert_eq!(
        text_of(&root, "quota-text-error"),
        "Write a whole number of messages from 1 to 1,000,000,000, or leave it empty for no limit."
    );
    assert_eq!(
        attribute(&find(&root, "quota-text").unwrap(), "aria-invalid"),
        "true"
    );

    type_into(&root, "quota-text", "");
    choose(&root, "quota-mode", "2");
    click(&root, "quota-save").await;
    assert_eq!(
        text_of(&root, "quota-text-error"),
        "Set a monthly limit for text messages or voice minutes, or turn quotas off."
    );
    assert_eq!(text_of(&root, "quota-error"), "", "nothing was sent");

    // Valid: sent, and the test runner's server, which has no admin API, refuses it.
    type_into(&root, "quota-text", "10000");
    click(&root, "quota-save").await;
    assert_eq!(text_of(&root, "quota-text-error"), "");
    until("the server's refusal", || {
        !text_of(&root, "quota-error").is_empty()
    })
    .await;
    assert_eq!(saved.get_untracked(), 0);
}

fn warning(metric: QuotaMetric, level: u8, mode: QuotaMode) -> QuotaWarning {
    QuotaWarning {
        month: "2025-05".into(),
        metric,
        level,
        used: if level >= 100 { 10_000 } else { 8_000 },
        limit: 10_000,
        mode,
    }
}

#[wasm_bindgen_test]
async fn quota_warnings_show_in_a_banner_polite_then_urgent_and_stay_dismissed() {
    let root = test_root();
    let inbox = InboxState::new();
    let opened = RwSignal::new(0);
    let auth = Auth::new();
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <QuotaBanner alerts=inbox.quota on_open_usage=Callback::new(move |()| opened.update(|n| *n += 1))/> }
    });
    let polite = find(&root, "quota-banners").unwrap();
    let urgent = find(&root, "quota-alerts").unwrap();
    assert_eq!(
        (attribute(&polite, "role"), attribute(&urgent, "role")),
        ("status".into(), "alert".into())
    );
    assert!(find(&root, "quota-banner").is_none());

    // Live from the socket: the inbox's event handler passes it on.
    inbox.on_event(
        ServerEvent::QuotaWarning {
            warning: warning(QuotaMetric::Text, 80, QuotaMode::Hard),
        },
        auth,
    );
    tick().await;
    assert_eq!(
        text_of(&polite, "quota-banner-text"),
        "You've used 80% of this month's text messages (8,000 of 10,000)."
    );
    assert!(find(&urgent, "quota-banner").is_none());
    click(&root, "quota-banner-usage").await;
    assert_eq!(opened.get_untracked(), 1);

    // 100% in hard mode: an alert, which replaces the text warning.
    inbox
        .quota
        .live(warning(QuotaMetric::Text, 100, QuotaMode::Hard));
    tick().await;
    assert!(find(&polite, "quota-banner").is_none());
    assert_eq!(
        text_of(&urgent, "quota-banner-text"),
        "You've used 100% of this month's text messages (10,000 of 10,000). New visitor conversations are refused until next month or a higher limit."
    );
    inbox
        .quota
        .live(warning(QuotaMetric::Voice, 80, QuotaMode::Hard));
    tick().await;
    assert_eq!(find_all(&root, "quota-banner").len(), 2);

    // Dismissed: gone, and the same warning again (the standing on the next load) stays away.
    click(&urgent, "quota-banner-dismiss").await;
    assert_eq!(attributes(&root, "quota-banner", "data-metric"), ["voice"]);
    inbox
        .quota
        .live(warning(QuotaMetric::Text, 100, QuotaMode::Hard));
    tick().await;
    assert_eq!(attributes(&root, "quota-banner", "data-metric"), ["voice"]);
    // A quota raised meanwhile: the standing says nothing is near a limit any more.
    let mut status = usage_report(QuotaMode::Soft).quota;
    status.text.limit = Some(1_000_000);
    inbox.quota.standing(&status);
    tick().await;
    assert!(find(&root, "quota-banner").is_none());
}
