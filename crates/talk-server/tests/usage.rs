//! Usage metering and quotas (`talk_server::usage`) over a real server and real sockets, on
//! SQLite or PostgreSQL (under `scripts/postgres.sh`): the counters against a recount from
//! the data after a mixed run, `GET /v1/admin/usage`'s checks, and the monthly quotas (hard
//! mode's refusals that lose nothing, soft mode's silence, the admins' warnings).

mod common;

use axum::http::{Method, StatusCode};
use common::bots::{as_bot, register_bot, wait_for, Receiver};
use common::live::*;
use common::{visitor_id, Sql};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use talk_protocol::{
    AgentRole, CallState, QuotaMetric, QuotaMode, QuotaStatus, QuotaWarning, ServerEvent,
    UsageCounts, UsageReport,
};
use talk_server::usage::days;

const CALL_1: &str = "5e7a9c2e-7d1f-4c3e-8a6b-2f4e6d8c0a01";
const CALL_2: &str = "5e7a9c2e-7d1f-4c3e-8a6b-2f4e6d8c0a02";

fn uuid() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("05a9e000-4a4c-4f0e-9a57-{n:012x}")
}

/// A served workspace whose webhooks may go to loopback (the bot's receiver).
async fn start_metered() -> Server {
    start_with(|settings| settings.bot_allow_private_targets = true).await
}

impl Server {
    /// A request as the workspace's admin, in a session of its own (signing in by password
    /// for each would hash it each time).
    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> common::Answer {
        let admin_id = self
            .app
            .sql
            .string(
                "SELECT id FROM agents WHERE workspace_id = $1 AND role = 'admin'",
                &[(&self.app.workspace.workspace_id).into()],
            )
            .await;
        let session = talk_server::agents::start_session(&self.app.state.db, &admin_id)
            .await
            .unwrap();
        let cookie = format!("{}={session}", talk_server::http::SESSION_COOKIE);
        self.app.as_agent(&cookie, method, uri, body).await
    }

