//! The two wire protocols the load speaks: Talk's widget socket and socket.io's (Engine.IO 4
//! over a plain WebSocket). Both go through one `Connector`, so both targets get the same
//! client, the same source-address spreading and the same costs on the load side.

use anyhow::{anyhow, bail, Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use talk_protocol::{
    ClientEvent, IdentifyRequest, ServerEvent, WidgetSessionRequest, WidgetSessionResponse,
};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

use crate::nodes;

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
/// ~28k ephemeral ports towards one server port. Each socket goes to the address its URL
/// names, so one connector serves every node of a multi-node target (a Talk node's session
/// answer names that node's socket URL).
pub struct Connector {
    sources: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Connector {
    pub fn new(source_addrs: u8) -> Self {
        let sources = (0..source_addrs.max(1))
            .map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)))
            .collect();
        Connector {
            sources,
            next: AtomicUsize::new(0),
        }
    }

    /// A connector whose sockets all come from one address (the flood's attacker).
    pub fn single_source(source: Ipv4Addr) -> Self {
        Connector {
            sources: vec![IpAddr::V4(source)],
            next: AtomicUsize::new(0),
        }
    }

    pub async fn websocket(&self, request: impl IntoClientRequest + Unpin) -> Result<Ws> {
        let request = request.into_client_request()?;
        let server = server_addr(request.uri())?;
        let source = self.sources[self.next.fetch_add(1, Ordering::Relaxed) % self.sources.len()];
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let stream = socket
            .connect(server)
            .await
            .with_context(|| format!("connect from {source} to {server}"))?;
        stream.set_nodelay(true)?;
        let (ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(client_config()))
                .await?;
        Ok(ws)
    }
}

/// The address a `ws://IP:port/…` URL names: targets run on loopback, named by IP, so no
/// resolver sits in the measured path.
fn server_addr(uri: &tokio_tungstenite::tungstenite::http::Uri) -> Result<SocketAddr> {
    let host = uri.host().context("socket URL without a host")?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .with_context(|| format!("socket URL host {host} is not an IP address"))?;
    let port = uri.port_u16().unwrap_or(80);
    Ok(SocketAddr::new(ip, port))
}

/// Where to reach a target and how to talk to it.
#[derive(Clone)]
pub enum Protocol {
    /// A talk-server: `bases` are its nodes' http URLs (one, or several sharing one
    /// PostgreSQL database), `capture_key` the bench workspace's and `agent_cookie` its
    /// admin's signed-in session (for agent sockets; the session is in the shared database,
    /// so every node takes it).
    Talk {
        bases: Vec<String>,
        capture_key: String,
        agent_cookie: String,
        http: reqwest::Client,
    },
    /// A socket.io server at `url` (`ws://…/socket.io/?EIO=4&transport=websocket`).
    SocketIo { url: String },
}

/// Who receives the visitors' messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AgentKind {
    /// Agents' inbox sockets (`GET /v1/agent/socket`, cookie session): each hears every
    /// message of the workspace, as a signed-in agent does. For socket.io, a socket that
    /// joined every pair's room.
    Inbox,
    /// A second tab of the same visitor (its own widget session): one receiver per pair.
    VisitorTab,
}

/// Where a pair's visitor sends to: Talk's conversation, or socket.io's room.
pub enum Route {
    Talk { conversation_id: Option<String> },
    SocketIo { room: String, next_ack_id: u64 },
}

/// A visitor socket and the agent side that receives what it sends.
pub struct Pair {
    pub visitor: Ws,
    pub agent: AgentEnd,
    pub route: Route,
}

/// A pair's agent side: a socket of its own, or the deliveries an inbox socket routes to it.
pub enum AgentEnd {
    Socket(Box<Ws>),
    Routed(mpsc::UnboundedReceiver<Frame>),
}

