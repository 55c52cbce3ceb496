//! Blocked WebSockets (issue #13): some corporate proxies and antivirus products refuse
//! WebSocket upgrades, or let them through and then pass no frame. The widget must carry the
//! conversation over the server's HTTP + SSE transport instead, and go back to the socket
//! when it works again, without losing or duplicating a message.
//!
//! A real proxy on loopback stands between the browser and the real server (the server's
//! public URL is the proxy's, so the session's socket and messages URLs point through it). It
//! forwards HTTP byte for byte, one request per connection, and answers `403` to every
//! WebSocket upgrade while upgrades are refused; it counts what went through, which is how
//! the tests see which transport the widget uses (nothing the visitor's page controls).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use talk_e2e::{eventually, page_with_snippet, HostSite, TestServer, Widget, AUTO_REPLY};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const REFUSE: u8 = 0;
const ALLOW: u8 = 1;
/// Let the upgrade through, then drop every frame the browser sends (its `auth` included).
const SWALLOW: u8 = 2;

#[derive(Default)]
struct Counts {
    upgrades: AtomicU8,
    refused: AtomicUsize,
    sockets_opened: AtomicUsize,
    sockets_open: AtomicIsize,
    streams_open: AtomicIsize,
    posts: AtomicUsize,
}

/// Counts a connection as open while it lives.
struct Open(Arc<Counts>, fn(&Counts) -> &AtomicIsize);

impl Open {
    fn new(counts: &Arc<Counts>, gauge: fn(&Counts) -> &AtomicIsize) -> Open {
        gauge(counts).fetch_add(1, Ordering::SeqCst);
        Open(counts.clone(), gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        (self.1)(&self.0).fetch_sub(1, Ordering::SeqCst);
    }
}

struct Proxy {
    url: String,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn bind() -> (TcpListener, String) {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        (listener, url)
    }

    fn start(listener: TcpListener, url: String, upstream: &str, upgrades: u8) -> Proxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("server address");
        let counts = Arc::new(Counts::default());
        counts.upgrades.store(upgrades, Ordering::SeqCst);
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let counts = shared.clone();
                tokio::spawn(async move {
                    let _ = forward(client, upstream, counts).await;
                });
            }
        });
        Proxy { url, counts, task }
    }

    fn set_upgrades(&self, upgrades: u8) {
        self.counts.upgrades.store(upgrades, Ordering::SeqCst);
    }

    fn refused(&self) -> usize {
        self.counts.refused.load(Ordering::SeqCst)
    }

    fn sockets_opened(&self) -> usize {
        self.counts.sockets_opened.load(Ordering::SeqCst)
    }

    fn sockets_open(&self) -> isize {
        self.counts.sockets_open.load(Ordering::SeqCst)
    }

    fn streams_open(&self) -> isize {
        self.counts.streams_open.load(Ordering::SeqCst)
    }

    fn posts(&self) -> usize {
        self.counts.posts.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One connection: its first request decides. A WebSocket upgrade is refused, swallowed or
/// tunnelled; any other request goes upstream with `Connection: close`, so the next request
/// comes on a connection of its own and is looked at too.
async fn forward(
    mut client: TcpStream,
    upstream: SocketAddr,
    counts: Arc<Counts>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        let read = client.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let rest = buffer[head_end..].to_vec();
    let request_line = head.lines().next().unwrap_or_default().to_string();
    if std::env::var_os("FALLBACK_DEBUG").is_some() {
        eprintln!("proxy: {request_line}");
    }
    let websocket = head.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        line.starts_with("upgrade:") && line.contains("websocket")
    });

    if websocket {
        let mode = counts.upgrades.load(Ordering::SeqCst);
        if mode == REFUSE {
            counts.refused.fetch_add(1, Ordering::SeqCst);
            client
                .write_all(
                    b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await?;
            return client.shutdown().await;
        }
        let mut server = TcpStream::connect(upstream).await?;
        server.write_all(&buffer).await?;
        counts.sockets_opened.fetch_add(1, Ordering::SeqCst);
        let _open = Open::new(&counts, |counts| &counts.sockets_open);
        if mode == SWALLOW {
            let (mut server_read, _server_write) = server.split();
            let (mut client_read, mut client_write) = client.split();
            let mut sink = [0u8; 8192];
            let swallow = async {
                while client_read.read(&mut sink).await? > 0 {}
                Ok::<(), std::io::Error>(())
            };
            tokio::select! {
                _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
                _ = swallow => {}
            }
            return Ok(());
        }
        return pipe(client, server).await;
    }

    let _stream = request_line
        .starts_with("GET /v1/talk/messages/stream ")
        .then(|| Open::new(&counts, |counts| &counts.streams_open));
    if request_line.starts_with("POST /v1/talk/messages ") {
        counts.posts.fetch_add(1, Ordering::SeqCst);
    }
    let mut rewritten: String = head
        .trim_end()
        .lines()
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            !line.starts_with("connection:") && !line.starts_with("keep-alive:")
        })
        .map(|line| format!("{line}\r\n"))
        .collect();
    rewritten.push_str("connection: close\r\n\r\n");
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(rewritten.as_bytes()).await?;
    server.write_all(&rest).await?;
    pipe(client, server).await
}

/// Copies both ways until either side ends: browsers never half-close, so the client's end
/// (an aborted event stream, a closed socket) is the connection's.
async fn pipe(mut client: TcpStream, mut server: TcpStream) -> std::io::Result<()> {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    tokio::select! {
        _ = tokio::io::copy(&mut client_read, &mut server_write) => {}
        _ = tokio::io::copy(&mut server_read, &mut client_write) => {}
    }
    Ok(())
}