    async fn usage(&self, query: &str) -> UsageReport {
        let answer = self
            .admin(Method::GET, &format!("/v1/admin/usage{query}"), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        serde_json::from_str(&answer.text).unwrap()
    }

    async fn set_quota(&self, quota: Value) -> QuotaStatus {
        let answer = self
            .admin(Method::PUT, "/v1/admin/quota", Some(quota))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        serde_json::from_str(&answer.text).unwrap()
    }

    async fn widget_settings(&self, change: impl FnOnce(&mut talk_protocol::WidgetSettings)) {
        let db = &self.app.state.db;
        let workspace_id = &self.app.workspace.workspace_id;
        let mut settings = talk_server::widget_settings::load(db, workspace_id)
            .await
            .unwrap()
            .unwrap();
        change(&mut settings);
        talk_server::widget_settings::save(db, workspace_id, &settings)
            .await
            .unwrap();
    }

    /// Voice on and the admin online (a call needs both); the admin's cookie.
    async fn voice_on(&self) -> String {
        self.widget_settings(|settings| settings.voice = true).await;
        let cookie = self.app.admin_cookie().await;
        let online = self
            .app
            .as_agent(
                &cookie,
                Method::PUT,
                "/v1/agent/presence",
                Some(json!({"presence": "online"})),
            )
            .await;
        assert_eq!(online.status, StatusCode::OK, "{}", online.text);
        cookie
    }

    /// An agent of the given role, signed in: its cookie.
    async fn agent_of_role(&self, email: &str, role: AgentRole) -> String {
        let created = self
            .admin(
                Method::POST,
                "/v1/admin/agents",
                Some(json!({"email": email, "name": "Pat", "role": role})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let password = created.json()["password"].as_str().unwrap().to_string();
        self.app.sign_in(email, &password).await
    }

    /// An identified visitor's socket.
    async fn visitor(&self, n: u8) -> Ws {
        self.identify(&visitor_id(n), &format!("v{n}@example.com"))
            .await;
        self.open(&visitor_id(n), None).await.0
    }

    async fn stored_with_client_id(&self, client_msg_id: &str) -> i64 {
        self.app
            .sql
            .i64(
                "SELECT COUNT(*) FROM messages WHERE client_msg_id = $1",
                &[client_msg_id.into()],
            )
            .await
    }
}

/// Sends a visitor message; its ack's message (skipping what comes before it).
async fn say(ws: &mut Ws, conversation_id: Option<&str>, body: &str) -> talk_protocol::Message {
    let client_msg_id = uuid();
    let mut event = json!({"type": "send", "client_msg_id": client_msg_id, "body": body});
    if let Some(conversation_id) = conversation_id {
        event["conversation_id"] = json!(conversation_id);
    }
    send(ws, event).await;
    wait_for(ws, |event| match event {
        ServerEvent::Ack { message, .. } => Some(message.clone()),
        ServerEvent::Error { code, message, .. } => panic!("refused: {code} {message}"),
        _ => None,
    })
    .await
}

/// Every event queued for the socket, up to a ping's pong.
async fn drain(ws: &mut Ws) -> Vec<ServerEvent> {
    send(ws, json!({"type": "ping"})).await;
    let mut events = Vec::new();
    loop {
        match next_event(ws).await {
            ServerEvent::Pong => return events,
            event => events.push(event),
        }
    }
}

fn warnings_in(events: &[ServerEvent]) -> Vec<QuotaWarning> {
    events
        .iter()
        .filter_map(|event| match event {
            ServerEvent::QuotaWarning { warning } => Some(warning.clone()),
            _ => None,
        })
        .collect()
}

/// A call the visitor starts and the inbox answers, connected on both sides for `talk`,
/// then hung up by the inbox: the ended call.
async fn completed_call(
    visitor: &mut Ws,
    inbox: &mut Ws,
    conversation_id: &str,
    call_id: &str,
    talk: Duration,
) -> talk_protocol::Call {
    let call_of = |event: &ServerEvent| match event {
        ServerEvent::Call { call } => Some(call.clone()),
        _ => None,
    };
    let start =
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": call_id});
    send(visitor, start).await;
    wait_for(visitor, call_of).await;
    wait_for(inbox, call_of).await;
    send(
        inbox,
        json!({"type": "call_answer", "call_id": call_id, "accept": true}),
    )
    .await;
    wait_for(inbox, call_of).await;
    wait_for(visitor, call_of).await;
    for ws in [&mut *visitor, &mut *inbox] {
        send(ws, json!({"type": "call_connected", "call_id": call_id})).await;
    }
    let connected = |event: &ServerEvent| call_of(event).filter(|call| call.connected_at.is_some());
    wait_for(visitor, connected).await;
    wait_for(inbox, connected).await;
    tokio::time::sleep(talk).await;
    send(inbox, json!({"type": "call_hangup", "call_id": call_id})).await;
    let ended = |event: &ServerEvent| call_of(event).filter(|call| call.state == CallState::Ended);
    wait_for(inbox, ended).await;
    wait_for(visitor, ended).await
}

/// The counters of one day and preview flag, in `UsageCounts`' order.
type Counters = [i64; 10];

fn counters(counts: &UsageCounts) -> Counters {
    [
        counts.text.visitor,
        counts.text.agent,
        counts.text.bot,
        counts.text.auto_reply,
        counts.voice_minutes,
        counts.calls,
        counts.conversations_inbound,
        counts.conversations_outbound,
        counts.widget_sessions,
        counts.api_sessions,
    ]
}

/// Rows of `(day, preview, a, b, …)` from a recount query, added into `recount` at the
/// counters `columns` names (indices into `Counters`).
async fn recount_into(
    recount: &mut BTreeMap<(i64, bool), Counters>,
    sql: &Sql,
    query: &str,
    workspace_id: &str,
    columns: &[usize],
) {
    type Row = (i64, i64, i64, i64, i64, i64);
    let rows: Vec<Row> = match sql {
        Sql::Sqlite(pool) => sqlx::query_as(query)
            .bind(workspace_id)
            .fetch_all(pool)
            .await
            .unwrap(),
        Sql::Postgres(pool) => sqlx::query_as(query)
            .bind(workspace_id)
            .fetch_all(pool)
            .await
            .unwrap(),
    };
    for (day, preview, a, b, c, d) in rows {
        let entry = recount.entry((day, preview != 0)).or_default();
        for (&column, value) in columns.iter().zip([a, b, c, d]) {
            entry[column] += value;
        }
    }
}

/// What `usage_days` should say, counted again straight from the data: messages by author
/// (and the auto-reply marker), conversations by direction, sessions by kind, ended calls'
/// connected minutes, each on its UTC day, previews apart by the conversation's or
/// session's flag. Every value is cast: PostgreSQL sums into `NUMERIC` and counts `CASE`
/// into `INT4`.
async fn recount(sql: &Sql, workspace_id: &str) -> BTreeMap<(i64, bool), Counters> {
    let mut recount = BTreeMap::new();
    let messages = "SELECT CAST(m.created_at / 86400000 AS BIGINT),
            CAST(CASE WHEN c.preview THEN 1 ELSE 0 END AS BIGINT),
            CAST(SUM(CASE WHEN m.author_kind = 'visitor' THEN 1 ELSE 0 END) AS BIGINT),
            CAST(SUM(CASE WHEN m.author_kind = 'agent' THEN 1 ELSE 0 END) AS BIGINT),
            CAST(SUM(CASE WHEN m.author_kind = 'bot' AND NOT m.auto_reply THEN 1 ELSE 0 END)
                 AS BIGINT),
            CAST(SUM(CASE WHEN m.auto_reply THEN 1 ELSE 0 END) AS BIGINT)
        FROM messages m JOIN conversations c ON c.id = m.conversation_id
        WHERE c.workspace_id = $1
          AND NOT EXISTS (SELECT 1 FROM calls k
                  WHERE k.id = m.client_msg_id AND k.conversation_id = m.conversation_id)
        GROUP BY 1, 2";
    recount_into(&mut recount, sql, messages, workspace_id, &[0, 1, 2, 3]).await;
    let calls = "SELECT CAST(COALESCE(k.ended_at, k.created_at) / 86400000 AS BIGINT),
            CAST(CASE WHEN c.preview THEN 1 ELSE 0 END AS BIGINT),
            CAST(SUM((k.duration_ms + 59999) / 60000) AS BIGINT), CAST(COUNT(*) AS BIGINT),
            CAST(0 AS BIGINT), CAST(0 AS BIGINT)
        FROM calls k JOIN conversations c ON c.id = k.conversation_id
        WHERE k.workspace_id = $1 AND k.state = 'ended' AND k.duration_ms > 0 GROUP BY 1, 2";
    recount_into(&mut recount, sql, calls, workspace_id, &[4, 5]).await;
    let conversations = "SELECT CAST(created_at / 86400000 AS BIGINT),
            CAST(CASE WHEN preview THEN 1 ELSE 0 END AS BIGINT),
            CAST(SUM(CASE WHEN outbound THEN 0 ELSE 1 END) AS BIGINT),
            CAST(SUM(CASE WHEN outbound THEN 1 ELSE 0 END) AS BIGINT),
            CAST(0 AS BIGINT), CAST(0 AS BIGINT)
        FROM conversations WHERE workspace_id = $1 GROUP BY 1, 2";
    recount_into(&mut recount, sql, conversations, workspace_id, &[6, 7]).await;
    let sessions = "SELECT CAST(created_at / 86400000 AS BIGINT),
            CAST(CASE WHEN preview THEN 1 ELSE 0 END AS BIGINT),
            CAST(SUM(CASE WHEN kind = 'widget' THEN 1 ELSE 0 END) AS BIGINT),
            CAST(SUM(CASE WHEN kind = 'api' THEN 1 ELSE 0 END) AS BIGINT),
            CAST(0 AS BIGINT), CAST(0 AS BIGINT)
        FROM sessions WHERE workspace_id = $1 GROUP BY 1, 2";
    recount_into(&mut recount, sql, sessions, workspace_id, &[8, 9]).await;
    recount
}

/// The days of a report with any count, as the recount keys them.
fn reported(report: &UsageReport) -> BTreeMap<(i64, bool), Counters> {
    let mut days = BTreeMap::new();
    for day in &report.days {
        let number = days::parse_day(&day.day).unwrap();
        for (preview, counts) in [(false, &day.production), (true, &day.preview)] {
            if *counts != UsageCounts::default() {
                days.insert((number, preview), counters(counts));
            }
        }
    }
    days
}

#[tokio::test]
async fn the_counters_match_a_recount_after_a_mixed_run() {
    let server = start_metered().await;
    let app = &server.app;
    let workspace_id = app.workspace.workspace_id.clone();
    // The auto-reply answers new conversations nobody else takes.
    server
        .widget_settings(|settings| {
            settings.response_times.away = "We reply within a day.".into();
            settings.response_times.online = "We reply in minutes.".into();
        })
        .await;

    // A visitor on the socket: a new conversation (and its auto-reply), then more.
    let mut ann = server.visitor(1).await;
    let first = say(&mut ann, None, "Hello").await;
    let ann_conversation = first.conversation_id.clone();
    say(&mut ann, Some(&ann_conversation), "Anyone there?").await;

    // A visitor over HTTP (`POST /v1/talk/messages`).
    server.identify(&visitor_id(2), "v2@example.com").await;
    let bob_token = app.session_token(&visitor_id(2), None).await;
    let (status, acked) = server
        .post_event(
            &bob_token,
            json!({"type": "send", "client_msg_id": uuid(), "body": "Hi over HTTP"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    let bob_conversation = acked[0]["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, acked) = server
        .post_event(
            &bob_token,
            json!({"type": "send", "client_msg_id": uuid(), "body": "Second",
                   "conversation_id": bob_conversation}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{acked}");

    // Agents answer (API key), in both.
    server.agent_reply(&ann_conversation, "Hi Ann").await;
    server
        .agent_reply(&ann_conversation, "How can I help?")
        .await;
    server.agent_reply(&bob_conversation, "Hi Bob").await;

    // A webhook bot takes the next new conversation and answers with its key.
    let receiver = Receiver::start().await;
    let admin = app.admin_cookie().await;
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;
    let mut cy = server.visitor(3).await;
    let cy_first = say(&mut cy, None, "For the bot").await;
    let answered = as_bot(
        app,
        &bot.key,
        Method::POST,
        &format!("/v1/conversations/{}/messages", cy_first.conversation_id),
        Some(json!({"body": "Bot here."})),
    )
    .await;
    assert_eq!(answered.status, StatusCode::CREATED, "{}", answered.text);

    // An agent starts a conversation with a known person.
    let ann_person = app
        .sql
        .string(
            "SELECT person_id FROM visitors WHERE workspace_id = $1 AND id = $2",
            &[(&workspace_id).into(), visitor_id(1).into()],
        )
        .await;
    let outbound = app
        .agent(
            Method::POST,
            &format!("/v1/people/{ann_person}/conversations"),
            Some(json!({"body": "About your order", "agent_name": "Sam"})),
        )
        .await;
    assert_eq!(outbound.status, StatusCode::CREATED, "{}", outbound.text);

    // A session minted by the site's backend.
    let minted = app
        .talk_session(
            json!({"fields": {"str::email": "api@example.com", "str::name": "Api Person"}}),
        )
        .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);

    // A completed call with connected time, in Ann's conversation.
    let cookie = server.voice_on().await;
    let mut inbox = server.agent_socket(&cookie).await;
    let ended = completed_call(
        &mut ann,
        &mut inbox,
        &ann_conversation,
        CALL_1,
        Duration::from_millis(300),
    )
    .await;
    assert!(ended.duration_ms > 0, "{ended:?}");

    // A preview (the inbox's live preview: a widget session started with the admin's preview
    // token) writes, the auto-reply answers it, and it calls: all counted apart.
    let preview_token = app
        .as_agent(&admin, Method::POST, "/v1/admin/preview-token", None)
        .await;
    assert_eq!(
        preview_token.status,
        StatusCode::OK,
        "{}",
        preview_token.text
    );
    let preview_token = preview_token.json()["token"].as_str().unwrap().to_string();
    let preview = app
        .widget_session(&visitor_id(98), Some(&preview_token))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    let preview_session_token = preview.json()["session_token"]
        .as_str()
        .unwrap()
        .to_string();
    let identified = app
        .identify(
            &preview_session_token,
            json!({"email": "admin-trying@example.com"}),
        )
        .await;
    assert_eq!(identified.status, StatusCode::OK, "{}", identified.text);
    let mut previewing = server.connect().await;
    send(
        &mut previewing,
        json!({"type": "auth", "token": preview_session_token}),
    )
    .await;
    wait_for(&mut previewing, |event| {
        matches!(event, ServerEvent::Ready { .. }).then_some(())
    })
    .await;
    let preview_conversation = say(&mut previewing, None, "Trying the widget").await;
    say(
        &mut previewing,
        Some(&preview_conversation.conversation_id),
        "And again",
    )
    .await;
    // The bot takes new conversations, previews too (that is how a bot is tried out).
    let bot_in_preview = as_bot(
        app,
        &bot.key,
        Method::POST,
        &format!(
            "/v1/conversations/{}/messages",
            preview_conversation.conversation_id
        ),
        Some(json!({"body": "Bot here, in the preview."})),
    )
    .await;
    assert_eq!(
        bot_in_preview.status,
        StatusCode::CREATED,
        "{}",
        bot_in_preview.text
    );
    let preview_call = completed_call(
        &mut previewing,
        &mut inbox,
        &preview_conversation.conversation_id,
        CALL_2,
        Duration::from_millis(300),
    )
    .await;
    assert!(preview_call.duration_ms > 0, "{preview_call:?}");

    // A call's record message is written after the call's end is published: wait for both.
    for (call_id, conversation_id) in [
        (CALL_1, ann_conversation.clone()),
        (CALL_2, preview_conversation.conversation_id.clone()),
    ] {
        let call_record = app.sql.clone();
        common::bots::eventually(Duration::from_secs(5), || {
            let sql = call_record.clone();
            let conversation_id = conversation_id.clone();
            async move {
                let records = sql
                    .i64(
                        "SELECT COUNT(*) FROM messages
                         WHERE client_msg_id = $1 AND conversation_id = $2",
                        &[call_id.into(), conversation_id.into()],
                    )
                    .await;
                (records == 1).then_some(())
            }
        })
        .await;
    }

    let recounted = recount(&app.sql, &workspace_id).await;
    let today = days::day_of_ms(talk_server::db::now_ms());
    // The run touched every counter (so the comparison below compares something).
    let production = recounted[&(today, false)];
    assert!(production.iter().all(|&count| count > 0), "{production:?}");
    assert_eq!(production[3], 2, "two auto-replies: Ann's and Bob's");
    assert_eq!(production[2], 1, "one bot message");
    assert_eq!(production[7], 1, "one outbound conversation");
    assert_eq!(production[4], 1, "one call of under a minute");

    // The report says the same, day by day and in its totals.
    let from = days::format_day(today - 2);
    let to = days::format_day(today + 1);
    let report = server.usage(&format!("?from={from}&to={to}")).await;
    assert_eq!(
        report.days.len(),
        4,
        "every day of the range, idle ones too"
    );
    assert_eq!(reported(&report), recounted);
    assert_eq!(counters(&report.totals), production);
    // The preview's counters: its two messages, the bot's answer, its call, its conversation
    // and its session, and nothing of it in production's.
    let previewed = recounted[&(today, true)];
    assert_eq!(counters(&report.preview_totals), previewed);
    assert_eq!(previewed[0], 2, "the preview's two messages");
    assert_eq!(previewed[2], 1, "the bot's answer in the preview");
    assert_eq!(previewed[4], 1, "the preview's call");
    assert_eq!(report.preview_totals.widget_sessions, 1);
    assert_eq!(report.preview_totals.conversations_inbound, 1);
    assert_eq!(report.quota.text.used, production[..4].iter().sum::<i64>());
    assert_eq!(report.quota.voice.used, production[4]);
    assert_eq!(report.preview_limits.messages_per_day, 200);
    assert_eq!(report.preview_limits.voice_minutes_per_day, 30);
    // And the table itself, as the store reads it.
    let rows = app
        .state
        .db
        .usage_days(&workspace_id, today - 400, today + 400)
        .await
        .unwrap();
    let stored: BTreeMap<(i64, bool), Counters> = rows
        .into_iter()
        .map(|row| ((row.day, row.preview), counters(&row.sums.into())))
        .collect();
    assert_eq!(stored, recounted);
    // The default range is the last 30 days, today included.
    let last_30 = server.usage("").await;
    assert_eq!(last_30.days.len(), 30);
    assert_eq!(last_30.to, days::format_day(today));
    assert_eq!(counters(&last_30.totals), production);
}

#[tokio::test]
async fn the_usage_range_is_checked_and_only_admins_read_it() {
    let server = start().await;
    for (query, code) in [
        ("?from=2026-02-30", "invalid_date"),
        ("?to=2026-1-01", "invalid_date"),
        ("?from=", "invalid_date"),
        ("?from=yesterday", "invalid_date"),
        ("?from=2026-03-02&to=2026-03-01", "invalid_range"),
        ("?from=2024-01-01&to=2025-01-01", "invalid_range"),
    ] {
        let answer = server
            .admin(Method::GET, &format!("/v1/admin/usage{query}"), None)
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "{query}: {}",
            answer.text
        );
    }
    let year = server.usage("?from=2024-01-01&to=2024-12-31").await;
    assert_eq!(year.days.len(), 366);

    let agent = server
        .agent_of_role("agent@example.com", AgentRole::Agent)
        .await;
    for uri in ["/v1/admin/usage", "/v1/admin/quota"] {
        let answer = server.app.as_agent(&agent, Method::GET, uri, None).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri}");
        let answer = server.app.get(uri).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    let put = server
        .app
        .as_agent(
            &agent,
            Method::PUT,
            "/v1/admin/quota",
            Some(json!({"mode": "hard", "text_messages_per_month": 5})),
        )
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn quota_settings_are_validated_and_read_back() {
    let server = start().await;
    let initial: QuotaStatus = serde_json::from_str(
        &server
            .admin(Method::GET, "/v1/admin/quota", None)
            .await
            .text,
    )
    .unwrap();
    assert_eq!(initial.settings.mode, QuotaMode::Off);
    assert_eq!(initial.text.limit, None);
    assert_eq!(
        initial.month,
        days::month_of(days::day_of_ms(talk_server::db::now_ms())).name
    );
    for bad in [
        json!({"mode": "hard", "text_messages_per_month": 0}),
        json!({"mode": "soft", "voice_minutes_per_month": -3}),
        json!({"mode": "soft", "text_messages_per_month": 1_000_000_001_i64}),
    ] {
        let answer = server
            .admin(Method::PUT, "/v1/admin/quota", Some(bad.clone()))
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_quota"),
            "{bad}"
        );
    }
    let answer = server
        .admin(
            Method::PUT,
            "/v1/admin/quota",
            Some(json!({"mode": "sometimes"})),
        )
        .await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let set = server
        .set_quota(
            json!({"mode": "soft", "text_messages_per_month": 1_000_000_000_i64,
                          "voice_minutes_per_month": null}),
        )
        .await;
    assert_eq!(set.settings.mode, QuotaMode::Soft);
    assert_eq!(set.text.limit, Some(1_000_000_000));
    assert_eq!(set.voice.limit, None);
    let read: QuotaStatus = serde_json::from_str(
        &server
            .admin(Method::GET, "/v1/admin/quota", None)
            .await
            .text,
    )
    .unwrap();
    assert_eq!(read, set);
}

#[tokio::test]
async fn a_hard_text_quota_refuses_new_conversations_and_loses_nothing() {
    let server = start().await;
    let mut ann = server.visitor(1).await;
    let running = say(&mut ann, None, "Hello").await.conversation_id;
    let status = server
        .set_quota(json!({"mode": "hard", "text_messages_per_month": 1}))
        .await;
    assert_eq!(status.text.used, 1);

    // A new conversation over the socket: refused with the code, nothing stored.
    let mut bob = server.visitor(2).await;
    let refused_id = uuid();
    send(
        &mut bob,
        json!({"type": "send", "client_msg_id": refused_id, "body": "Can you help?"}),
    )
    .await;
    let (code, client_msg_id) = error_code(next_event(&mut bob).await);
    assert_eq!(code, "quota_exceeded");
    assert_eq!(client_msg_id.as_deref(), Some(refused_id.as_str()));
    assert_eq!(server.stored_with_client_id(&refused_id).await, 0);
    // And over HTTP: 429, the code and a polite message.
    let token = server.app.session_token(&visitor_id(2), None).await;
    let (status, body) = server
        .post_event(
            &token,
            json!({"type": "send", "client_msg_id": refused_id, "body": "Can you help?"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("can't take new conversations"),
        "{body}"
    );
    assert_eq!(server.stored_with_client_id(&refused_id).await, 0);

    // A running conversation goes on.
    say(&mut ann, Some(&running), "Still here").await;

    // Soft mode refuses nothing; neither does a raised limit. The refused message, sent
    // again under its id, is stored once.
    server
        .set_quota(json!({"mode": "soft", "text_messages_per_month": 1}))
        .await;
    let mut cy = server.visitor(3).await;
    say(&mut cy, None, "Soft mode lets me in").await;
    server
        .set_quota(json!({"mode": "hard", "text_messages_per_month": 100}))
        .await;
    for _ in 0..2 {
        send(
            &mut bob,
            json!({"type": "send", "client_msg_id": refused_id, "body": "Can you help?"}),
        )
        .await;
        let acked = wait_for(&mut bob, |event| match event {
            ServerEvent::Ack { message, .. } => Some(message.clone()),
            _ => None,
        })
        .await;
        assert_eq!(acked.client_msg_id.as_deref(), Some(refused_id.as_str()));
        assert_eq!(acked.seq, 1);
    }
    assert_eq!(server.stored_with_client_id(&refused_id).await, 1);
}

#[tokio::test]
async fn a_hard_voice_quota_refuses_calls() {
    let server = start().await;
    let cookie = server.voice_on().await;
    let mut inbox = server.agent_socket(&cookie).await;
    let mut ann = server.visitor(1).await;
    let conversation = say(&mut ann, None, "Hello").await.conversation_id;
    server
        .set_quota(json!({"mode": "hard", "voice_minutes_per_month": 1}))
        .await;
    // Under the limit: the call goes ahead, and its connected time uses the minute.
    completed_call(
        &mut ann,
        &mut inbox,
        &conversation,
        CALL_1,
        Duration::from_millis(50),
    )
    .await;
    let start = json!({"type": "call_start", "conversation_id": conversation, "call_id": CALL_2});
    send(&mut ann, start).await;
    let outcome = wait_for(&mut ann, |event| match event {
        ServerEvent::Error { code, .. } => Some(code.clone()),
        ServerEvent::Call { call } if call.id == CALL_2 => Some("ringing".to_string()),
        _ => None,
    })
    .await;
    assert_eq!(outcome, "quota_exceeded");
    // Text still flows in the conversation.
    say(&mut ann, Some(&conversation), "Then by text").await;
}

#[tokio::test]
async fn the_admins_are_warned_once_at_80_and_100_percent() {
    let server = start().await;
    let admin_cookie = server.app.admin_cookie().await;
    let mut admin = server.agent_socket(&admin_cookie).await;
    let agent_cookie = server
        .agent_of_role("agent@example.com", AgentRole::Agent)
        .await;
    let mut agent = server.agent_socket(&agent_cookie).await;
    server
        .set_quota(json!({"mode": "soft", "text_messages_per_month": 10}))
        .await;

    // Seven messages in one conversation: 70%, and no check on a running conversation.
    let mut ann = server.visitor(1).await;
    let running = say(&mut ann, None, "1").await.conversation_id;
    for n in 2..=7 {
        say(&mut ann, Some(&running), &n.to_string()).await;
    }
    // Each new conversation adds one message and checks: 8 → 80%, 9, 10 → 100%, 11.
    let mut received = Vec::new();
    for n in 2..=5 {
        let mut visitor = server.visitor(n).await;
        say(&mut visitor, None, "Hello").await;
        if n == 2 || n == 4 {
            let warning = wait_for(&mut admin, |event| match event {
                ServerEvent::QuotaWarning { warning } => Some(warning.clone()),
                _ => None,
            })
            .await;
            received.push(warning);
        }
    }
    // The last check (at 110%) has run once its warning row would be there: give it the
    // time a warning took, then nothing more came.
    tokio::time::sleep(Duration::from_millis(300)).await;
    received.extend(warnings_in(&drain(&mut admin).await));
    let levels: Vec<(QuotaMetric, u8, i64)> = received
        .iter()
        .map(|warning| (warning.metric, warning.level, warning.used))
        .collect();
    assert_eq!(
        levels,
        vec![(QuotaMetric::Text, 80, 8), (QuotaMetric::Text, 100, 10)]
    );
    assert!(received
        .iter()
        .all(|warning| warning.limit == 10 && warning.mode == QuotaMode::Soft));
    // An agent who is not an admin hears none of it.
    assert_eq!(warnings_in(&drain(&mut agent).await), vec![]);
    // Recorded once per month and threshold.
    let recorded = server
        .app
        .sql
        .i64("SELECT COUNT(*) FROM quota_warnings", &[])
        .await;
    assert_eq!(recorded, 2);
}

#[tokio::test]
async fn a_hard_text_quota_used_up_offers_no_capture_and_refuses_a_reply() {
    let server = start().await;
    let created = server
        .admin(
            Method::POST,
            "/v1/admin/capture-widgets",
            Some(json!({"name": "Hello", "message": "Can we help?", "sender": {"kind": "bot"}})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let capture_id = created.json()["id"].as_str().unwrap().to_string();
    let offered = |visitor: String| {
        let app = &server.app;
        async move {
            let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor,
                              "page_url": "https://shop.example.com/"});
            let answer = app
                .send(Method::POST, "/v1/talk/widget/session", &[], Some(body))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            answer.json()["capture"]["id"].as_str().map(str::to_string)
        }
    };
    assert_eq!(offered(visitor_id(1)).await, Some(capture_id.clone()));

    let mut ann = server.visitor(1).await;
    say(&mut ann, None, "Hello").await;
    // Soft mode used up offers it still; hard mode doesn't.
    server
        .set_quota(json!({"mode": "soft", "text_messages_per_month": 1}))
        .await;
    assert_eq!(offered(visitor_id(2)).await, Some(capture_id.clone()));
    server
        .set_quota(json!({"mode": "hard", "text_messages_per_month": 1}))
        .await;
    assert_eq!(offered(visitor_id(3)).await, None);

    // A reply from a page that had it offered before: refused, nothing stored.
    let (mut bob, _) = server.open(&visitor_id(2), None).await;
    let reply_id = uuid();
    let reply = json!({"type": "capture_reply", "capture_id": capture_id,
                       "client_msg_id": reply_id, "body": "Yes please"});
    send(&mut bob, reply.clone()).await;
    let (code, _) = error_code(next_event(&mut bob).await);
    assert_eq!(code, "quota_exceeded");
    assert_eq!(server.stored_with_client_id(&reply_id).await, 0);
    // Once the limit is raised, the same reply starts the conversation.
    server
        .set_quota(json!({"mode": "hard", "text_messages_per_month": 50}))
        .await;
    send(&mut bob, reply).await;
    let acked = ack(next_event(&mut bob).await);
    assert_eq!(
        (acked.seq, acked.client_msg_id.as_deref()),
        (2, Some(reply_id.as_str()))
    );
    // Its resend, after the limit is used up again, is still answered with it.
    server
        .set_quota(json!({"mode": "hard", "text_messages_per_month": 1}))
        .await;
    send(
        &mut bob,
        json!({"type": "capture_reply", "capture_id": capture_id,
               "client_msg_id": reply_id, "body": "Yes please"}),
    )
    .await;
    assert_eq!(ack(next_event(&mut bob).await), acked);
}