impl AgentEnd {
    pub async fn next(&mut self) -> Option<Result<Frame, tokio_tungstenite::tungstenite::Error>> {
        match self {
            AgentEnd::Socket(ws) => ws.next().await,
            AgentEnd::Routed(deliveries) => deliveries.recv().await.map(Ok),
        }
    }

    /// Answers on the socket; the inbox reader answers its own socket's pings.
    pub async fn send(
        &mut self,
        frame: Frame,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        match self {
            AgentEnd::Socket(ws) => ws.send(frame).await,
            AgentEnd::Routed(_) => Ok(()),
        }
    }
}

/// Agent sockets that each hear every pair's messages. Each pair is measured at one of them
/// (`nodes::measuring_agent`: on a multi-node target, one on another node than the pair's
/// visitor); the others receive and drop its messages, as idle agents' inboxes do.
pub struct Inbox {
    nodes: usize,
    routes: Vec<Arc<Mutex<Routes>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

/// Deliveries by conversation (Talk) or room (socket.io).
#[derive(Default)]
struct Routes(HashMap<String, RouteTo>);

enum RouteTo {
    /// Not registered yet (the delivery overtook the ack that names the conversation).
    Waiting(Vec<Frame>),
    Pair(mpsc::UnboundedSender<Frame>),
    Elsewhere,
}

impl Routes {
    fn deliver(&mut self, key: String, frame: Frame) {
        match self
            .0
            .entry(key)
            .or_insert_with(|| RouteTo::Waiting(Vec::new()))
        {
            RouteTo::Waiting(early) => early.push(frame),
            // A pair that finished keeps its socket; a closed receiver means the run ended.
            RouteTo::Pair(pair) => drop(pair.send(frame)),
            RouteTo::Elsewhere => {}
        }
    }

    fn register(&mut self, key: String, to: RouteTo) {
        if let (RouteTo::Pair(pair), Some(RouteTo::Waiting(early))) = (&to, self.0.get_mut(&key)) {
            for frame in early.drain(..) {
                drop(pair.send(frame));
            }
        }
        self.0.insert(key, to);
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
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

/// A message's idempotency key as the widget and the inbox make it (`talk_browser::ids`): a
/// version 7 UUID, time first, so each target's unique index on it grows at its end.
fn client_msg_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub fn random_visitor_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Protocol {
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Talk { .. } => "talk-server",
            Protocol::SocketIo { .. } => "socket.io relay",
        }
    }

    /// The target's nodes: several for a Talk cluster, else one.
    pub fn nodes(&self) -> usize {
        match self {
            Protocol::Talk { bases, .. } => bases.len().max(1),
            Protocol::SocketIo { .. } => 1,
        }
    }

