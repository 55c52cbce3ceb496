//! Alone in its binary because it measures the process's resident memory, which other
//! tests running beside it would disturb.

mod common;

use common::live::*;
use common::visitor_id;
use std::time::Duration;
use talk_protocol::ServerEvent;

const MSG_1: &str = "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a01";

/// Resident set size of this process (the server runs in it), from /proc.
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test]
async fn sse_replay_is_paged() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut tab, _) = server.open(&visitor, None).await;
    let body = "x".repeat(16_000);
    let first = ack(send_message(&mut tab, None, MSG_1, &body).await);
    // 9.6 MB of history: more than the kernel's socket buffers take off the server's hands.
    let replies = (0..599).map(|_| server.agent_reply(&first.conversation_id, &body));
    futures_util::future::join_all(replies).await;

    let token = server.app.session_token(&visitor, None).await;
    let (server_ref, token) = (&server, &token);
    let open = || async move {
        let mut stream = server_ref.stream(token, Some("v1")).await;
        assert!(matches!(
            stream.next_event().await.1,
            ServerEvent::Ready { .. }
        ));
        stream
    };
    // Warm up the allocator and the connection machinery once.
    drop(open().await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_bytes();

    // Streams resumed from an old id, then left unread.
    let mut unread = Vec::new();
    for _ in 0..30 {
        unread.push(open().await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let grown = rss_bytes().saturating_sub(before);
    println!("30 unread replays of 9.6 MB: RSS +{} MB", grown / 1_000_000);
    // Holding the history, each would keep several MB; a page each is a few hundred KB.
    assert!(grown < 64_000_000, "RSS grew by {grown} B");
}
