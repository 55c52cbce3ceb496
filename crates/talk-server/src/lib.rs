//! The Talk server: HTTP API, WebSocket transport and storage for the chat widget.

pub mod actions;
pub mod agents;
pub mod auto_reply;
pub mod bots;
pub mod calls;
pub mod captures;
pub mod cli;
pub mod client_ip;
pub mod config;
pub mod conversations;
pub mod db;
pub mod error;
pub mod group_commit;
pub mod history;
pub mod http;
pub mod ice;
pub mod outbound;
pub mod page_views;
pub mod people;
pub mod rate_limit;
pub mod realtime;
pub mod store;
pub mod tokens;
pub mod usage;
pub mod validate;
pub mod widget_settings;
pub mod workspaces;

pub use config::Settings;
pub use http::app;
pub use workspaces::{create_workspace, NewWorkspace};

use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    /// The storage, whichever engine the settings name.
    pub db: db::Db,
    /// Every message is appended through it (group commit).
    pub messages: group_commit::MessageWriter,
    /// `/app.js` and its lazy parts, as sent.
    pub loader_scripts: Arc<http::LoaderScripts>,
    /// Each workspace's launcher stylesheet, rendered and compressed once per settings.
    pub launcher_stylesheets: Arc<http::LauncherStylesheets>,
    pub hub: Arc<realtime::Hub>,
    /// Ends live connections when what they rest on goes (agent, signing key).
    pub endings: Arc<realtime::Endings>,
    pub limits: rate_limit::Limits,
    pub typing_limiter: Arc<realtime::TypingLimiter>,
    /// Who takes part in calls on this node, and the calls' rate limits.
    pub calls: Arc<realtime::Calls>,
    /// Wakes this node's webhook worker, and the bots' typing it shows.
    pub webhooks: Arc<bots::delivery::Webhooks>,
    /// Cancelled when the server shuts down: open sockets close with 1001.
    shutdown: CancellationToken,
    /// Upgraded sockets outlive their HTTP request, so serve() waits for them here.
    sockets: TaskTracker,
}

impl AppState {
    pub fn new(settings: Settings, db: db::Db) -> Self {
        let hub = Arc::new(realtime::Hub::new());
        let endings: Arc<realtime::Endings> = Arc::default();
        // Several nodes share the database: the bus carries what happens between them.
        if let Some(bus) = db.bus() {
            let sequencer = Arc::new(realtime::Sequencer::new(
                Arc::clone(&db),
                bus,
                Arc::downgrade(&hub),
                Arc::clone(&endings),
            ));
            hub.set_sequencer(Arc::clone(&sequencer));
            realtime::sequencer::start(sequencer);
        }
        AppState {
            limits: rate_limit::Limits::new(&settings),
            loader_scripts: Arc::new(http::LoaderScripts::load(&settings.widget_dir)),
            launcher_stylesheets: Arc::default(),
            settings: Arc::new(settings),
            messages: group_commit::MessageWriter::start(Arc::clone(&db)),
            db,
            hub,
            endings,
            typing_limiter: Arc::new(realtime::typing_limiter()),
            calls: Arc::default(),
            webhooks: Arc::default(),
            shutdown: CancellationToken::new(),
            sockets: TaskTracker::new(),
        }
    }

    /// The bus to the other nodes, if the store has one (PostgreSQL).
    pub fn bus(&self) -> Option<&Arc<dyn realtime::Bus>> {
        self.hub.sequencer().map(|sequencer| sequencer.bus())
    }

    /// Opens (creating and migrating) the database named by the settings.
    pub async fn connect(settings: Settings) -> Result<Self, store::StoreError> {
        let db = db::connect(&settings.database_url).await?;
        Ok(AppState::new(settings, db))
    }
}

/// Serves until `shutdown` resolves, then closes every open socket with `GOING_AWAY` and
/// waits for them before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.shutdown.clone();
    let sockets = state.sockets.clone();
    tokio::spawn(forget_idle_typists(
        Arc::clone(&state.typing_limiter),
        closing.clone(),
    ));
    tokio::spawn(end_sockets_of_retired_keys(state.clone(), closing.clone()));
    tokio::spawn(forget_idle_callers(
        Arc::clone(&state.calls),
        closing.clone(),
    ));
    let webhooks = tokio::spawn(bots::delivery::run(state.clone(), closing.clone()));
    tokio::spawn(usage::preview::run_clean_up(
        Arc::clone(&state.db),
        closing.clone(),
    ));
    if state.bus().is_none() {
        // One node: every call still ringing or running belonged to its previous run, whose
        // connections are gone. (With other nodes, theirs may be live.)
        if let Err(error) = realtime::calls::end_calls_of(&state, None).await {
            tracing::warn!(%error, "ending the calls of the previous run");
        }
    }
    let signal = async move {
        shutdown.await;
        closing.cancel();
    };
    // Chat frames are small and must not wait for Nagle's algorithm to fill a segment
    // (a delayed ACK on the peer stalls the next frame up to 40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
    });
    // The peer address feeds the per-IP rate limits.
    let service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(signal)
        .await?;
    sockets.close();
    sockets.wait().await;
    // It gives up its leases before the next run starts.
    if let Err(error) = webhooks.await {
        tracing::error!(%error, "the webhook worker");
    }
    Ok(())
}

/// The typing limiter keeps a slot per session that typed; drop the ones idle long enough
/// to be indistinguishable from new.
async fn forget_idle_typists(limiter: Arc<realtime::TypingLimiter>, stop: CancellationToken) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every_minute.tick() => limiter.retain_recent(),
        }
    }
}

/// The calls' rate limiters keep a slot per session that called or signalled.
async fn forget_idle_callers(calls: Arc<realtime::Calls>, stop: CancellationToken) {
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every_minute.tick() => calls.forget_idle(),
        }
    }
}

/// Keys are retired by the CLI, in another process, so the server looks: every heartbeat it
/// asks which keys its live connections rest on are retired, and ends those connections. One
/// query for all connections, not one per socket.
async fn end_sockets_of_retired_keys(state: AppState, stop: CancellationToken) {
    let every = std::time::Duration::from_secs(state.settings.heartbeat_secs.max(1));
    let mut beat = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = beat.tick() => {}
        }
        let kids = state.endings.signing_keys();
        if kids.is_empty() {
            continue;
        }
        match tokens::retired_among(&state.db, &kids).await {
            Ok(retired) => {
                for kid in retired {
                    let end = realtime::ending::End {
                        code: talk_protocol::close_code::KEY_RETIRED,
                        reason: talk_protocol::close_reason::KEY_RETIRED,
                    };
                    state
                        .endings
                        .end(&realtime::ending::Credential::SigningKey(kid), end);
                }
            }
            // Looked at again on the next beat.
            Err(error) => tracing::error!(%error, "retired keys check"),
        }
    }
}
