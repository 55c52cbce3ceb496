use super::{Auth, ContactPanel, ConversationList, QuotaAlerts, StartConversation};
use crate::api::{ApiClient, ApiError, ConversationAction, Explained};
use crate::components::conversation_view::ConversationView;
use crate::outbox::{Outbox, PendingReply};
use crate::state::{self, StartAttempt, Tab};
use crate::{live, notify};
use leptos::prelude::*;
use std::collections::HashSet;
use talk_protocol::{
    AuthorKind, ClientEvent, Contact, Conversation, ConversationStatus, InboxConversation, Message,
    ServerEvent, StartedConversation,
};

/// The conversations, the one on screen and its live state.
#[derive(Clone, Copy)]
pub struct InboxState {
    pub tab: RwSignal<Tab>,
    pub conversations: RwSignal<Vec<InboxConversation>>,
    /// Where the next page of the list starts; `None`: the list is whole.
    next_cursor: RwSignal<Option<String>>,
    /// A further page is on its way: scrolling asks for it once.
    loading_more: StoredValue<bool>,
    pub list_error: RwSignal<Option<String>>,
    pub selected: RwSignal<Option<String>>,
    /// The selected conversation's latest state (it may not be in the tab's list).
    pub current: RwSignal<Option<Conversation>>,
    pub current_name: RwSignal<String>,
    pub messages: RwSignal<Vec<Message>>,
    /// An older page of the selected conversation is on its way: asked for once.
    loading_older: RwSignal<bool>,
    /// The page below a gap in `messages` is on its way.
    filling_gap: StoredValue<bool>,
    /// The message above the gap last asked about: a gap its answer didn't close (a
    /// message the server no longer has) isn't asked about again.
    gap_asked: StoredValue<Option<i64>>,
    pub visitor_typing: RwSignal<bool>,
    pub contact: RwSignal<Option<Contact>>,
    pub action_error: RwSignal<Option<String>>,
    /// Every conversation id seen, to tell a new conversation from one changing state.
    known: StoredValue<HashSet<String>>,
    /// New conversations whose first message is awaited for the notification's text.
    announcing: StoredValue<HashSet<String>>,
    /// The agent's replies the server has not acknowledged yet (`crate::outbox`).
    pub outbox: RwSignal<Outbox>,
    /// The socket said `ready` and has not closed since: replies go over it.
    socket_ready: StoredValue<bool>,
    /// Writing first to a person (the contact panel): a start is on its way, why the last
    /// one failed, and that attempt (sent again under its id if the agent sends it again).
    start_busy: RwSignal<bool>,
    start_error: RwSignal<Option<String>>,
    start_attempt: StoredValue<Option<StartAttempt>>,
    /// The admins' quota warnings, which the socket brings too.
    pub quota: QuotaAlerts,
}

impl InboxState {
    pub fn new() -> Self {
        InboxState {
            tab: RwSignal::new(Tab::Open),
            conversations: RwSignal::new(Vec::new()),
            next_cursor: RwSignal::new(None),
            loading_more: StoredValue::new(false),
            list_error: RwSignal::new(None),
            selected: RwSignal::new(None),
            current: RwSignal::new(None),
            current_name: RwSignal::new(String::new()),
            messages: RwSignal::new(Vec::new()),
            loading_older: RwSignal::new(false),
            filling_gap: StoredValue::new(false),
            gap_asked: StoredValue::new(None),
            visitor_typing: RwSignal::new(false),
            contact: RwSignal::new(None),
            action_error: RwSignal::new(None),
            known: StoredValue::new(HashSet::new()),
            announcing: StoredValue::new(HashSet::new()),
            outbox: RwSignal::new(Outbox::default()),
            socket_ready: StoredValue::new(false),
            start_busy: RwSignal::new(false),
            start_error: RwSignal::new(None),
            start_attempt: StoredValue::new(None),
            quota: QuotaAlerts::new(),
        }
    }

    /// Fetches the list's first page again; pages loaded by scrolling stay.
    pub fn reload_list(self, auth: Auth) {
        let tab = self.tab.get_untracked();
        let request = ApiClient.conversations(tab.filter(), None);
        auth.call(request, self.list_error, move |list| {
            if self.tab.get_untracked() != tab {
                return; // the agent switched tabs meanwhile
            }
            self.remember(&list.conversations);
            self.list_error.set(None);
            let more = list.next_cursor.is_some();
            let mut kept_deeper = false;
            self.conversations.update(|current| {
                let (merged, kept) = state::merge_first_page(current, list.conversations, more);
                *current = merged;
                kept_deeper = kept;
            });
            if !kept_deeper {
                self.next_cursor.set(list.next_cursor);
            }
        });
    }