    /// Idle visitor `index`: connected (to its node, `nodes::idle_node`), authenticated,
    /// sending nothing.
    pub async fn open_idle(&self, connector: &Connector, index: usize) -> Result<Ws> {
        tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            match self {
                Protocol::Talk { .. } => {
                    let node = nodes::idle_node(index, self.nodes());
                    let session = self.widget_session_on(node, &random_visitor_id()).await?;
                    self.talk_socket(connector, &session).await
                }
                Protocol::SocketIo { url } => socket_io_connect(connector, url).await,
            }
        })
        .await
        .context("handshake timed out")?
    }

    /// `agents` inbox sockets (`nodes::agent_count`: at least one per node), each hearing
    /// every one of `pairs` pairs.
    pub async fn open_inbox(
        &self,
        connector: &Connector,
        agents: usize,
        pairs: usize,
    ) -> Result<Inbox> {
        let nodes = self.nodes();
        let mut inbox = Inbox {
            nodes,
            routes: Vec::new(),
            readers: Vec::new(),
        };
        for agent in 0..nodes::agent_count(agents, nodes) {
            let ws = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
                match self {
                    Protocol::Talk {
                        bases,
                        agent_cookie,
                        ..
                    } => {
                        let base = &bases[nodes::inbox_agent_node(agent, nodes)];
                        let url = format!("{}/v1/agent/socket", base.replacen("http", "ws", 1));
                        let mut request = url.into_client_request()?;
                        let headers = request.headers_mut();
                        headers.insert("cookie", agent_cookie.parse()?);
                        // The server takes the cookie only from its own origin (the inbox's).
                        headers.insert("origin", base.parse()?);
                        let mut ws = connector.websocket(request).await?;
                        expect_frame(&mut ws, |text| text.starts_with(r#"{"type":"ready""#))
                            .await?;
                        Ok::<_, anyhow::Error>(ws)
                    }
                    Protocol::SocketIo { url } => {
                        let mut ws = socket_io_connect(connector, url).await?;
                        for index in 0..pairs {
                            let join = json!(["join", room_name(index)]);
                            ws.send(Frame::text(format!("42{index}{join}"))).await?;
                            expect_frame(&mut ws, |text| text.starts_with("43")).await?;
                        }
                        Ok(ws)
                    }
                }
            })
            .await
            .context("agent socket handshake timed out")??;
            let routes = Arc::new(Mutex::new(Routes::default()));
            inbox
                .readers
                .push(tokio::spawn(read_inbox(self.clone(), ws, routes.clone())));
            inbox.routes.push(routes);
        }
        Ok(inbox)
    }

    /// A visitor and its agent side, with one message already delivered (for Talk that first
    /// message starts the conversation, which is not what the phases measure). With an
    /// `inbox`, the pair's deliveries are routed from its agent sockets. On a multi-node
    /// target the visitor is on `nodes::visitor_node` and its second tab (`--agent
    /// visitor-tab`) on `nodes::agent_node`.
    pub async fn open_pair(
        &self,
        connector: &Connector,
        index: usize,
        inbox: Option<&Inbox>,
    ) -> Result<Pair> {
        let (routed, deliveries) = mpsc::unbounded_channel();
        let mut pair = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
            match self {
                Protocol::Talk { bases, http, .. } => {
                    let nodes = self.nodes();
                    let (visitor_node, agent_node) = (
                        nodes::visitor_node(index, nodes),
                        nodes::agent_node(index, nodes),
                    );
                    let base = &bases[visitor_node];
                    let visitor_id = random_visitor_id();
                    let visitor_session = self.widget_session_on(visitor_node, &visitor_id).await?;
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
                    let agent = match inbox {
                        Some(_) => AgentEnd::Routed(deliveries),
                        None => {
                            let agent_session =
                                self.widget_session_on(agent_node, &visitor_id).await?;
                            AgentEnd::Socket(Box::new(
                                self.talk_socket(connector, &agent_session).await?,
                            ))
                        }
                    };
                    Ok::<_, anyhow::Error>(Pair {
                        visitor: self.talk_socket(connector, &visitor_session).await?,
                        agent,
                        route: Route::Talk {
                            conversation_id: None,
                        },
                    })
                }
                Protocol::SocketIo { url } => {
                    let room = room_name(index);
                    let agent = match inbox {
                        Some(inbox) => {
                            inbox.register(index, room.clone(), routed.clone());
                            AgentEnd::Routed(deliveries)
                        }
                        None => {
                            let mut agent = socket_io_connect(connector, url).await?;
                            agent
                                .send(Frame::text(format!("420{}", json!(["join", room]))))
                                .await?;
                            expect_frame(&mut agent, |text| text.starts_with("430")).await?;
                            AgentEnd::Socket(Box::new(agent))
                        }
                    };
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
        let conversation_id = self.first_message(&mut pair).await?;
        if let (Some(inbox), Some(conversation_id)) = (inbox, conversation_id) {
            inbox.register(index, conversation_id, routed);
        }
        expect_delivery(self, &mut pair.agent).await?;
        Ok(pair)
    }

    /// Sends the pair's first message; returns the conversation it started (Talk).
    async fn first_message(&self, pair: &mut Pair) -> Result<Option<String>> {
        let frame = self.send_frame(&mut pair.route, "hello");
        pair.visitor.send(frame).await?;
        let ack = expect_incoming(self, &mut pair.visitor, |incoming| {
            matches!(incoming, Incoming::Ack(_))
        })
        .await?;
        let mut started = None;
        if let (Route::Talk { conversation_id }, Frame::Text(text)) = (&mut pair.route, &ack) {
            if let Ok(ServerEvent::Ack { message, .. }) = serde_json::from_str(text.as_str()) {
                *conversation_id = Some(message.conversation_id.clone());
                started = Some(message.conversation_id);
            }
        }
        Ok(started)
    }

    /// The conversation (Talk) or room (socket.io) a delivered message belongs to.
    fn delivery_key(&self, text: &str) -> Option<String> {
        match self {
            Protocol::Talk { .. } => match serde_json::from_str::<ServerEvent>(text) {
                Ok(ServerEvent::Message { message }) => Some(message.conversation_id),
                _ => None,
            },
            Protocol::SocketIo { .. } => {
                let payload = text.strip_prefix("42")?;
                let event: serde_json::Value = serde_json::from_str(payload).ok()?;
                Some(event.get(1)?.get("room")?.as_str()?.to_string())
            }
        }
    }

    /// A widget session on the first node.
    pub async fn widget_session(&self, visitor_id: &str) -> Result<WidgetSessionResponse> {
        self.widget_session_on(0, visitor_id).await
    }

    /// A widget session on node `node`: its socket URL names that node.
    pub async fn widget_session_on(
        &self,
        node: usize,
        visitor_id: &str,
    ) -> Result<WidgetSessionResponse> {
        let Protocol::Talk {
            bases,
            capture_key,
            http,
            ..
        } = self
        else {
            bail!("not a talk-server");
        };
        let base = &bases[node];
        let response = http
            .post(format!("{base}/v1/talk/widget/session"))
            .json(&WidgetSessionRequest {
                capture_key: capture_key.clone(),
                visitor_id: visitor_id.to_string(),
                token: None,
                page_url: None,
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

    pub async fn talk_socket(
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
                    client_msg_id: client_msg_id(),
                    body: body.to_string(),
                };
                Frame::text(serde_json::to_string(&send).expect("serializable"))
            }
            Route::SocketIo { room, next_ack_id } => {
                let ack_id = *next_ack_id;
                *next_ack_id += 1;
                // A UUID per message, as Talk's client_msg_id: the durable peer stores each
                // once by it (a resend would carry the same); the volatile relay ignores it.
                let id = client_msg_id();
                Frame::text(format!(
                    "42{ack_id}{}",
                    json!(["send", {"room": room, "body": body, "id": id}])
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

fn room_name(pair: usize) -> String {
    format!("pair-{pair}")
}

impl Inbox {
    /// Routes `key`'s deliveries to the pair at the agent that measures it.
    fn register(&self, pair: usize, key: String, to: mpsc::UnboundedSender<Frame>) {
        let measuring = crate::nodes::measuring_agent(pair, self.routes.len(), self.nodes);
        for (agent, routes) in self.routes.iter().enumerate() {
            let route = if agent == measuring {
                RouteTo::Pair(to.clone())
            } else {
                RouteTo::Elsewhere
            };
            routes.lock().expect("routes").register(key.clone(), route);
        }
    }
}

/// Reads one agent socket for the whole run, routing each delivery to its pair.
/// A socket the target ends (e.g. Talk's "too slow" close) is said, since its later
/// deliveries are then missing from the table; the run ends by aborting the reader, silently.
async fn read_inbox(protocol: Protocol, mut ws: Ws, routes: Arc<Mutex<Routes>>) {
    loop {
        let frame = match ws.next().await {
            Some(Ok(Frame::Close(close))) => {
                eprintln!("talk-bench: the target closed an agent socket: {close:?}");
                return;
            }
            Some(Ok(frame)) => frame,
            Some(Err(error)) => {
                eprintln!("talk-bench: an agent socket failed: {error}");
                return;
            }
            None => {
                eprintln!("talk-bench: an agent socket ended");
                return;
            }
        };
        let Frame::Text(text) = &frame else { continue };
        if let Incoming::Reply(reply) = protocol.decode(text.as_str()) {
            if ws.send(Frame::text(reply)).await.is_err() {
                return;
            }
        } else if let Some(key) = protocol.delivery_key(text.as_str()) {
            routes.lock().expect("routes").deliver(key, frame);
        }
    }
}

async fn expect_delivery(protocol: &Protocol, agent: &mut AgentEnd) -> Result<()> {
    let wait = async {
        while let Some(frame) = agent.next().await {
            if let Frame::Text(text) = frame? {
                match protocol.decode(text.as_str()) {
                    Incoming::Delivered(_) => return Ok(()),
                    Incoming::Reply(reply) => agent.send(Frame::text(reply)).await?,
                    _ => {}
                }
            }
        }
        Err(anyhow!("the agent side closed"))
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, wait)
        .await
        .context("the first message was not delivered")?
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
    fn sockets_go_to_the_node_their_url_names() {
        let addr = |url: &str| server_addr(&url.parse().unwrap());
        assert_eq!(
            addr("ws://127.0.0.1:40123/v1/talk/socket").unwrap(),
            "127.0.0.1:40123".parse().unwrap()
        );
        assert_eq!(
            addr("ws://127.0.0.1:40124/socket.io/?EIO=4&transport=websocket").unwrap(),
            "127.0.0.1:40124".parse().unwrap()
        );
        assert_eq!(
            addr("ws://[::1]:8080/x").unwrap(),
            "[::1]:8080".parse().unwrap()
        );
        assert!(addr("ws://localhost:1/x").is_err(), "names, not resolved");
    }

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
    fn inbox_routes_hold_early_deliveries_until_the_pair_registers() {
        let mut routes = Routes::default();
        routes.deliver("c1".into(), Frame::text("early"));
        let (to, mut pair) = mpsc::unbounded_channel();
        routes.register("c1".into(), RouteTo::Pair(to));
        routes.deliver("c1".into(), Frame::text("later"));
        routes.register("c2".into(), RouteTo::Elsewhere);
        routes.deliver("c2".into(), Frame::text("not ours"));
        assert_eq!(pair.try_recv().unwrap(), Frame::text("early"));
        assert_eq!(pair.try_recv().unwrap(), Frame::text("later"));
        assert!(pair.try_recv().is_err(), "nothing else reached the pair");
        assert!(matches!(routes.0.get("c2"), Some(RouteTo::Elsewhere)));
    }

    #[test]
    fn socket_io_sends_carry_increasing_ack_ids() {
        let protocol = Protocol::SocketIo { url: String::new() };
        let mut route = Route::SocketIo {
            room: "pair-1".into(),
            next_ack_id: 1,
        };
        let sent = |body: &str, route: &mut Route| {
            let Frame::Text(text) = protocol.send_frame(route, body) else {
                panic!("a text frame")
            };
            let text = text.as_str().to_string();
            let payload = text.trim_start_matches(|c: char| c.is_ascii_digit());
            let event: serde_json::Value = serde_json::from_str(payload).unwrap();
            (text[..3].to_string(), event)
        };
        let (first, first_event) = sent("a", &mut route);
        let (second, second_event) = sent("b", &mut route);
        assert_eq!((first.as_str(), second.as_str()), ("421", "422"));
        assert_eq!(first_event[0], "send");
        assert_eq!(first_event[1]["body"], "a");
        assert_eq!(first_event[1]["room"], "pair-1");
        assert_eq!(second_event[1]["body"], "b");
        // Each message its own UUID.
        let id = |event: &serde_json::Value| {
            uuid::Uuid::parse_str(event[1]["id"].as_str().unwrap()).unwrap()
        };
        assert_ne!(id(&first_event), id(&second_event));
    }
}
