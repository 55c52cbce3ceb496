//! The two wire protocols the load speaks: Talk's widget socket and socket.io's (Engine.IO 4
//! over a plain WebSocket). Both go through one `Connector`, so both targets get the same
//! client, the same source-address spreading and the same costs on the load side.

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use talk_protocol::{
    ClientEvent, IdentifyRequest, ServerEvent, WidgetSessionRequest, WidgetSessionResponse,
};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// How long one handshake (HTTP session + WebSocket + auth) may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Small buffers: the load generator shares the machine with the target, so its own
/// sockets must not take the memory (tungstenite reserves 128 KiB per socket by default).
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(CLIENT_BUFFER_BYTES)
        .write_buffer_size(0)
}

const CLIENT_BUFFER_BYTES: usize = 4096;

/// Opens client sockets from 127.0.0.2, 127.0.0.3, … in turn: one source address has only
/// ~28k ephemeral ports towards one server port.
pub struct Connector {
    server: SocketAddr,
    sources: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Connector {
    pub fn new(server: SocketAddr, source_addrs: u8) -> Self {
        let sources = (0..source_addrs.max(1))
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))
            .collect();
        Connector {
            server,
            sources,
            next: AtomicUsize::new(0),
        }
    }

    pub async fn websocket(&self, url: &str) -> Result<Ws> {
        let source = self.sources[self.next.fetch_add(1, Ordering::Relaxed) % self.sources.len()];
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let stream = socket
            .connect(self.server)
            .await
            .with_context(|| format!("connect from {source}"))?;
        stream.set_nodelay(true)?;
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(url, stream, Some(client_config())).await?;
        Ok(ws)
    }
}

/// Where to reach a target and how to talk to it.
#[derive(Clone)]
pub enum Protocol {
    /// A talk-server: `base` is its http URL, `capture_key` the bench workspace's.
    Talk {
        base: String,
        capture_key: String,
        http: reqwest::Client,
    },
    /// A socket.io server at `url` (`ws://…/socket.io/?EIO=4&transport=websocket`).
    SocketIo { url: String },
}

/// Who receives the visitors' messages. Today only a second tab of the same visitor (its own
/// widget session) exists: it hears each message through the hub exactly as an agent's
/// socket would. An agent socket (`GET /v1/agent/socket`, cookie session) becomes a new
/// variant here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentKind {
    VisitorTab,
}

/// Where a pair's visitor sends to: Talk's conversation, or socket.io's room.
pub enum Route {
    Talk { conversation_id: Option<String> },
    SocketIo { room: String, next_ack_id: u64 },
}

/// A visitor socket and the agent-side socket that receives what it sends.
pub struct Pair {
    pub visitor: Ws,
    pub agent: Ws,
    pub route: Route,
}

/// What a frame means to the load.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// The target acknowledged a send (after commit, for Talk); carries the message body.
    Ack(String),
    /// A message delivered to this socket; carries the body.
    Delivered(String),
    /// The target refused something.
    Error(String),
    /// Must be answered with this frame (socket.io's application-level ping).
    Reply(&'static str),
    Other,
}

