//! What one idle widget socket holds, measured on the real types: the task's future with
//! `size_of`, and the heap each per-socket piece allocates with a counting allocator (bytes
//! asked of malloc on this thread, so parallel tests don't blur it). `cargo test -p
//! talk-server --lib footprint -- --nocapture` prints the table docs/benchmarks.md shows
//! ("Memory per idle socket").

use super::*;
use crate::conversations::Viewer;
use crate::realtime::ending::Credential;
use crate::realtime::hub::{Hub, Subscriber, Topic};
use crate::realtime::Endings;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::size_of;

/// The system allocator, counting the bytes live on the current thread.
struct Counting;

thread_local! {
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // During thread teardown the counter may be gone: nothing to measure then.
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes `make` leaves allocated (its value kept alive until measured).
fn heap_of<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE_BYTES.with(Cell::get);
    let value = make();
    let after = LIVE_BYTES.with(Cell::get);
    (value, usize::try_from(after - before).unwrap_or(0))
}

/// The size of the future an async fn returns, without calling it.
macro_rules! future_size {
    ($function:expr; $($argument:ty),*) => {{
        fn size<F: FnOnce($($argument),*) -> Fut, Fut>(_: &F) -> usize {
            size_of::<Fut>()
        }
        size(&$function)
    }};
}

/// Ids as long as the server makes them: `db::new_id` (24 hex), a visitor id (32 hex).
fn widget_claims() -> SocketClaims {
    SocketClaims {
        typ: tokens::SOCKET_TYP.to_string(),
        ws: crate::db::new_id(),
        sid: crate::db::new_id(),
        vid: crate::db::random_hex(16),
        pid: None,
        ver: false,
        pre: false,
        iat: 0,
        exp: 0,
        kid: crate::db::new_id(),
    }
}

/// Sockets a shared table's growth is averaged over.
const SOCKETS: usize = 10_000;

fn per_socket(bytes: usize) -> usize {
    bytes / SOCKETS
}

#[test]
fn one_idle_socket_measured() {
    let task = future_size!(run; WebSocket, AppState, Option<String>);
    let session_task =
        future_size!(run_session; &'static mut WebSocket, Session, Outgoing, CancellationToken);
    let serving = future_size!(serve;
        &'static mut WebSocket, &'static mut Session, &'static mut Outgoing,
        &'static mut Ends, Duration, &'static CancellationToken,
        &'static CancellationToken);

    // The session's own heap: its claims, the viewer and the key made from them, the
    // topics it is subscribed to (an unverified visitor with no conversation: one).
    let (claims, claims_heap) = heap_of(widget_claims);
    let (viewer, viewer_heap) = heap_of(|| Viewer {
        workspace_id: claims.ws.clone(),
        visitor_id: claims.vid.clone(),
        verified_person_id: None,
    });
    let (_session_key, key_heap) = heap_of(|| claims.sid.clone());
    let visitor_topic = Topic::Visitor {
        workspace_id: viewer.workspace_id.clone(),
        visitor_id: viewer.visitor_id.clone(),
    };
    let (_subscribed, subscribed_heap) = heap_of(|| vec![visitor_topic.clone()]);

    // Its end of the hub: the queue, the too-slow signal, the subscriber.
    let ((queue, _outgoing), queue_heap) = heap_of(hub::queue);
    let (too_slow, token_heap) = heap_of(CancellationToken::new);
    let (subscriber, subscriber_heap) =
        heap_of(|| Subscriber::new(0, &claims.sid, queue, too_slow));

    // The hub's entry (every visitor has a topic of its own) and the registry's (all under
    // the workspace's one signing key), averaged over many sockets as the tables grow.
    let hub = Hub::new();
    let endings = Endings::default();
    let credential = Credential::SigningKey(claims.kid.clone());
    let enders: Vec<_> = (0..SOCKETS).map(|_| ending::ender()).collect();
    let topics: Vec<Topic> = (0..SOCKETS)
        .map(|_| Topic::Visitor {
            workspace_id: claims.ws.clone(),
            visitor_id: crate::db::random_hex(16),
        })
        .collect();
    let ((), hub_heap) = heap_of(|| {
        for topic in &topics {
            hub.subscribe(topic, &subscriber);
        }
    });
    let ((), endings_heap) = heap_of(|| {
        for (id, (ender, _)) in (0..).zip(&enders) {
            endings.register(&credential, id, ender);
        }
    });
    let ((_ender, _ends), ender_heap) = heap_of(ending::ender);

    // The heartbeat's interval boxes its timer.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (_interval, interval_heap) = heap_of(|| {
        let _entered = runtime.enter();
        tokio::time::interval(Duration::from_secs(30))
    });

    let rows = [
        ("future: the socket's task (`run`, inline)", task),
        ("  of which `run_session`", session_task),
        ("  of which `serve` (the idle loop)", serving),
        (
            "WebSocket (axum + tungstenite, inline in the future)",
            size_of::<WebSocket>(),
        ),
        ("Session (inline in the future)", size_of::<Session>()),
        ("tungstenite read buffer (heap)", READ_BUFFER_BYTES),
        ("claims (heap)", claims_heap),
        ("viewer (heap)", viewer_heap),
        ("session key (heap)", key_heap),
        ("subscribed topics (heap)", subscribed_heap),
        ("outgoing queue (heap)", queue_heap),
        ("too-slow token (heap)", token_heap),
        ("subscriber (heap)", subscriber_heap),
        (
            "hub entry: its topic's key and map (heap)",
            per_socket(hub_heap),
        ),
        ("ender (heap)", ender_heap),
        ("endings entry (heap)", per_socket(endings_heap)),
        ("heartbeat interval (heap)", interval_heap),
    ];
    for (what, bytes) in rows {
        println!("{what:<56} {bytes:>6} B");
    }
    let heap: usize = rows
        .iter()
        .filter(|(what, _)| what.ends_with("(heap)"))
        .map(|row| row.1)
        .sum();
    println!("{:<56} {heap:>6} B", "heap pieces above, added up");

    // An idle socket's future keeps no room for steps it isn't taking (they are boxed) and
    // no second copy of its socket: 2.2 KB now (release and debug alike), 4.2 KB before.
    // This catches a big step inlined into it again.
    assert!(task <= 2560, "the idle socket's future is {task} B");
}