    /// The next page, when the agent scrolled near the end of the list.
    pub fn load_more(self, auth: Auth) {
        let Some(cursor) = self.next_cursor.get_untracked() else {
            return;
        };
        if self.loading_more.get_value() {
            return;
        }
        self.loading_more.set_value(true);
        let tab = self.tab.get_untracked();
        let asked = cursor.clone();
        let request = async move {
            let answer = ApiClient.conversations(tab.filter(), Some(&asked)).await;
            self.loading_more.set_value(false);
            answer
        };
        auth.call(request, self.list_error, move |page| {
            if self.tab.get_untracked() != tab
                || self.next_cursor.get_untracked().as_deref() != Some(cursor.as_str())
            {
                return; // another tab, or the list was reset meanwhile
            }
            self.remember(&page.conversations);
            self.conversations
                .update(|list| state::append_page(list, page.conversations));
            self.next_cursor.set(page.next_cursor);
        });
    }

    fn remember(self, listed: &[InboxConversation]) {
        self.known
            .update_value(|known| known.extend(listed.iter().map(|c| c.conversation.id.clone())));
    }

    pub fn select(self, listed: &InboxConversation, auth: Auth) {
        let id = listed.conversation.id.clone();
        self.selected.set(Some(id.clone()));
        self.current.set(Some(listed.conversation.clone()));
        self.current_name.set(state::display_name(listed));
        self.messages.set(Vec::new());
        self.loading_older.set(false);
        self.filling_gap.set_value(false);
        self.gap_asked.set_value(None);
        self.contact.set(None);
        self.visitor_typing.set(false);
        self.action_error.set(None);
        self.start_error.set(None);
        self.load_selected(auth);
    }

    /// Shows a conversation that may not be in the tab's list, opened from elsewhere (a
    /// capture widget's conversations): the list's entry when it has one, for the name.
    pub fn open(self, conversation: Conversation, auth: Auth) {
        let listed = self
            .conversations
            .with_untracked(|list| {
                list.iter()
                    .find(|listed| listed.conversation.id == conversation.id)
                    .cloned()
            })
            .unwrap_or(InboxConversation {
                conversation,
                unread: 0,
                contact_name: None,
                contact_email: None,
                last_message: None,
            });
        self.select(&listed, auth);
    }

    /// Messages and contact of the selected conversation, from the server.
    fn load_selected(self, auth: Auth) {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        let request = {
            let id = id.clone();
            async move { ApiClient.messages(&id, None).await }
        };
        auth.call(request, self.action_error, move |list| {
            if self.take_page(&id, list.messages) {
                // After a reconnect the newest page may not reach what was on screen.
                self.fill_gap(auth);
                self.mark_read();
            }
        });
        self.reload_contact(auth);
    }

    /// Fetches the page below a gap in the messages on screen: a live message overtook the
    /// ones before it (they were lost on the way), or a reconnect's newest page starts above
    /// the last message shown. Page by page until the gap is closed.
    fn fill_gap(self, auth: Auth) {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        let Some(above) = self.messages.with_untracked(|m| state::first_gap_top(m)) else {
            return;
        };
        if self.filling_gap.get_value() || self.gap_asked.get_value() == Some(above) {
            return;
        }
        self.filling_gap.set_value(true);
        self.gap_asked.set_value(Some(above));
        let request = {
            let id = id.clone();
            async move {
                let answer = ApiClient.messages(&id, Some(above)).await;
                self.filling_gap.set_value(false);
                answer
            }
        };
        auth.call(request, self.action_error, move |list| {
            if self.take_page(&id, list.messages) {
                self.fill_gap(auth);
                self.mark_read();
            }
        });
    }

    /// Messages before the first one on screen exist (seqs start at 1 and have no gaps).
    pub fn has_older(self) -> bool {
        self.messages
            .with(|messages| messages.first().is_some_and(|first| first.seq > 1))
    }

    pub fn loading_older(self) -> bool {
        self.loading_older.get()
    }