fn random_visitor_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Talk { .. } => "talk-server",
            Protocol::SocketIo { .. } => "socket.io relay",
        }
    }

    /// An idle visitor: connected, authenticated, sending nothing.
    pub async fn open_idle(&self, connector: &Connector) -> Result<Ws> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            match self {
                Protocol::Talk { .. } => {
                    let session = self.widget_session(&random_visitor_id()).await?;
                    self.talk_socket(connector, &session).await
                }
                Protocol::SocketIo { url } => socket_io_connect(connector, url).await,
            }
        })
        .await
        .context("handshake timed out")?
    }

    /// A visitor and its agent-side observer, with one message already delivered (for Talk
    /// that first message starts the conversation, which is not what the phases measure).
    pub async fn open_pair(
        &self,
        connector: &Connector,
        index: usize,
        agent: AgentKind,
    ) -> Result<Pair> {
        let AgentKind::VisitorTab = agent;
        let mut pair = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            match self {
                Protocol::Talk { base, http, .. } => {
                    let visitor_id = random_visitor_id();
                    let visitor_session = self.widget_session(&visitor_id).await?;
                    let agent_session = self.widget_session(&visitor_id).await?;
                    http.post(format!("{base}/v1/talk/identify"))
                        .bearer_auth(&visitor_session.session_token)
                        .json(&IdentifyRequest {
                            email: format!("bench-{index}@example.com"),
                            ..Default::default()
                        })
                        .send()
                        .await?
                        .error_for_status()
                        .context("identify")?;
                    Ok::<_, anyhow::Error>(Pair {
                        visitor: self.talk_socket(connector, &visitor_session).await?,
                        agent: self.talk_socket(connector, &agent_session).await?,
                        route: Route::Talk {
                            conversation_id: None,
                        },
                    })
                }
                Protocol::SocketIo { url } => {
                    let room = format!("pair-{index}");
                    let mut agent = socket_io_connect(connector, url).await?;
                    agent
                        .send(Frame::text(format!("420{}", json!(["join", room]))))
                        .await?;
                    expect_frame(&mut agent, |text| text.starts_with("430")).await?;
                    Ok(Pair {
                        visitor: socket_io_connect(connector, url).await?,
                        agent,
                        route: Route::SocketIo {
                            room,
                            next_ack_id: 1,
                        },
                    })
                }
            }
        })
        .await
        .context("pair handshake timed out")??;
        self.first_message(&mut pair).await?;
        Ok(pair)
    }

    async fn first_message(&self, pair: &mut Pair) -> Result<()> {
        let frame = self.send_frame(&mut pair.route, "hello");
        pair.visitor.send(frame).await?;
        let ack = expect_incoming(self, &mut pair.visitor, |incoming| {
            matches!(incoming, Incoming::Ack(_))
        })
        .await?;
        if let (Route::Talk { conversation_id }, Frame::Text(text)) = (&mut pair.route, &ack) {
            if let Ok(ServerEvent::Ack { message, .. }) = serde_json::from_str(text.as_str()) {
                *conversation_id = Some(message.conversation_id);
            }
        }
        expect_incoming(self, &mut pair.agent, |incoming| {
            matches!(incoming, Incoming::Delivered(_))
        })
        .await?;
        Ok(())
    }

    async fn widget_session(&self, visitor_id: &str) -> Result<WidgetSessionResponse> {
        let Protocol::Talk {
            base,
            capture_key,
            http,
        } = self
        else {
            bail!("not a talk-server");
        };
        let response = http
            .post(format!("{base}/v1/talk/widget/session"))
            .json(&WidgetSessionRequest {
                capture_key: capture_key.clone(),
                visitor_id: visitor_id.to_string(),
                token: None,
            })
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!(
                "widget session: {status}: {}",
                response.text().await.unwrap_or_default()
            );
        }
        Ok(response.json().await?)
    }

    async fn talk_socket(
        &self,
        connector: &Connector,
        session: &WidgetSessionResponse,
    ) -> Result<Ws> {
        let mut ws = connector.websocket(&session.socket_url).await?;
        let auth = ClientEvent::Auth {
            token: session.session_token.clone(),
        };
        ws.send(Frame::text(serde_json::to_string(&auth)?)).await?;
        expect_frame(&mut ws, |text| text.starts_with(r#"{"type":"ready""#)).await?;
        Ok(ws)
    }

    /// The frame that sends `body` along `route`.
    pub fn send_frame(&self, route: &mut Route, body: &str) -> Frame {
        match route {
            Route::Talk { conversation_id } => {
                let send = ClientEvent::Send {
                    conversation_id: conversation_id.clone(),
                    client_msg_id: uuid::Uuid::new_v4().to_string(),
                    body: body.to_string(),
                };
                Frame::text(serde_json::to_string(&send).expect("serializable"))
            }
            Route::SocketIo { room, next_ack_id } => {
                let id = *next_ack_id;
                *next_ack_id += 1;
                Frame::text(format!(
                    "42{id}{}",
                    json!(["send", {"room": room, "body": body}])
                ))
            }
        }
    }

    pub fn decode(&self, text: &str) -> Incoming {
        match self {
            Protocol::Talk { .. } => match serde_json::from_str::<ServerEvent>(text) {
                Ok(ServerEvent::Ack { message, .. }) => Incoming::Ack(message.body),
                Ok(ServerEvent::Message { message }) => Incoming::Delivered(message.body),
                Ok(ServerEvent::Error { code, message, .. }) => {
                    Incoming::Error(format!("{code}: {message}"))
                }
                _ => Incoming::Other,
            },
            Protocol::SocketIo { .. } => decode_socket_io(text),
        }
    }
}

/// Engine.IO 4 packet type, then socket.io's: `2` ping (answer `3`), `42[…]` an event,
/// `43<id>[…]` an ack, `44{…}` a connect error.
fn decode_socket_io(text: &str) -> Incoming {
    if text == "2" {
        return Incoming::Reply("3");
    }
    let first_string = |payload: &str, index: usize| -> Option<serde_json::Value> {
        let array: serde_json::Value = serde_json::from_str(payload).ok()?;
        array.get(index).cloned()
    };
    if let Some(rest) = text.strip_prefix("43") {
        let payload = rest.trim_start_matches(|c: char| c.is_ascii_digit());
        if let Some(serde_json::Value::String(body)) = first_string(payload, 0) {
            return Incoming::Ack(body);
        }
    } else if let Some(payload) = text.strip_prefix("42") {
        if let Some(body) = first_string(payload, 1).and_then(|message| {
            message
                .get("body")
                .and_then(|body| body.as_str().map(String::from))
        }) {
            return Incoming::Delivered(body);
        }
    } else if let Some(error) = text.strip_prefix("44") {
        return Incoming::Error(error.to_string());
    }
    Incoming::Other
}

async fn socket_io_connect(connector: &Connector, url: &str) -> Result<Ws> {
    let mut ws = connector.websocket(url).await?;
    expect_frame(&mut ws, |text| text.starts_with('0')).await?; // Engine.IO open
    ws.send(Frame::text("40")).await?; // socket.io connect to the main namespace
    expect_frame(&mut ws, |text| text.starts_with("40")).await?;
    Ok(ws)
}

/// Reads until a text frame satisfies `wanted`; fails on close.
async fn expect_frame(ws: &mut Ws, wanted: impl Fn(&str) -> bool) -> Result<Frame> {
    while let Some(frame) = ws.next().await {
        let frame = frame?;
        match &frame {
            Frame::Text(text) if wanted(text.as_str()) => return Ok(frame),
            Frame::Text(text) if text.as_str() == "2" => ws.send(Frame::text("3")).await?,
            Frame::Close(close) => bail!("closed by the target: {close:?}"),
            _ => {}
        }
    }
    Err(anyhow!("closed by the target"))
}

async fn expect_incoming(
    protocol: &Protocol,
    ws: &mut Ws,
    wanted: impl Fn(&Incoming) -> bool,
) -> Result<Frame> {
    expect_frame(ws, |text| {
        let incoming = protocol.decode(text);
        if let Incoming::Error(error) = &incoming {
            eprintln!("talk-bench: the target refused a message: {error}");
        }
        wanted(&incoming) || matches!(incoming, Incoming::Error(_))
    })
    .await
    .and_then(|frame| match &frame {
        Frame::Text(text) => match protocol.decode(text.as_str()) {
            Incoming::Error(error) => Err(anyhow!("refused: {error}")),
            _ => Ok(frame),
        },
        _ => Ok(frame),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_io_frames_decode() {
        assert_eq!(decode_socket_io("2"), Incoming::Reply("3"));
        assert_eq!(
            decode_socket_io(r#"4317["7 hi"]"#),
            Incoming::Ack("7 hi".into())
        );
        assert_eq!(
            decode_socket_io(r#"42["message",{"room":"pair-1","body":"7 hi"}]"#),
            Incoming::Delivered("7 hi".into())
        );
        assert_eq!(
            decode_socket_io(r#"44{"message":"nope"}"#),
            Incoming::Error(r#"{"message":"nope"}"#.into())
        );
        assert_eq!(decode_socket_io(r#"40{"sid":"x"}"#), Incoming::Other);
    }

    #[test]
    fn socket_io_sends_carry_increasing_ack_ids() {
        let protocol = Protocol::SocketIo { url: String::new() };
        let mut route = Route::SocketIo {
            room: "pair-1".into(),
            next_ack_id: 1,
        };
        let first = protocol.send_frame(&mut route, "a");
        let second = protocol.send_frame(&mut route, "b");
        assert_eq!(
            first,
            Frame::text(r#"421["send",{"body":"a","room":"pair-1"}]"#)
        );
        assert_eq!(
            second,
            Frame::text(r#"422["send",{"body":"b","room":"pair-1"}]"#)
        );
    }
}
