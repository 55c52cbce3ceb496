// The capture widget's message (seed 000's outbound conversations): a bubble by the launcher,
// or an opened card, with the message from its sender, a reply field and a dismiss button.
// Fetched by embed.js or frame.js only when this page view's session answer offers a capture
// (the server picks at most one; pages where none matches never load this). Served at
// /widget/capture-<hash>.js.
//
// The reply starts the conversation (`capture_reply` on the session's HTTP transport, its
// token in the Authorization header): the server stores the capture's message first, then the
// reply, and acks the reply; the messenger then opens on that conversation. An unidentified
// visitor replies without an email, and the messenger asks for it right after. Sent under one
// client_msg_id and retried until the server answers, so a flaky network neither loses nor
// doubles the reply; it stays in the field until then.

const TEXT = {
  en: {
    from: 'Message from %s',
    reply: 'Write a reply…',
    send: 'Send',
    dismiss: 'Dismiss',
    sending: 'Sending…',
    retrying: 'No connection. Retrying…',
    refused: "Couldn't send your reply.",
  },
  de: {
    from: 'Nachricht von %s',
    reply: 'Antwort schreiben…',
    send: 'Senden',
    dismiss: 'Schließen',
    sending: 'Wird gesendet…',
    retrying: 'Keine Verbindung. Neuer Versuch…',
    refused: 'Deine Antwort konnte nicht gesendet werden.',
  },
  ar: {
    from: 'رسالة من %s',
    reply: 'اكتب ردًا…',
    send: 'إرسال',
    dismiss: 'إغلاق',
    sending: 'جارٍ الإرسال…',
    retrying: 'لا يوجد اتصال. جارٍ إعادة المحاولة…',
    refused: 'تعذّر إرسال ردك.',
  },
};

// One constructed sheet (no inline styles: the page's CSP may forbid them), in the messenger's
// shadow root, so it uses the workspace's colours, margins and font (the widget's custom
// properties) and sits where the panel opens, above the launcher.
const CSS = `
.tk-card{position:fixed;z-index:var(--talk-z,2147483000);right:var(--talk-offset-x,20px);bottom:calc(var(--talk-offset-y,20px) + 72px);box-sizing:border-box;width:300px;max-width:calc(100vw - 32px);padding:14px 16px;border-radius:var(--talk-radius,16px);background:var(--talk-surface,#fff);color:var(--talk-text,#1f2330);font:14px/1.45 var(--talk-font,system-ui,sans-serif);box-shadow:0 8px 28px rgb(0 0 0/.22)}
.tk-left{right:auto;left:var(--talk-offset-x,20px)}
.tk-card[hidden],.tk-card [hidden]{display:none!important}
.tk-head{display:flex;align-items:center;gap:8px;margin:0 0 6px;padding-inline-end:28px;font-weight:600}
.tk-photo{width:28px;height:28px;border-radius:50%;object-fit:cover}
.tk-text{margin:0;white-space:pre-wrap;overflow-wrap:anywhere;cursor:pointer}
.tk-bubble .tk-text{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden}
.tk-close{position:absolute;top:8px;inset-inline-end:8px;width:28px;height:28px;border:0;border-radius:50%;background:transparent;color:var(--talk-muted,#5b6172);font:20px/1 system-ui,sans-serif;cursor:pointer}
.tk-form{display:flex;gap:8px;margin-top:10px}
.tk-input{flex:1;min-width:0;box-sizing:border-box;padding:8px 10px;border:1px solid var(--talk-muted,#5b6172);border-radius:10px;background:var(--talk-surface,#fff);color:inherit;font:inherit;resize:none}
.tk-send{padding:8px 14px;border:0;border-radius:10px;background:var(--talk-brand,#4f46e5);color:var(--talk-on-brand,#fff);font:inherit;font-weight:600;cursor:pointer}
.tk-send:disabled{opacity:.6;cursor:default}
.tk-status:empty{display:none}
.tk-status{margin:6px 0 0;color:var(--talk-muted,#5b6172);font-size:13px}
.tk-error{color:var(--talk-danger,#b42318)}
.tk-close:focus-visible,.tk-send:focus-visible,.tk-input:focus-visible,.tk-text:focus-visible{outline:3px solid var(--talk-brand,#4f46e5);outline-offset:2px}
@media (forced-colors:active){.tk-card{border:1px solid CanvasText}}
`;