    /// The page before the first message on screen (the server's pages are bounded in
    /// count and bytes, so a long conversation arrives a page at a time).
    pub fn load_older(self, auth: Auth) {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        let Some(first) = self.messages.with_untracked(|m| m.first().map(|m| m.seq)) else {
            return;
        };
        if first <= 1 || self.loading_older.get_untracked() {
            return;
        }
        self.loading_older.set(true);
        let request = {
            let id = id.clone();
            async move {
                let answer = ApiClient.messages(&id, Some(first)).await;
                self.loading_older.set(false);
                answer
            }
        };
        auth.call(request, self.action_error, move |list| {
            self.take_page(&id, list.messages);
        });
    }

    /// A fetched page of conversation `id`'s messages, if it is still the one on screen:
    /// merged once each in seq order, and replies of the agent's it holds leave the outbox.
    fn take_page(self, id: &str, page: Vec<Message>) -> bool {
        if self.selected.get_untracked().as_deref() != Some(id) {
            return false;
        }
        self.settle(&page);
        self.messages.update(|messages| {
            for message in page {
                state::merge_message(messages, message);
            }
        });
        true
    }

    fn reload_contact(self, auth: Auth) {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        leptos::task::spawn_local(async move {
            match ApiClient.contact(&id).await {
                Ok(contact) => {
                    if self.selected.get_untracked().as_deref() == Some(id.as_str()) {
                        self.contact.set(Some(contact));
                    }
                }
                Err(error) => {
                    auth.check(&error);
                }
            }
        });
    }

    /// Tells everyone (the visitor too) the agents have read what is on screen.
    fn mark_read(self) {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        let Some(last) = self.messages.with_untracked(|m| m.last().map(|m| m.seq)) else {
            return;
        };
        let already = self
            .current
            .with_untracked(|c| c.as_ref().map_or(0, |c| c.agent_read_seq));
        self.conversations
            .update(|list| state::apply_agent_read(list, &id, last));
        if last > already {
            self.current.update(|c| {
                if let Some(c) = c {
                    c.agent_read_seq = last;
                }
            });
            live::send(&ClientEvent::Read {
                conversation_id: id,
                up_to_seq: last,
            });
        }
    }

    /// The agent's reply: into the outbox under a fresh `client_msg_id`, then out. It stays
    /// on screen as pending until the server has stored it; a dropped socket resends it
    /// under the same id, so it is stored once. False when it was not taken (no conversation
    /// open, or too many replies wait: the agent is told).
    pub fn send(self, body: String, auth: Auth) -> bool {
        let Some(conversation_id) = self.selected.get_untracked() else {
            return false;
        };
        let client_msg_id = talk_browser::ids::uuid_v7();
        let pushed = self
            .outbox
            .try_update(|outbox| outbox.push(client_msg_id, conversation_id, body))
            .unwrap_or(Ok(()));
        if let Err(message) = pushed {
            self.action_error.set(Some(message));
            return false;
        }
        self.flush(auth);
        true
    }

    /// A reply the server refused, again under its id.
    pub fn retry(self, client_msg_id: &str, auth: Auth) {
        self.outbox.update(|outbox| outbox.retry(client_msg_id));
        self.flush(auth);
    }

    /// Sends what waits: on the socket when it is up (all queued, in order), else over HTTP
    /// (one at a time). A reply is in flight on one of them at a time, never both.
    fn flush(self, auth: Auth) {
        if self.socket_ready.get_value() {
            let replies = self
                .outbox
                .try_update(Outbox::take_for_socket)
                .unwrap_or_default();
            for reply in replies {
                if !live::send(&send_event(reply)) {
                    // Closing: its `on_close` follows; what was written goes again.
                    self.socket_ready.set_value(false);
                    self.outbox.update(Outbox::disconnected);
                    break;
                }
            }
            if self.socket_ready.get_value() {
                return;
            }
        }
        self.post_next(auth);
    }