/// A shop page on its own origin whose snippet points at the proxy, and a server that names
/// the proxy as its public URL.
async fn behind_a_proxy(upgrades: u8) -> (TestServer, Proxy, HostSite) {
    let (listener, proxy_url) = Proxy::bind().await;
    let public_url = proxy_url.clone();
    let server = TestServer::start_with(move |settings| settings.public_url = public_url).await;
    let proxy = Proxy::start(listener, proxy_url, &server.url, upgrades);
    let page = page_with_snippet(&server.capture_key, &proxy.url, "{}", "");
    let site = HostSite::start(vec![("/", page)]).await;
    (server, proxy, site)
}

async fn identify(widget: &Widget) {
    widget.start_chat().await;
    widget.type_into("talk-email", "ada@example.com").await;
    widget.click("talk-identify-submit").await;
    widget.wait_for("talk-composer").await;
}

async fn stored(server: &TestServer, conversation_id: &str) -> Vec<(i64, String)> {
    server
        .messages(conversation_id)
        .await
        .into_iter()
        .map(|message| (message.seq, message.body))
        .collect()
}

fn numbered(bodies: &[&str]) -> Vec<(i64, String)> {
    bodies
        .iter()
        .enumerate()
        .map(|(index, body)| (index as i64 + 1, body.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_websockets_refused_a_whole_conversation_goes_over_http_and_sse_then_back() {
    let (server, proxy, site) = behind_a_proxy(REFUSE).await;
    let page = format!("{}/", site.url);
    talk_e2e::with_browser_using("fallback", server, |server, browser| async move {
        browser.goto(&page).await;
        let widget = browser.widget().await;
        identify(&widget).await;

        // Every upgrade refused: the session runs over HTTP + SSE.
        widget.send("one").await;
        widget
            .wait_for_messages(&[("visitor", "one"), ("bot", AUTO_REPLY)])
            .await;
        assert!(proxy.refused() >= 3, "refused {} upgrades", proxy.refused());
        assert_eq!(proxy.sockets_opened(), 0);
        assert_eq!(proxy.streams_open(), 1, "one event stream");
        assert!(proxy.posts() >= 1, "the message went by POST");

        // The agent answers through the real API, straight to the server: live on the stream.
        let conversation = server.conversations().await.remove(0);
        server.reply(&conversation.id, "two").await;
        widget
            .wait_for_messages(&[("visitor", "one"), ("bot", AUTO_REPLY), ("agent", "two")])
            .await;
        widget.send("three").await;
        widget.send("four").await;
        let so_far = [
            ("visitor", "one"),
            ("bot", AUTO_REPLY),
            ("agent", "two"),
            ("visitor", "three"),
            ("visitor", "four"),
        ];
        widget.wait_for_messages(&so_far).await;
        assert_eq!(
            stored(&server, &conversation.id).await,
            numbered(&["one", AUTO_REPLY, "two", "three", "four"]),
            "each stored once, in order"
        );

        // Upgrades pass again: a probe completes `auth` and the socket takes over.
        proxy.set_upgrades(ALLOW);
        eventually(
            "the widget back on the WebSocket, its event stream closed",
            Duration::from_secs(75),
            || async { (proxy.sockets_open() == 1 && proxy.streams_open() == 0).then_some(()) },
        )
        .await;
        let posts = proxy.posts();
        server.reply(&conversation.id, "five").await;
        widget.send("six").await;
        widget
            .wait_for_messages(&[
                ("visitor", "one"),
                ("bot", AUTO_REPLY),
                ("agent", "two"),
                ("visitor", "three"),
                ("visitor", "four"),
                ("agent", "five"),
                ("visitor", "six"),
            ])
            .await;
        assert_eq!(
            stored(&server, &conversation.id).await,
            numbered(&["one", AUTO_REPLY, "two", "three", "four", "five", "six"]),
            "every message stored exactly once, in order, across both switches"
        );
        assert_eq!(
            proxy.posts(),
            posts,
            "nothing over HTTP once back on the socket"
        );
        assert_eq!(proxy.sockets_open(), 1);
        assert_eq!(server.conversations().await.len(), 1);
        server.stop().await;
    })
    .await;
    drop(site);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_connects_but_never_completes_auth_falls_back_too() {
    let (server, proxy, site) = behind_a_proxy(SWALLOW).await;
    let page = format!("{}/", site.url);
    talk_e2e::with_browser_using("fallback-silent", server, |server, browser| async move {
        browser.goto(&page).await;
        let widget = browser.widget().await;
        identify(&widget).await;
        widget.send("hello?").await;
        // Three attempts that each open and then hear nothing, then HTTP + SSE.
        eventually(
            "the message sent over HTTP",
            Duration::from_secs(60),
            || async {
                let shown = widget.messages().await;
                (shown.len() == 2 && shown.iter().all(|(_, _, state)| state == "sent"))
                    .then_some(())
            },
        )
        .await;
        widget
            .wait_for_messages(&[("visitor", "hello?"), ("bot", AUTO_REPLY)])
            .await;
        assert!(
            proxy.sockets_opened() >= 3,
            "{} sockets",
            proxy.sockets_opened()
        );
        assert_eq!(proxy.streams_open(), 1);
        let conversation = server.conversations().await.remove(0);
        assert_eq!(
            stored(&server, &conversation.id).await,
            numbered(&["hello?", AUTO_REPLY])
        );
        server.stop().await;
    })
    .await;
    drop(site);
}
