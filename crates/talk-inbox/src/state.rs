//! The inbox's data and how live events change it. Plain functions over plain data, so the
//! rules (ordering, unread counts, which tab a conversation belongs in) are tested without a
//! server.

use talk_protocol::{
    AssignedFilter, AuthorKind, Conversation, ConversationFilter, ConversationStatus,
    InboxConversation, Message,
};

/// The conversation list's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Open,
    Closed,
    Mine,
}

impl Tab {
    pub const ALL: [Tab; 3] = [Tab::Open, Tab::Closed, Tab::Mine];

    pub fn label(self) -> &'static str {
        match self {
            Tab::Open => "Open",
            Tab::Closed => "Closed",
            Tab::Mine => "Assigned to me",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Tab::Open => "open",
            Tab::Closed => "closed",
            Tab::Mine => "mine",
        }
    }

    pub fn filter(self) -> ConversationFilter {
        match self {
            Tab::Open => ConversationFilter {
                status: Some(ConversationStatus::Open),
                assigned: None,
            },
            Tab::Closed => ConversationFilter {
                status: Some(ConversationStatus::Closed),
                assigned: None,
            },
            Tab::Mine => ConversationFilter {
                status: Some(ConversationStatus::Open),
                assigned: Some(AssignedFilter::Me),
            },
        }
    }
}

/// Newest activity first; ties broken by id so the order is stable.
pub fn sort_newest_first(list: &mut [InboxConversation]) {
    list.sort_by(|a, b| {
        b.last_activity()
            .cmp(&a.last_activity())
            .then_with(|| b.conversation.id.cmp(&a.conversation.id))
    });
}

/// A conversation's new state (started, closed, reopened, assigned, read): updates it in the
/// list, adds it if it now belongs in the tab, drops it if it no longer does.
pub fn apply_conversation(
    list: &mut Vec<InboxConversation>,
    conversation: Conversation,
    tab: Tab,
    agent_id: &str,
) {
    let belongs = tab.filter().matches(&conversation, agent_id);
    let position = list
        .iter()
        .position(|listed| listed.conversation.id == conversation.id);
    match (position, belongs) {
        (Some(index), true) => {
            let listed = &mut list[index];
            listed.unread = (conversation.last_seq - conversation.agent_read_seq).max(0);
            listed.conversation = conversation;
        }
        (Some(index), false) => {
            list.remove(index);
        }
        (None, true) => list.push(InboxConversation {
            unread: (conversation.last_seq - conversation.agent_read_seq).max(0),
            conversation,
            contact_name: None,
            contact_email: None,
            last_message: None,
        }),
        (None, false) => {}
    }
    sort_newest_first(list);
}

/// A live message: the conversation moves to the top with it as its preview. A message the
/// agents have not seen yet (from the visitor or the bot, in a conversation not on screen)
/// counts as unread.
pub fn apply_message(list: &mut [InboxConversation], message: &Message, on_screen: Option<&str>) {
    let Some(listed) = list
        .iter_mut()
        .find(|listed| listed.conversation.id == message.conversation_id)
    else {
        return;
    };
    if message.seq <= listed.conversation.last_seq
        && listed.last_message.as_ref().map(|m| m.seq) >= Some(message.seq)
    {
        return; // already known
    }
    listed.conversation.last_seq = listed.conversation.last_seq.max(message.seq);
    let seen = on_screen == Some(message.conversation_id.as_str())
        || message.author.kind == AuthorKind::Agent;
    if seen {
        listed.conversation.agent_read_seq = listed.conversation.last_seq;
    }
    listed.unread = (listed.conversation.last_seq - listed.conversation.agent_read_seq).max(0);
    listed.last_message = Some(message.clone());
    sort_newest_first(list);
}