    /// The socket is down (reconnecting, with back-off): the next waiting reply over HTTP,
    /// under its id, so that a resend after a lost answer is stored once.
    fn post_next(self, auth: Auth) {
        let Some(reply) = self.outbox.try_update(Outbox::take_for_http).flatten() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let id = reply.client_msg_id;
            let answer = ApiClient
                .reply(&reply.conversation_id, &id, &reply.body)
                .await;
            match answer {
                Ok(message) => {
                    self.outbox.try_update(|outbox| outbox.acked(&id));
                    self.on_event(ServerEvent::Message { message }, auth);
                    self.flush(auth);
                }
                Err(error) if auth.check(&error) => {}
                Err(error) if is_refusal(&error) => {
                    let reason = error.user_message();
                    self.outbox.try_update(|outbox| outbox.refused(&id, reason));
                    self.flush(auth);
                }
                Err(_) => {
                    // No answer (the server is down too) or a passing failure: it waits
                    // for the socket's next `ready`, or goes now if that came meanwhile.
                    self.outbox.try_update(|outbox| outbox.http_failed(&id));
                    if self.socket_ready.get_value() {
                        self.flush(auth);
                    }
                }
            }
        });
    }

    /// Replies found stored among fetched messages (their ack was lost): no longer pending.
    fn settle(self, messages: &[Message]) {
        let stored: Vec<&str> = messages
            .iter()
            .filter(|m| m.author.kind == AuthorKind::Agent)
            .filter_map(|m| m.client_msg_id.as_deref())
            .collect();
        if stored.is_empty() {
            return;
        }
        self.outbox.update(|outbox| {
            for id in stored {
                outbox.acked(id);
            }
        });
    }

    /// The socket ended: what was in flight on it waits for the next one, or goes over HTTP.
    /// Who a listed conversation's visitor is ("Visitor" when it isn't listed here).
    pub fn visitor_name(self, conversation_id: &str) -> String {
        self.conversations
            .with_untracked(|list| {
                list.iter()
                    .find(|listed| listed.conversation.id == conversation_id)
                    .map(state::display_name)
            })
            .unwrap_or_else(|| "Visitor".to_string())
    }

    pub fn socket_closed(self, auth: Auth) {
        self.socket_ready.set_value(false);
        self.outbox.update(Outbox::disconnected);
        self.flush(auth);
    }

    pub fn typing(self, typing: bool) {
        if let Some(conversation_id) = self.selected.get_untracked() {
            live::send(&ClientEvent::Typing {
                conversation_id,
                typing,
            });
        }
    }

    pub fn act(self, action: ConversationAction, auth: Auth) {
        let Some(id) = self.selected.get_untracked() else {
            return;
        };
        let agent_id = auth.agent_id();
        let request = async move { ApiClient.conversation_action(&id, action, &agent_id).await };
        auth.call(request, self.action_error, move |conversation| {
            self.action_error.set(None);
            self.on_event(ServerEvent::ConversationUpdated { conversation }, auth);
        });
    }

    pub fn on_event(self, event: ServerEvent, auth: Auth) {
        crate::calls::event(&event);
        if let ServerEvent::Ack { client_msg_id, .. } = &event {
            self.outbox.update(|outbox| {
                outbox.acked(client_msg_id);
            });
        }
        let selected = self.selected.get_untracked();
        let is_selected = |id: &str| selected.as_deref() == Some(id);
        match event {
            ServerEvent::Ready { .. } => {
                self.reload_list(auth);
                self.load_selected(auth);
                // (Re)connected: what waits goes now, in order, under the same ids.
                self.socket_ready.set_value(true);
                self.outbox.update(Outbox::disconnected);
                self.flush(auth);
            }
            ServerEvent::ConversationUpdated { conversation } => {
                let first_sight = self
                    .known
                    .try_update_value(|known| known.insert(conversation.id.clone()))
                    .unwrap_or(false);
                if first_sight
                    && conversation.status == ConversationStatus::Open
                    && conversation.last_seq <= 1
                {
                    self.announcing.update_value(|ids| {
                        ids.insert(conversation.id.clone());
                    });
                }
                if is_selected(&conversation.id) {
                    self.current.set(Some(conversation.clone()));
                }
                let tab = self.tab.get_untracked();
                let agent_id = auth.agent_id();
                self.conversations
                    .update(|list| state::apply_conversation(list, conversation, tab, &agent_id));
                if first_sight {
                    // The list's entry lacks the contact's name and email: fetch them.
                    self.reload_list(auth);
                }
            }
            ServerEvent::Message { message } | ServerEvent::Ack { message, .. } => {
                self.settle(std::slice::from_ref(&message));
                // Announced with the visitor's first message: a conversation an agent started
                // is news once the visitor answers.
                let announce = message.author.kind == AuthorKind::Visitor
                    && self
                        .announcing
                        .try_update_value(|ids| ids.remove(&message.conversation_id))
                        .unwrap_or(false);
                if announce {
                    let name = self.conversations.with_untracked(|list| {
                        list.iter()
                            .find(|c| c.conversation.id == message.conversation_id)
                            .map(state::display_name)
                    });
                    notify::new_conversation(
                        &name.unwrap_or_else(|| "Visitor".into()),
                        &message.body,
                    );
                }
                let listed = self.conversations.with_untracked(|list| {
                    list.iter()
                        .any(|c| c.conversation.id == message.conversation_id)
                });
                if !listed && self.next_cursor.with_untracked(Option::is_some) {
                    // It may sit on a page not loaded yet: its message brings it to the top.
                    self.reload_list(auth);
                }
                self.conversations
                    .update(|list| state::apply_message(list, &message, selected.as_deref()));
                if is_selected(&message.conversation_id) {
                    let from_visitor = message.author.kind == AuthorKind::Visitor;
                    self.current.update(|c| {
                        if let Some(c) = c {
                            c.last_seq = c.last_seq.max(message.seq);
                        }
                    });
                    self.messages
                        .update(|messages| state::merge_message(messages, message));
                    self.fill_gap(auth);
                    if from_visitor {
                        self.visitor_typing.set(false);
                        // The visitor may have moved on to another page.
                        self.reload_contact(auth);
                    }
                    self.mark_read();
                }
            }
            ServerEvent::Typing {
                conversation_id,
                author,
                typing,
            } => {
                if is_selected(&conversation_id) && author.kind == AuthorKind::Visitor {
                    self.visitor_typing.set(typing);
                }
            }
            ServerEvent::Read {
                conversation_id,
                reader,
                up_to_seq,
            } => match reader {
                AuthorKind::Agent => self
                    .conversations
                    .update(|list| state::apply_agent_read(list, &conversation_id, up_to_seq)),
                AuthorKind::Visitor if is_selected(&conversation_id) => {
                    self.current.update(|c| {
                        if let Some(c) = c {
                            c.visitor_read_seq = c.visitor_read_seq.max(up_to_seq);
                        }
                    });
                }
                _ => {}
            },
            ServerEvent::Error {
                message,
                client_msg_id,
                ..
            } => {
                let refused = client_msg_id.is_some_and(|id| {
                    self.outbox
                        .try_update(|outbox| outbox.refused(&id, message.clone()))
                        .unwrap_or(false)
                });
                if refused {
                    // The replies typed after it go on.
                    self.flush(auth);
                } else {
                    self.action_error.set(Some(message));
                }
            }
            // A bot let go of a conversation: it is the agents' now, so they hear of it like
            // of a new one (the bot's note, if any, as the text).
            ServerEvent::Handoff {
                conversation_id,
                bot_name,
                note,
            } => {
                let name = self.conversations.with_untracked(|list| {
                    list.iter()
                        .find(|c| c.conversation.id == conversation_id)
                        .map(state::display_name)
                });
                notify::handoff(
                    &bot_name,
                    &name.unwrap_or_else(|| "Visitor".into()),
                    note.as_deref().unwrap_or_default(),
                );
            }
            // Sent to admins only, once per threshold and month.
            ServerEvent::QuotaWarning { warning } => self.quota.live(warning),
            // The inbox's call screen is still to come (#16): the server's call events wait.
            ServerEvent::History { .. }
            | ServerEvent::Pong
            | ServerEvent::Call { .. }
            | ServerEvent::CallSignal { .. } => {}
        }
    }
}

