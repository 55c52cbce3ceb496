//! Server-sent events read with `fetch`, for the HTTP + SSE transport: `EventSource` can't
//! send headers, and the session token goes in `Authorization`, never in the URL.
//!
//! [`SseParser`] is the WHATWG event-stream format as a pure function of the bytes received
//! (native tests below); [`open`] feeds it from a `fetch` response's `ReadableStream`.

use std::cell::Cell;
use std::rc::Rc;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:` (`message` when the stream names none).
    pub event: String,
    /// The `data:` lines, joined by `\n`.
    pub data: String,
    /// The stream's last event id when this event was dispatched.
    pub id: Option<String>,
}

/// The event-stream parser. Chunks may split anywhere, even inside a line ending or a UTF-8
/// character: lines are cut on bytes (their endings are ASCII) and decoded whole. A line that
/// is not UTF-8 is ignored rather than decoded with replacement characters, which would bring
/// a lossy decoder into the WASM for a case the server never produces.
#[derive(Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The last chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    /// Past the optional byte order mark.
    started: bool,
    event: String,
    data: String,
    has_data: bool,
    last_event_id: Option<String>,
}

impl SseParser {
    /// Takes the next bytes of the stream; returns the events they complete, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            if byte == b'\n' || byte == b'\r' {
                self.after_cr = byte == b'\r';
                let line = std::mem::take(&mut self.line);
                self.take_line(&line, &mut events);
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    /// The id a reconnect would send as `Last-Event-ID`.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    fn take_line(&mut self, line: &[u8], events: &mut Vec<SseEvent>) {
        let mut line = line;
        if !self.started {
            self.started = true;
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            if std::mem::take(&mut self.has_data) {
                events.push(SseEvent {
                    event: if event.is_empty() {
                        "message".into()
                    } else {
                        event
                    },
                    data: std::mem::take(&mut self.data),
                    id: self.last_event_id.clone(),
                });
            }
            return;
        }
        // The server writes UTF-8; a line that isn't is dropped (no lossy decoder in the WASM).
        let Ok(line) = std::str::from_utf8(line) else {
            return;
        };
        if line.starts_with(':') {
            return; // a comment (keep-alive)
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = value.into(),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.has_data = true;
                self.data.push_str(value);
            }
            "id" if !value.contains('\0') => self.last_event_id = Some(value.into()),
            _ => {} // `retry` and unknown fields: the app paces its own reconnects
        }
    }
}

/// Why a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The server answered with an error status (its error code, or `http_error`).
    Refused { status: u16, code: String },
    /// The connection failed or ended (network, server gone, stream closed).
    Dropped,
}

/// An open stream; dropping it aborts the request and silences its callbacks.
pub struct EventStream {
    abort: Option<web_sys::AbortController>,
    live: Rc<Cell<bool>>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.live.set(false);
        if let Some(abort) = &self.abort {
            abort.abort();
        }
    }
}

/// `GET url` with the token in `Authorization: Bearer`; each event to `on_event`, then how it
/// ended to `on_end`, unless the returned handle was dropped first.
pub fn open(
    url: &str,
    bearer: &str,
    on_event: Box<dyn Fn(SseEvent)>,
    on_end: Box<dyn FnOnce(End)>,
) -> EventStream {
    let abort = web_sys::AbortController::new().ok();
    let live = Rc::new(Cell::new(true));
    let stream = EventStream {
        abort: abort.clone(),
        live: live.clone(),
    };
    let url = url.to_string();
    let authorization = crate::text::concat(&["Bearer ", bearer]);
    wasm_bindgen_futures::spawn_local(async move {
        let signal = abort.as_ref().map(|abort| abort.signal());
        let end = read(&url, &authorization, signal.as_ref(), &live, &*on_event).await;
        if live.get() {
            on_end(end);
        }
    });
    stream
}

async fn read(
    url: &str,
    authorization: &str,
    signal: Option<&web_sys::AbortSignal>,
    live: &Cell<bool>,
    on_event: &dyn Fn(SseEvent),
) -> End {
    use gloo_net::http::{Method, RequestBuilder};
    use wasm_bindgen::JsCast;
    let request = RequestBuilder::new(url)
        .method(Method::GET)
        .header("Accept", "text/event-stream")
        .header("Authorization", authorization)
        .abort_signal(signal)
        .build();
    let Ok(request) = request else {
        return End::Dropped;
    };
    let Ok(response) = request.send().await else {
        return End::Dropped;
    };
    if !response.ok() {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let code = crate::http::error_body(&text)
            .map(|(code, _)| code)
            .unwrap_or_else(|| "http_error".into());
        return End::Refused { status, code };
    }
    let Some(body) = response.body() else {
        return End::Dropped;
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut parser = SseParser::default();
    loop {
        let Ok(chunk) = wasm_bindgen_futures::JsFuture::from(reader.read()).await else {
            return End::Dropped;
        };
        let get = |key: &str| js_sys::Reflect::get(&chunk, &key.into()).ok();
        if get("done").and_then(|done| done.as_bool()) != Some(false) {
            return End::Dropped;
        }
        let Some(value) = get("value") else {
            return End::Dropped;
        };
        let bytes = js_sys::Uint8Array::new(&value).to_vec();
        for event in parser.push(&bytes) {
            if !live.get() {
                return End::Dropped;
            }
            on_event(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: "message".into(),
            data: data.into(),
            id: id.map(str::to_string),
        }
    }

    #[test]
    fn events_end_at_a_blank_line_and_carry_the_last_id() {
        let mut parser = SseParser::default();
        let events = parser.push(b"id: v1;a:1\ndata: {\"type\":\"ready\"}\n\ndata: two\n\n");
        assert_eq!(
            events,
            [
                event("{\"type\":\"ready\"}", Some("v1;a:1")),
                // The id stays the stream's until another one comes.
                event("two", Some("v1;a:1")),
            ]
        );
        assert_eq!(parser.last_event_id(), Some("v1;a:1"));
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_events() {
        let stream = "retry: 10\r\n: keep-alive\r\n\r\nevent: x\rid: 7\rdata:é\u{1F600}\rdata:  two\r\rdata: last\n\n"
            .as_bytes();
        let whole = SseParser::default().push(stream);
        assert_eq!(
            whole,
            [
                SseEvent {
                    event: "x".into(),
                    data: "é\u{1F600}\n two".into(),
                    id: Some("7".into())
                },
                event("last", Some("7")),
            ]
        );
        // Every split point, including inside "\r\n" and inside multi-byte characters.
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&stream[..split]);
            events.extend(parser.push(&stream[split..]));
            assert_eq!(events, whole, "split at {split}");
        }
        // And one byte at a time.
        let mut parser = SseParser::default();
        let events: Vec<SseEvent> = stream.iter().flat_map(|b| parser.push(&[*b])).collect();
        assert_eq!(events, whole);
    }

    #[test]
    fn comments_empty_blocks_bom_and_odd_fields() {
        let mut parser = SseParser::default();
        // A byte order mark, a comment-only block, an event with no data: nothing dispatched.
        assert!(parser
            .push(b"\xEF\xBB\xBF: hello\n\nevent: nothing\n\nid\n\n")
            .is_empty());
        // `id` with no value sets an empty id; a NUL in an id is ignored; `data` alone is an
        // empty line of data; unknown fields are ignored.
        assert_eq!(parser.last_event_id(), Some(""));
        let events = parser.push(b"id: a\0b\nfoo: bar\ndata\ndata\n\n");
        assert_eq!(events, [event("\n", Some(""))]);
        // A line that is not UTF-8 is skipped, the rest of the event kept.
        assert_eq!(
            parser.push(b"data: \xFF\xFE\ndata: ok\n\n"),
            [event("ok", Some(""))]
        );
        // An unfinished event is not dispatched.
        assert!(parser.push(b"data: half").is_empty());
        assert_eq!(parser.push(b"\n\n"), [event("half", Some(""))]);
    }
}