/// The agents (someone in another tab, or this one) read the conversation up to `up_to_seq`.
pub fn apply_agent_read(list: &mut [InboxConversation], conversation_id: &str, up_to_seq: i64) {
    if let Some(listed) = list
        .iter_mut()
        .find(|listed| listed.conversation.id == conversation_id)
    {
        let read = listed.conversation.agent_read_seq.max(up_to_seq);
        listed.conversation.agent_read_seq = read;
        listed.unread = (listed.conversation.last_seq - read).max(0);
    }
}

/// Adds a message to the open conversation's messages, once, in sequence order.
pub fn merge_message(messages: &mut Vec<Message>, message: Message) {
    if messages.iter().any(|known| known.id == message.id) {
        return;
    }
    let at = messages
        .iter()
        .position(|known| known.seq > message.seq)
        .unwrap_or(messages.len());
    messages.insert(at, message);
}

/// The first message above a gap in `messages` (sorted by seq; seqs have no gaps on the
/// server), or `None` when they are contiguous: the page before it fills the gap from the top.
pub fn first_gap_top(messages: &[Message]) -> Option<i64> {
    messages
        .windows(2)
        .find(|pair| pair[1].seq > pair[0].seq + 1)
        .map(|pair| pair[1].seq)
}

/// A freshly fetched list, keeping what live events taught us meanwhile: an answer computed
/// before a message was committed must not undo the message's arrival.
pub fn merge_fetched(
    current: &[InboxConversation],
    fetched: Vec<InboxConversation>,
) -> Vec<InboxConversation> {
    let mut merged: Vec<InboxConversation> = fetched
        .into_iter()
        .map(|mut listed| {
            if let Some(known) = current
                .iter()
                .find(|known| known.conversation.id == listed.conversation.id)
            {
                if known.conversation.last_seq > listed.conversation.last_seq {
                    listed.conversation.last_seq = known.conversation.last_seq;
                    listed.last_message = known.last_message.clone();
                }
                listed.conversation.agent_read_seq = listed
                    .conversation
                    .agent_read_seq
                    .max(known.conversation.agent_read_seq);
                listed.unread =
                    (listed.conversation.last_seq - listed.conversation.agent_read_seq).max(0);
            }
            listed
        })
        .collect();
    sort_newest_first(&mut merged);
    merged
}

/// Whether `a` comes before `b` in the list's order (newest activity, then id, first).
fn before(a: &InboxConversation, b: &InboxConversation) -> bool {
    (a.last_activity(), &a.conversation.id) > (b.last_activity(), &b.conversation.id)
}

/// The list after fetching its first page again (`more`: further pages follow). Pages
/// loaded earlier by scrolling stay, as far as they lie after the new first page; what the
/// page covers and no longer holds has left the tab. Answers whether any stayed, so the
/// caller keeps the deeper cursor.
pub fn merge_first_page(
    current: &[InboxConversation],
    fetched: Vec<InboxConversation>,
    more: bool,
) -> (Vec<InboxConversation>, bool) {
    let mut merged = merge_fetched(current, fetched);
    let Some(last) = merged.last().cloned().filter(|_| more) else {
        return (merged, false);
    };
    let older: Vec<InboxConversation> = current
        .iter()
        .filter(|known| before(&last, known))
        .filter(|known| {
            !merged
                .iter()
                .any(|listed| listed.conversation.id == known.conversation.id)
        })
        .cloned()
        .collect();
    let kept = !older.is_empty();
    merged.extend(older);
    sort_newest_first(&mut merged);
    (merged, kept)
}

/// A further page, loaded as the agent scrolls, after what the list holds; a conversation
/// already listed (it moved up meanwhile) stays as it is.
pub fn append_page(list: &mut Vec<InboxConversation>, page: Vec<InboxConversation>) {
    for listed in page {
        if !list
            .iter()
            .any(|known| known.conversation.id == listed.conversation.id)
        {
            list.push(listed);
        }
    }
    sort_newest_first(list);
}

/// The name a conversation is listed under: the contact's name, else email, else "Visitor".
pub fn display_name(listed: &InboxConversation) -> String {
    listed
        .contact_name
        .clone()
        .or_else(|| listed.contact_email.clone())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "Visitor".to_string())
}