impl InboxState {
    /// The contact panel's "New conversation", writing through this inbox.
    pub fn starter(self, auth: Auth) -> StartConversation {
        StartConversation {
            send: Callback::new(move |(person_id, body)| {
                self.start_conversation(person_id, body, auth)
            }),
            busy: self.start_busy.into(),
            error: self.start_error.into(),
        }
    }

    /// The agent writes first to a person: once the server has started the conversation,
    /// it opens. Sent again after a failure, the same message goes under the same
    /// `client_msg_id`, so it starts one conversation however often it is sent.
    pub fn start_conversation(self, person_id: String, body: String, auth: Auth) {
        if self.start_busy.get_untracked() {
            return;
        }
        let attempt = self.start_attempt.with_value(|last| {
            StartAttempt::next(last.as_ref(), &person_id, &body, talk_browser::ids::uuid_v7)
        });
        self.start_attempt.set_value(Some(attempt.clone()));
        self.start_busy.set(true);
        self.start_error.set(None);
        leptos::task::spawn_local(async move {
            let answer = ApiClient
                .start_conversation(&attempt.person_id, &attempt.client_msg_id, &attempt.body)
                .await;
            self.start_busy.set(false);
            match answer {
                Ok(started) => {
                    self.start_attempt.set_value(None);
                    self.open_started(started, auth);
                }
                Err(error) => {
                    if !auth.check(&error) {
                        self.start_error.set(Some(error.user_message()));
                    }
                }
            }
        });
    }

