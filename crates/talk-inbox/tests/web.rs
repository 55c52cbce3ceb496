//! Inbox components mounted alone in headless Chromium, each in a node the test owns,
//! elements found by `data-testid`.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use std::collections::BTreeMap;
use talk_browser::testing::{click, find, find_all, test_root, text_of, type_into};
use talk_inbox::components::settings::WidgetSettingsForm;
use talk_inbox::components::{
    Auth, Composer, ContactPanel, ConversationList, InboxState, MessageLine, PendingLine,
    SignInForm, StartConversation,
};
use talk_inbox::outbox::{PendingReply, ReplyState};
use talk_inbox::state::{apply_message, sort_newest_first};
use talk_protocol::{
    Author, AuthorKind, Contact, Conversation, ConversationStatus, FieldValue, InboxConversation,
    Message, PageView, PersonDetail, PersonSummary, QuickLink, WidgetSettings,
};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{HtmlElement, HtmlInputElement};

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