/// A message the agent sent from the contact panel to start a conversation, until the server
/// has started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartAttempt {
    pub person_id: String,
    pub body: String,
    pub client_msg_id: String,
}

impl StartAttempt {
    /// The same message to the same person as the last attempt (its answer was lost, or it
    /// was refused) goes again under its id: the server starts one conversation per id.
    /// Anything else is a new attempt, under `fresh_id()`.
    pub fn next(
        last: Option<&StartAttempt>,
        person_id: &str,
        body: &str,
        fresh_id: impl FnOnce() -> String,
    ) -> StartAttempt {
        match last {
            Some(last) if last.person_id == person_id && last.body == body => last.clone(),
            _ => StartAttempt {
                person_id: person_id.to_string(),
                body: body.to_string(),
                client_msg_id: fresh_id(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::Author;

    fn conversation(id: &str, created_at: i64) -> Conversation {
        Conversation {
            id: id.into(),
            verified: false,
            status: ConversationStatus::Open,
            visitor_id: "v".into(),
            person_id: None,
            last_seq: 1,
            created_at,
            assignee_id: None,
            visitor_read_seq: 0,
            agent_read_seq: 0,
        }
    }

    fn message(conversation_id: &str, seq: i64, kind: AuthorKind, at: i64) -> Message {
        Message {
            id: format!("{conversation_id}-{seq}"),
            conversation_id: conversation_id.into(),
            seq,
            author: Author { kind, name: None },
            body: format!("message {seq}"),
            client_msg_id: None,
            created_at: at,
        }
    }

    #[test]
    fn new_conversations_join_the_open_tab_on_top_and_leave_it_when_closed() {
        let mut list = Vec::new();
        apply_conversation(&mut list, conversation("a", 10), Tab::Open, "me");
        apply_conversation(&mut list, conversation("b", 20), Tab::Open, "me");
        let ids: Vec<_> = list.iter().map(|c| c.conversation.id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        assert_eq!(list[0].unread, 1);
        let mut closed = conversation("b", 20);
        closed.status = ConversationStatus::Closed;
        apply_conversation(&mut list, closed.clone(), Tab::Open, "me");
        assert_eq!(list.len(), 1);
        apply_conversation(&mut list, closed, Tab::Mine, "me");
        assert_eq!(list.len(), 1, "not mine: not added");
    }

    #[test]
    fn messages_move_their_conversation_up_and_count_unread_unless_on_screen() {
        let mut list = Vec::new();
        apply_conversation(&mut list, conversation("a", 10), Tab::Open, "me");
        apply_conversation(&mut list, conversation("b", 20), Tab::Open, "me");
        apply_message(&mut list, &message("a", 2, AuthorKind::Visitor, 30), None);
        assert_eq!(list[0].conversation.id, "a");
        assert_eq!(list[0].unread, 2);
        apply_message(&mut list, &message("a", 2, AuthorKind::Visitor, 30), None);
        assert_eq!(list[0].unread, 2, "a repeat changes nothing");
        apply_message(
            &mut list,
            &message("a", 3, AuthorKind::Visitor, 40),
            Some("a"),
        );
        assert_eq!(list[0].unread, 0, "on screen: read");
        apply_message(&mut list, &message("b", 2, AuthorKind::Agent, 50), None);
        assert_eq!((list[0].conversation.id.as_str(), list[0].unread), ("b", 0));
        apply_agent_read(&mut list, "a", 1);
        assert_eq!(list[1].unread, 0, "reads never go back");
    }

    fn listed(id: &str, created_at: i64) -> InboxConversation {
        InboxConversation {
            conversation: conversation(id, created_at),
            unread: 1,
            contact_name: None,
            contact_email: None,
            last_message: None,
        }
    }

    fn ids(list: &[InboxConversation]) -> Vec<&str> {
        list.iter().map(|c| c.conversation.id.as_str()).collect()
    }

    #[test]
    fn pages_append_in_order_and_a_fresh_first_page_keeps_the_deeper_ones() {
        let mut list = vec![listed("e", 50), listed("d", 40)];
        append_page(
            &mut list,
            vec![listed("d", 40), listed("c", 30), listed("b", 20)],
        );
        assert_eq!(ids(&list), ["e", "d", "c", "b"]);

        // "b" got a message and leads the new first page; "e" was closed (not in it).
        let (merged, kept) = merge_first_page(&list, vec![listed("b", 60), listed("d", 40)], true);
        assert_eq!(ids(&merged), ["b", "d", "c"]);
        assert!(kept, "c was loaded by scrolling: keep the deeper cursor");

        // A last page: the whole tab, nothing else stays.
        let (merged, kept) = merge_first_page(&list, vec![listed("d", 40)], false);
        assert_eq!(ids(&merged), ["d"]);
        assert!(!kept);
    }

    #[test]
    fn a_stale_fetch_does_not_undo_live_messages() {
        let mut live = Vec::new();
        apply_conversation(&mut live, conversation("a", 10), Tab::Open, "me");
        apply_message(&mut live, &message("a", 2, AuthorKind::Bot, 20), None);
        let mut stale = live.clone();
        stale[0].conversation.last_seq = 1;
        stale[0].unread = 1;
        stale[0].last_message = None;
        stale[0].contact_email = Some("ann@example.com".into());
        let merged = merge_fetched(&live, stale);
        assert_eq!(merged[0].unread, 2);
        assert_eq!(merged[0].last_message.as_ref().map(|m| m.seq), Some(2));
        assert_eq!(merged[0].contact_email.as_deref(), Some("ann@example.com"));
    }

    #[test]
    fn merged_messages_stay_in_sequence_without_duplicates() {
        let mut messages = vec![message("a", 1, AuthorKind::Visitor, 1)];
        merge_message(&mut messages, message("a", 3, AuthorKind::Agent, 3));
        merge_message(&mut messages, message("a", 2, AuthorKind::Bot, 2));
        merge_message(&mut messages, message("a", 3, AuthorKind::Agent, 3));
        let seqs: Vec<_> = messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(first_gap_top(&messages), None);
    }

    #[test]
    fn a_gap_is_found_by_the_message_above_it_and_the_lowest_gap_first() {
        let mut messages = Vec::new();
        for seq in [3, 4, 9, 10, 14] {
            merge_message(&mut messages, message("c1", seq, AuthorKind::Visitor, seq));
        }
        assert_eq!(first_gap_top(&messages), Some(9), "5..=8 are missing");
        for seq in 5..=8 {
            merge_message(&mut messages, message("c1", seq, AuthorKind::Agent, seq));
        }
        assert_eq!(first_gap_top(&messages), Some(14));
        // Older pages load on demand: messages missing below the first one are no gap.
        merge_message(&mut messages, message("c1", 11, AuthorKind::Agent, 11));
        merge_message(&mut messages, message("c1", 12, AuthorKind::Agent, 12));
        merge_message(&mut messages, message("c1", 13, AuthorKind::Agent, 13));
        assert_eq!(first_gap_top(&messages), None);
    }
    #[test]
    fn a_start_sent_again_keeps_its_id_and_another_message_gets_a_new_one() {
        let first = StartAttempt::next(None, "p1", "Hello", || "id-1".into());
        assert_eq!(first.client_msg_id, "id-1");
        let again = StartAttempt::next(Some(&first), "p1", "Hello", || "id-2".into());
        assert_eq!(again, first);
        let edited = StartAttempt::next(Some(&first), "p1", "Hello there", || "id-3".into());
        assert_eq!(
            (edited.body.as_str(), edited.client_msg_id.as_str()),
            ("Hello there", "id-3")
        );
        let someone_else = StartAttempt::next(Some(&first), "p2", "Hello", || "id-4".into());
        assert_eq!(someone_else.client_msg_id, "id-4");
    }
}