function make(tag, className, testid, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Shows `answer.capture` (the first session answer of this page view) after its delay.
 * `open(conversationId)` opens the messenger on the conversation the reply started; `grow(on)`
 * makes room for the card (frame mode: the frame is launcher-sized). Answers `{session}`, which
 * takes each later session answer (its renewed token).
 */
export function attach({ answer, open, grow = () => {} }) {
  const offer = answer.capture;
  let session = answer;
  const root = document.querySelector('ap3c-talk')?.shadowRoot || document.body;
  const code = String(root.querySelector('[lang]')?.getAttribute('lang') || navigator.language)
    .toLowerCase()
    .split(/[-_]/)[0];
  const lang = TEXT[code] ? code : 'en';
  const t = TEXT[lang];
  const api = (path) => new URL(path, session.messages_url).href;
  const post = (url, body, keepalive) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session.session_token}` },
      body,
      keepalive,
    });
  // Counted by the server; a lost count is no harm, so no retry.
  const report = (kind) =>
    post(api(`/v1/talk/captures/${encodeURIComponent(offer.id)}/${kind}`), '{}', true).catch(() => {});

  const opened = offer.display === 'opened';
  const card = make('section', `tk-card ${opened ? '' : 'tk-bubble'}`, 'capture-card', {
    'aria-label': t.from.replace('%s', offer.sender.name),
    lang,
    dir: lang === 'ar' ? 'rtl' : 'ltr',
  });
  card.hidden = true;
  const head = make('p', 'tk-head', 'capture-sender');
  if (offer.sender.photo_url) {
    // An address the admin chose; only ever an image source, never markup.
    head.append(make('img', 'tk-photo', '', { src: offer.sender.photo_url, alt: '' }));
  }
  head.append(offer.sender.name);
  // Text, never HTML: the server filled the merge tags in with what visitors typed.
  const text = make('p', 'tk-text', 'capture-message', { 'aria-live': 'polite' });
  text.textContent = offer.message;
  const close = make('button', 'tk-close', 'capture-dismiss', { type: 'button', 'aria-label': t.dismiss });
  close.textContent = '×';
  const form = make('form', 'tk-form', 'capture-form');
  const input = make('textarea', 'tk-input', 'capture-reply', { rows: '1', 'aria-label': t.reply, placeholder: t.reply, maxlength: '4000' });
  const send = make('button', 'tk-send', 'capture-send', { type: 'submit' });
  send.textContent = t.send;
  const status = make('p', 'tk-status', 'capture-status', { role: 'status' });
  form.append(input, send);
  form.hidden = !opened;
  card.append(head, text, close, form, status);

  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    const host = root instanceof ShadowRoot ? root : document;
    host.adoptedStyleSheets = [...host.adoptedStyleSheets, sheet];
  } catch (error) {
    console.warn('[talk] the capture message has no style:', error);
  }
  root.append(card);

  let gone = false;
  let shown = false;
  // The messenger's own panel opens where the card is: the card steps aside meanwhile.
  const panelOpen = () => Boolean(root.querySelector('.talk-panel'));
  const place = () => {
    if (gone || !shown) return;
    card.classList.toggle('tk-left', Boolean(root.querySelector('.talk-left')));
    card.hidden = panelOpen();
  };
  new MutationObserver(place).observe(root, { childList: true, subtree: true });

  function remove() {
    gone = true;
    card.remove();
    grow(false);
  }

  // A bubble opens into the card (click, or Enter / Space on the focused message).
  const expand = () => {
    card.classList.remove('tk-bubble');
    text.removeAttribute('role');
    text.removeAttribute('tabindex');
    form.hidden = false;
    input.focus();
  };
  if (!opened) {
    text.setAttribute('role', 'button');
    text.tabIndex = 0;
    text.onclick = expand;
    text.onkeydown = (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        expand();
      }
    };
  }
  close.onclick = () => {
    report('dismissed');
    remove();
  };
  input.onkeydown = (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  };

  let sending = false;
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = input.value.trim();
    if (!body || sending) return;
    sending = true;
    send.disabled = input.readOnly = true;
    status.className = 'tk-status';
    status.textContent = t.sending;
    const id = crypto.randomUUID();
    const message = JSON.stringify({ type: 'capture_reply', capture_id: offer.id, client_msg_id: id, body });
    // The same id every time: the server stores the reply once however often it arrives.
    for (let delay = 1000; ; delay = Math.min(delay * 2, 30000)) {
      let answer = null;
      try {
        answer = await post(session.messages_url, message, false);
      } catch {
        // offline: try again
      }
      if (answer?.ok) {
        const events = await answer.json().catch(() => []);
        const ack = events.find?.((e) => e.type === 'ack' && e.client_msg_id === id);
        if (ack) {
          remove();
          open(ack.message.conversation_id);
          return;
        }
      } else if (answer && answer.status !== 429 && answer.status < 500) {
        const refusal = await answer.json().catch(() => null);
        console.warn('[talk] the capture reply was refused:', refusal?.error?.code);
        status.className = 'tk-status tk-error';
        status.textContent = refusal?.error?.message || t.refused;
        sending = send.disabled = input.readOnly = false;
        return;
      }
      status.textContent = t.retrying;
      await wait(delay * (0.5 + Math.random() / 2));
    }
  };

  // Seconds on the page: counted from the page's start, not from this module's.
  wait(Math.max(0, offer.delay_secs * 1000 - performance.now())).then(() => {
    if (gone) return;
    shown = true;
    grow(true);
    place();
    report('shown');
  });

  return {
    session(next) {
      session = next;
    },
  };
}