    /// Lists the new conversation (when it belongs in the tab) and puts it on screen. The
    /// socket tells of it too, in either order; the list's row gets the contact's name from
    /// the server.
    fn open_started(self, started: StartedConversation, auth: Auth) {
        let StartedConversation {
            conversation,
            message,
        } = started;
        let email = self.contact.with_untracked(|contact| {
            contact
                .as_ref()
                .and_then(|contact| contact.person.as_ref())
                .and_then(|person| person.email.clone())
        });
        let tab = self.tab.get_untracked();
        let agent_id = auth.agent_id();
        let id = conversation.id.clone();
        self.conversations.update(|list| {
            state::apply_conversation(list, conversation.clone(), tab, &agent_id);
            state::apply_message(list, &message, Some(&id));
        });
        let listed = InboxConversation {
            unread: 0,
            contact_name: None,
            contact_email: email,
            last_message: Some(message),
            conversation,
        };
        self.select(&listed, auth);
        self.reload_list(auth);
    }
}

impl Default for InboxState {
    fn default() -> Self {
        Self::new()
    }
}

/// Tabs and list on the left, the conversation in the middle, its contact on the right.
#[component]
pub fn InboxPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let inbox = expect_context::<InboxState>();
    inbox.reload_list(auth);
    let choose_tab = move |tab: Tab| {
        inbox.tab.set(tab);
        inbox.conversations.set(Vec::new());
        inbox.next_cursor.set(None);
        inbox.reload_list(auth);
    };
    let selected = Signal::derive(move || inbox.selected.get());
    let on_select = Callback::new(move |id: String| {
        let listed = inbox
            .conversations
            .with_untracked(|list| list.iter().find(|c| c.conversation.id == id).cloned());
        if let Some(listed) = listed {
            inbox.select(&listed, auth);
        }
    });
    view! {
        <main class="inbox-main" data-testid="inbox-page">
            <section
                class="inbox-list-pane"
                aria-labelledby="inbox-list-heading"
                on:scroll=move |event| {
                    // Within a screen of the end: fetch the next page.
                    let pane = event_target::<web_sys::Element>(&event);
                    let left = pane.scroll_height() - pane.scroll_top() - pane.client_height();
                    if left < pane.client_height() {
                        inbox.load_more(auth);
                    }
                }
            >
                <h2 id="inbox-list-heading" class="inbox-visually-hidden">"Conversations"</h2>
                <div class="inbox-tabs" role="group" aria-label="Show conversations">
                    {Tab::ALL.into_iter().map(|tab| view! {
                        <button
                            type="button"
                            data-testid=format!("inbox-tab-{}", tab.key())
                            aria-pressed=move || (inbox.tab.get() == tab).to_string()
                            on:click=move |_| choose_tab(tab)
                        >
                            {tab.label()}
                        </button>
                    }).collect_view()}
                </div>
                {move || inbox.list_error.get().map(|text| view! { <p class="inbox-error" role="alert">{text}</p> })}
                <ConversationList
                    conversations=move || inbox.conversations.get()
                    selected=selected
                    on_select=on_select
                />
            </section>
            <Show
                when=move || inbox.selected.with(Option::is_some)
                fallback=|| view! {
                    <section class="inbox-empty-pane" aria-label="Conversation">
                        <p>"Choose a conversation."</p>
                    </section>
                }
            >
                <ConversationView/>
                <ContactPanel contact=move || inbox.contact.get() start=inbox.starter(auth)/>
            </Show>
        </main>
    }
}

fn send_event(reply: PendingReply) -> ClientEvent {
    ClientEvent::Send {
        conversation_id: Some(reply.conversation_id),
        client_msg_id: reply.client_msg_id,
        body: reply.body,
    }
}

/// An HTTP answer that refuses the reply itself (a bad body, a conversation gone): shown,
/// kept for a retry. Anything else (no answer, the server failing, too many requests) says
/// nothing of the reply: it goes again.
fn is_refusal(error: &ApiError) -> bool {
    matches!(error, ApiError::Server { status, .. }
        if (400..500).contains(status) && *status != 408 && *status != 429)
}

/// Whether the conversation is open (for the close/reopen button).
pub fn is_open(conversation: &Option<Conversation>) -> bool {
    conversation
        .as_ref()
        .is_some_and(|c| c.status == ConversationStatus::Open)
}
