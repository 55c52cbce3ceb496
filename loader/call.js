// Voice calls and the visitor's screen sharing over WebRTC, for both ends: the widget (side
// "visitor", fetched by embed.js or frame.js when a call needs it) and the inbox (side "agent").
// The server relays the signalling and keeps the call record (docs/architecture.md, "Voice
// calls"); this does the media and draws the call. Served at /widget/call-<hash>.js.
//
// Offers never cross: the visitor makes the peer connection and every offer (the first once the
// call is accepted, another whenever its screen sharing starts or stops), the agent only
// answers. Only the tab that started or accepted a call takes part in it; another tab that sees
// the same call just stops ringing.

const TEXT = {
  en: {
    title: 'Voice call',
    calling: 'Calling…',
    incoming: 'Incoming call',
    from: 'Incoming call from %s',
    connecting: 'Connecting…',
    accept: 'Accept',
    decline: 'Decline',
    mute: 'Mute',
    cancel: 'Cancel',
    hangup: 'Hang up',
    share: 'Share screen',
    unshare: 'Stop sharing',
    good: 'Good connection',
    weak: 'Weak connection',
    poor: 'Poor connection',
    completed: 'Call ended',
    missed: 'Missed call',
    declined: 'Call declined',
    failed: 'Call failed',
    lost: 'The connection was lost.',
    unreachable: "Couldn't connect the call. A network or firewall may be blocking it.",
    denied: 'Microphone access was refused. Allow it in your browser to call.',
    nomic: 'No microphone was found.',
    busy: 'The microphone is busy in another app.',
    broken: 'The call could not start.',
    voice_off: 'Voice calls are turned off.',
    no_agent_online: 'No agent is available for a call right now.',
    call_in_progress: 'There is already a call in this conversation.',
    not_in_call: 'This call is taken in another window.',
    call_state: 'This call was already answered or has ended.',
    call_not_found: 'This call has ended.',
    rate_limited: 'Too many calls. Please wait a moment and try again.',
    close: 'Close',
  },
  de: {
    title: 'Sprachanruf',
    calling: 'Es klingelt…',
    incoming: 'Eingehender Anruf',
    from: 'Eingehender Anruf von %s',
    connecting: 'Verbinde…',
    accept: 'Annehmen',
    decline: 'Ablehnen',
    mute: 'Stummschalten',
    cancel: 'Abbrechen',
    hangup: 'Auflegen',
    share: 'Bildschirm teilen',
    unshare: 'Teilen beenden',
    good: 'Gute Verbindung',
    weak: 'Schwache Verbindung',
    poor: 'Schlechte Verbindung',
    completed: 'Anruf beendet',
    missed: 'Verpasster Anruf',
    declined: 'Anruf abgelehnt',
    failed: 'Anruf fehlgeschlagen',
    lost: 'Die Verbindung ist abgebrochen.',
    unreachable:
      'Der Anruf konnte nicht verbunden werden. Möglicherweise blockiert ein Netzwerk oder eine Firewall ihn.',
    denied:
      'Der Zugriff auf das Mikrofon wurde verweigert. Erlauben Sie ihn im Browser, um anzurufen.',
    nomic: 'Es wurde kein Mikrofon gefunden.',
    busy: 'Das Mikrofon wird gerade von einer anderen App verwendet.',
    broken: 'Der Anruf konnte nicht gestartet werden.',
    voice_off: 'Sprachanrufe sind ausgeschaltet.',
    no_agent_online: 'Gerade ist niemand für einen Anruf erreichbar.',
    call_in_progress: 'In dieser Unterhaltung läuft bereits ein Anruf.',
    not_in_call: 'Dieser Anruf wird in einem anderen Fenster geführt.',
    call_state: 'Dieser Anruf wurde bereits angenommen oder ist beendet.',
    call_not_found: 'Dieser Anruf ist beendet.',
    rate_limited: 'Zu viele Anrufe. Bitte warten Sie einen Moment und versuchen Sie es erneut.',
    close: 'Schließen',
  },
  ar: {
    title: 'مكالمة صوتية',
    calling: 'جارٍ الاتصال…',
    incoming: 'مكالمة واردة',
    from: 'مكالمة واردة من %s',
    connecting: 'جارٍ إنشاء الاتصال…',
    accept: 'قبول',
    decline: 'رفض',
    mute: 'كتم الصوت',
    cancel: 'إلغاء',
    hangup: 'إنهاء المكالمة',
    share: 'مشاركة الشاشة',
    unshare: 'إيقاف المشاركة',
    good: 'الاتصال جيد',
    weak: 'الاتصال ضعيف',
    poor: 'الاتصال سيئ',
    completed: 'انتهت المكالمة',
    missed: 'مكالمة فائتة',
    declined: 'تم رفض المكالمة',
    failed: 'فشلت المكالمة',
    lost: 'انقطع الاتصال.',
    unreachable: 'تعذّر توصيل المكالمة. قد تكون الشبكة أو جدار الحماية يحجبها.',
    denied: 'رُفض الوصول إلى الميكروفون. اسمح به في متصفحك لإجراء المكالمة.',
    nomic: 'لم يُعثر على ميكروفون.',
    busy: 'الميكروفون مشغول في تطبيق آخر.',
    broken: 'تعذّر بدء المكالمة.',
    voice_off: 'المكالمات الصوتية متوقفة.',
    no_agent_online: 'لا يتوفر أحد من فريق الدعم لمكالمة الآن.',
    call_in_progress: 'هناك مكالمة جارية بالفعل في هذه المحادثة.',
    not_in_call: 'يجري الرد على هذه المكالمة في نافذة أخرى.',
    call_state: 'تم الرد على هذه المكالمة أو انتهت بالفعل.',
    call_not_found: 'انتهت هذه المكالمة.',
    rate_limited: 'محاولات كثيرة جدًا. انتظر قليلًا ثم حاول مرة أخرى.',
    close: 'إغلاق',
  },
};

// The server's refusals of call events. The apps pass on every error; other codes aren't ours.
// Those in NOT_OURS say this connection is not (or no longer) a side of the call.
const NOT_OURS = ['not_in_call', 'call_state', 'call_not_found'];
const REFUSALS = ['voice_off', 'no_agent_online', 'call_in_progress', 'rate_limited', ...NOT_OURS];

const MIC_ERRORS = {
  NotAllowedError: 'denied',
  SecurityError: 'denied',
  NotFoundError: 'nomic',
  OverconstrainedError: 'nomic',
  NotReadableError: 'busy',
  AbortError: 'busy',
};

const RING_MS = 45_000; // the server's RING_SECS
const CONNECT_MS = 20_000;
const DROP_MS = 5_000;
const STATS_MS = 2_000;
const ENDED_MS = 3_000;

// One constructed sheet: the pages' CSP allows no inline styles. White on #1f2937 and the
// buttons' colours all pass WCAG AA.
const CSS = `
.tc-panel{position:fixed;z-index:2147483647;box-sizing:border-box;width:300px;max-width:calc(100vw - 32px);padding:16px;border-radius:12px;background:#1f2937;color:#fff;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;box-shadow:0 8px 24px rgb(0 0 0/.35)}
.tc-panel[hidden],.tc-panel [hidden]{display:none!important}
.tc-visitor{top:16px;inset-inline-end:24px}
.tc-agent{bottom:16px;inset-inline-start:16px}
.tc-wide{width:560px}
.tc-status,.tc-quality,.tc-error{margin:0}
.tc-status{font-size:15px;font-weight:600}
.tc-clock{direction:ltr;unicode-bidi:isolate;font-variant-numeric:tabular-nums}
.tc-quality{margin-top:4px;font-size:13px;color:#d1d5db}
.tc-quality[data-level=good]{color:#86efac}
.tc-quality[data-level=weak]{color:#fde68a}
.tc-quality[data-level=poor]{color:#fca5a5}
.tc-error:not(:empty){margin-top:8px;color:#fecaca}
.tc-video{display:block;width:100%;max-height:60vh;margin-top:12px;border-radius:8px;background:#000}
.tc-buttons{display:flex;flex-wrap:wrap;gap:8px;margin-top:12px}
.tc-btn{flex:1 1 auto;min-height:40px;padding:8px 12px;border:1px solid #9ca3af;border-radius:8px;background:#374151;color:#fff;font:inherit;font-weight:600;cursor:pointer}
.tc-btn:hover{filter:brightness(.9)}
.tc-btn:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}
.tc-go{border-color:#15803d;background:#15803d}
.tc-stop{border-color:#b91c1c;background:#b91c1c}
.tc-btn[aria-pressed=true]{background:#f3f4f6;color:#111827}
@media (min-width:900px){.tc-visitor{top:auto;bottom:92px;inset-inline-end:420px}}
@media (max-width:480px){.tc-panel{inset-inline:12px;width:auto}.tc-visitor{top:12px}}
@media (forced-colors:active){.tc-btn{border-color:ButtonText}}
`;

function make(tag, className, testid, attrs = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (testid) node.dataset.testid = testid;
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function button(className, testid, label, onclick) {
  const node = make('button', `tc-btn ${className}`, testid, { type: 'button' });
  node.textContent = label;
  node.onclick = onclick;
  return node;
}

/** `mm:ss`, or `h:mm:ss` past an hour. */
function duration(ms) {
  const s = Math.floor(ms / 1000);
  const two = (n) => String(n).padStart(2, '0');
  const clock = `${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  return s < 3600 ? clock : `${Math.floor(s / 3600)}:${clock}`;
}

const stop = (stream) => stream?.getTracks().forEach((track) => track.stop());

const iceConfig = (list, policy) => ({
  iceServers: Array.isArray(list) ? list : [],
  iceTransportPolicy: policy === 'relay' ? 'relay' : 'all',
});

async function microphone() {
  if (!globalThis.RTCPeerConnection) throw new Error('WebRTC is unavailable');
  return navigator.mediaDevices.getUserMedia({ audio: true });
}

export function attach(opts) {
  const side = opts.side === 'agent' ? 'agent' : 'visitor';
  const visitor = side === 'visitor';
  const code = String(opts.lang || '').toLowerCase().split(/[-_]/)[0];
  const lang = TEXT[code] ? code : 'en';
  const t = TEXT[lang];
  let ice = iceConfig(opts.iceServers, opts.iceTransportPolicy);

  let mode = 'idle'; // what state() says
  let call = null; // the call on show; its `state` is unset until the server confirms our start
  let mine = false; // this connection started or accepted it, so it is one of its sides
  let mic = null;
  let pc = null;
  let screen = null;
  let sharer = null; // the screen's sender, reused: offers would grow a video section per share
  let queued = []; // candidates that came before the remote description
  let signals = Promise.resolve(); // negotiation steps, one at a time
  let connectedAt = 0;
  let last = [0, 0]; // packets lost and received at the last stats
  let bell = null;
  let returnTo = null;
  let timers = {};
  const ringing = new Map(); // id → [call, seen at]: calls for this side that wait their turn

  const panel = make('section', `tc-panel tc-${visitor ? 'visitor' : 'agent'}`, 'call-panel', {
    role: 'dialog',
    'aria-label': t.title,
    lang,
    dir: lang === 'ar' ? 'rtl' : 'ltr',
  });
  panel.hidden = true;
  // The one test affordance: the live connection, for getStats.
  Object.defineProperty(panel, 'talkPeer', { get: () => pc });
  const status = make('p', 'tc-status', 'call-status', { 'aria-live': 'polite' });
  const quality = make('p', 'tc-quality', 'call-quality');
  quality.hidden = true;
  const error = make('p', 'tc-error', 'call-error', { role: 'alert' });
  const audio = make('audio', '', 'call-audio', { autoplay: '' });
  const video = !visitor && make('video', 'tc-video', 'call-video', { autoplay: '', muted: '' });
  const acceptButton = button('tc-go', 'call-accept', t.accept, accept);
  const declineButton = button('tc-stop', 'call-decline', t.decline, decline);
  const muteButton = button('', 'call-mute', t.mute, mute);
  const shareButton = visitor && button('', 'call-share', t.share, share);
  const hangupButton = button('tc-stop', 'call-hangup', t.hangup, hangUp);
  const closeButton = button('', 'call-close', t.close, () => idle());
  const row = make('div', 'tc-buttons');
  const buttons = [acceptButton, declineButton, muteButton, shareButton, hangupButton, closeButton];
  row.append(...buttons.filter(Boolean));
  if (video) {
    video.setAttribute('playsinline', ''); // iOS: in the panel, not full screen
    video.muted = true; // the attribute alone sets only defaultMuted
    video.hidden = true;
  }
  panel.append(...[status, quality, error, video, audio, row].filter(Boolean));
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    const scope = opts.root.getRootNode();
    const host = scope instanceof ShadowRoot ? scope : document;
    host.adoptedStyleSheets = [...host.adoptedStyleSheets, sheet];
  } catch (e) {
    console.warn('[talk] the call panel has no style:', e);
  }
  opts.root.append(panel);

  const say = (text) => (status.textContent = text);
  const send = (event) => opts.send(event);
  const signal = (s) => call && send({ type: 'call_signal', call_id: call.id, signal: s });
  // After a teardown, a failing step is expected (the connection is closed): no warning then.
  const work = (job) =>
    (signals = signals.then(job).catch((e) => pc && console.warn('[talk] negotiation failed:', e)));
  const micText = (e) => {
    if (!MIC_ERRORS[e?.name]) console.warn('[talk] no microphone:', e);
    return t[MIC_ERRORS[e?.name] || 'broken'];
  };

  function view(kind) {
    acceptButton.hidden = declineButton.hidden = kind !== 'ringing';
    muteButton.hidden = kind !== 'active';
    if (shareButton) shareButton.hidden = kind !== 'active';
    hangupButton.hidden = kind === 'ringing' || kind === 'ended';
    hangupButton.textContent = kind === 'outgoing' ? t.cancel : t.hangup;
    closeButton.hidden = true;
    panel.hidden = false;
  }

  // Focus goes into the panel when it needs an answer and back where it was when it's done.
  // Looked up from the document down: the widget's panel is in a shadow root, the page isn't.
  function focused() {
    let node = document.activeElement;
    while (node?.shadowRoot?.activeElement) node = node.shadowRoot.activeElement;
    return node;
  }
  function focus(target) {
    if (!panel.contains(focused())) returnTo = focused();
    target.focus();
  }
  function release() {
    if (panel.contains(focused())) returnTo?.focus();
    returnTo = null;
  }

  function teardown() {
    // clearTimeout clears intervals too: HTML keeps one list of both.
    Object.values(timers).forEach(clearTimeout);
    timers = {};
    quiet();
    stop(mic);
    stop(screen);
    mic = screen = sharer = null;
    if (pc) {
      const p = pc;
      pc = null;
      p.onnegotiationneeded = p.onicecandidate = p.ontrack = p.onconnectionstatechange = null;
      p.close();
    }
    queued = [];
    connectedAt = 0;
    last = [0, 0];
    mine = false;
    audio.srcObject = null;
    if (video) {
      video.srcObject = null;
      video.hidden = true;
      panel.classList.remove('tc-wide');
    }
    quality.hidden = true;
    delete quality.dataset.level;
    muteButton.setAttribute('aria-pressed', 'false');
    if (shareButton) shareButton.textContent = t.share;
  }

  /**
   * The call is over here: its final status for a moment, then the panel goes. A problem stays
   * until the person closes it: a sentence that vanishes after 3 s can't be read in time.
   */
  function end(text, problem = '') {
    release();
    teardown();
    mode = 'ended';
    say(text);
    error.textContent = problem;
    view('ended');
    closeButton.hidden = !problem;
    if (problem) focus(closeButton);
    else timers.hide = setTimeout(idle, ENDED_MS);
  }

  /** This side can't go on: the server hears that it failed, the person hears why. */
  function fail(problem, text = t.failed) {
    if (mine && call) send({ type: 'call_hangup', call_id: call.id, failed: true });
    end(text, problem);
  }

  function idle() {
    release();
    teardown();
    if (call) ringing.delete(call.id);
    mode = 'idle';
    call = null;
    panel.hidden = true;
    say('');
    error.textContent = '';
    // A call that rang meanwhile rings now, the longest waiting first, unless its end may have
    // been missed (offline).
    for (const [id, [, seen]] of ringing) if (Date.now() - seen > RING_MS) ringing.delete(id);
    const [next] = ringing.values();
    if (next) ring(next[0]);
  }

  function ring(c) {
    teardown();
    call = c;
    mode = 'incoming';
    let who = '';
    try {
      who = (!visitor && opts.name?.(c.conversation_id)) || '';
    } catch (e) {
      console.warn('[talk] no caller name:', e);
    }
    say(who ? t.from.replace('%s', () => who) : t.incoming);
    error.textContent = '';
    view('ringing');
    chime();
    // Should the call's end be missed (a dropped socket), it stops ringing anyway.
    timers.ringOut = setTimeout(idle, RING_MS + 5_000);
    for (const hook of [opts.open, opts.ring]) {
      try {
        hook?.(c);
      } catch (e) {
        console.warn('[talk] a call hook failed:', e);
      }
    }
    focus(acceptButton);
  }

  function take(stream) {
    mic = stream;
    mine = true;
    // Unplugged mid-call: this side can't go on. (stop() fires no `ended`, so teardown doesn't.)
    for (const track of stream.getAudioTracks()) {
      track.onended = () => mic === stream && fail(t.nomic);
    }
  }

  async function start(conversationId) {
    if (mode !== 'idle' && mode !== 'ended') return;
    teardown();
    const id = crypto.randomUUID();
    call = { id, conversation_id: conversationId, caller: side };
    mode = 'outgoing';
    say(t.calling);
    error.textContent = '';
    view('outgoing');
    focus(hangupButton);
    // The microphone first, so a refused one shows at once and nobody's phone rings for nothing.
    let stream;
    try {
      stream = await microphone();
    } catch (e) {
      if (call?.id === id && mode === 'outgoing') end(t.failed, micText(e));
      return;
    }
    if (call?.id !== id || mode !== 'outgoing') return stop(stream);
    take(stream);
    send({ type: 'call_start', conversation_id: conversationId, call_id: id });
  }

  // The microphone is asked for only now: nobody gets a prompt for a call they didn't take.
  async function accept() {
    const id = call.id;
    quiet();
    say(t.connecting);
    view('joining');
    focus(hangupButton);
    let stream;
    try {
      stream = await microphone();
    } catch (e) {
      if (call?.id === id && mode === 'incoming') {
        send({ type: 'call_answer', call_id: id, accept: false });
        end(t.failed, micText(e));
      }
      return;
    }
    if (call?.id !== id || mode !== 'incoming') return stop(stream);
    take(stream);
    send({ type: 'call_answer', call_id: id, accept: true });
  }

  function decline() {
    if (call) send({ type: 'call_answer', call_id: call.id, accept: false });
    idle();
  }

  function hangUp() {
    if (!call) return;
    if (mode === 'incoming' && !mine) return decline();
    if (mine) send({ type: 'call_hangup', call_id: call.id });
    end(t.completed);
  }

  function mute() {
    const muted = muteButton.getAttribute('aria-pressed') !== 'true';
    for (const track of mic?.getAudioTracks() || []) track.enabled = !muted;
    muteButton.setAttribute('aria-pressed', String(muted));
  }

  function activate() {
    mode = 'active';
    clearTimeout(timers.ringOut);
    say(t.connecting);
    view('active');
    focus(hangupButton);
    // The agent's connection may be up already: the offer can overtake the call's change.
    if (!connectedAt) timers.connect = setTimeout(() => fail(t.unreachable), CONNECT_MS);
    if (visitor) connect();
  }

  function connect() {
    try {
      pc = new RTCPeerConnection(ice);
    } catch (e) {
      console.warn('[talk] no peer connection:', e);
      fail(t.broken);
      return false;
    }
    const p = pc;
    p.onicecandidate = ({ candidate: c }) =>
      // The end of candidates (null or empty) is not relayed.
      c?.candidate &&
      signal({
        kind: 'candidate',
        candidate: c.candidate,
        ...(c.sdpMid != null && { sdp_mid: c.sdpMid }),
        ...(c.sdpMLineIndex != null && { sdp_m_line_index: c.sdpMLineIndex }),
      });
    p.ontrack = heard;
    p.onconnectionstatechange = () => p === pc && watch(p.connectionState);
    if (visitor) {
      // Each offer when the browser says one is due: it says so only in a stable state, so an
      // offer never goes out while another waits for its answer (and says so again after).
      p.onnegotiationneeded = () =>
        work(async () => {
          if (p !== pc || p.signalingState !== 'stable') return;
          await p.setLocalDescription(await p.createOffer());
          signal({ kind: 'offer', sdp: p.localDescription.sdp });
        });
      for (const track of mic.getTracks()) p.addTrack(track, mic);
    }
    return true;
  }

  function onSignal(s) {
    const id = call.id;
    work(async () => {
      if (!mine || call?.id !== id || mode === 'ended') return;
      if (s.kind === 'candidate') {
        if (!s.candidate) return;
        const c = {
          candidate: s.candidate,
          sdpMid: s.sdp_mid ?? null,
          sdpMLineIndex: s.sdp_m_line_index ?? null,
        };
        return pc?.remoteDescription ? add(c) : queued.push(c);
      }
      if (s.kind === 'offer' && !visitor) {
        const first = !pc;
        if (first && !connect()) return;
        const p = pc;
        await p.setRemoteDescription({ type: 'offer', sdp: s.sdp });
        // After the offer: the track then goes on the audio transceiver the offer made.
        if (first) for (const track of mic.getTracks()) p.addTrack(track, mic);
        await p.setLocalDescription(await p.createAnswer());
        signal({ kind: 'answer', sdp: p.localDescription.sdp });
      } else if (s.kind === 'answer' && visitor && pc?.signalingState === 'have-local-offer') {
        await pc.setRemoteDescription({ type: 'answer', sdp: s.sdp });
      } else return;
      for (const c of queued.splice(0)) await add(c);
    });
  }

  const add = (c) =>
    pc?.addIceCandidate(c).catch((e) => console.warn('[talk] a call candidate was refused:', e));

  function heard({ track }) {
    if (track.kind === 'audio') {
      audio.srcObject = new MediaStream([track]);
      audio.play().catch(() => {});
      return;
    }
    if (!video) return;
    // The visitor's screen. Its sharing stopped: the track mutes; started again: unmutes.
    const shown = (on) => {
      video.hidden = !on;
      panel.classList.toggle('tc-wide', on);
    };
    video.srcObject = new MediaStream([track]);
    track.onmute = track.onended = () => shown(false);
    track.onunmute = () => shown(true);
    shown(true);
    video.play().catch(() => {});
  }

  function watch(state) {
    clearTimeout(timers.drop);
    if (state === 'connected') {
      clearTimeout(timers.connect);
      if (connectedAt) return;
      connectedAt = Date.now();
      send({ type: 'call_connected', call_id: call.id });
      // Its own live setting (off): the polite status would otherwise read out every second.
      const clock = make('span', 'tc-clock', '', { role: 'timer' });
      const tick = () => (clock.textContent = duration(Date.now() - connectedAt));
      tick();
      status.replaceChildren(clock);
      timers.tick = setInterval(tick, 1000);
      timers.stats = setInterval(measure, STATS_MS);
    } else if (state === 'failed') lose();
    else if (state === 'disconnected') timers.drop = setTimeout(lose, DROP_MS);
  }

  const lose = () => (connectedAt ? fail(t.lost, t.completed) : fail(t.unreachable));

  async function measure() {
    const p = pc;
    const report = await p?.getStats().catch(() => null);
    if (!report || p !== pc) return;
    let pair, rtt;
    let [lost, got, jitter] = [0, 0, 0];
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      // Firefox has no transport stats: its pair says `selected` itself.
      const chosen = pair ? s.id === pair : s.selected || (s.nominated && s.state === 'succeeded');
      if (s.type === 'candidate-pair' && chosen) rtt = s.currentRoundTripTime;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        lost = s.packetsLost || 0;
        got = s.packetsReceived || 0;
        jitter = s.jitter || 0;
      }
    });
    // Loss over the last interval only: a bad minute long ago says nothing about now.
    const [dLost, dGot] = [Math.max(0, lost - last[0]), Math.max(0, got - last[1])];
    last = [lost, got];
    const loss = dLost + dGot ? dLost / (dLost + dGot) : 0;
    rtt ??= 0;
    const level =
      rtt < 0.3 && loss < 0.02 && jitter < 0.03
        ? 'good'
        : rtt < 0.6 && loss < 0.08 && jitter < 0.1
          ? 'weak'
          : 'poor';
    if (quality.dataset.level !== level) {
      quality.dataset.level = level;
      quality.textContent = t[level];
    }
    quality.hidden = false;
  }

  async function share() {
    if (screen) return unshare();
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (e) {
      // The person closing the picker is no failure.
      if (e?.name !== 'NotAllowedError' && e?.name !== 'AbortError') {
        console.warn('[talk] no screen to share:', e);
      }
      return;
    }
    const [track] = stream.getVideoTracks();
    if (!pc || mode !== 'active' || screen || !track) return stop(stream);
    screen = stream;
    track.onended = unshare; // the browser's own "Stop sharing"
    shareButton.textContent = t.unshare;
    // Both fire negotiationneeded, and the new offer tells the agent.
    const again = sharer && pc.getTransceivers().find((x) => x.sender === sharer);
    if (again) {
      again.direction = 'sendrecv';
      await sharer.replaceTrack(track).catch((e) => console.warn('[talk] sharing failed:', e));
    } else sharer = pc.addTrack(track, stream);
  }

  function unshare() {
    if (!screen) return;
    stop(screen);
    screen = null;
    shareButton.textContent = t.share;
    if (sharer && pc && pc.signalingState !== 'closed') pc.removeTrack(sharer);
  }

  function chime() {
    quiet();
    try {
      const Context = globalThis.AudioContext || globalThis.webkitAudioContext;
      if (!Context) return;
      const ctx = new Context();
      // Two notes, a sixth apart. A context the browser keeps suspended (no gesture yet)
      // plays nothing rather than a pile of chimes later.
      const play = () => {
        if (ctx.state !== 'running') return;
        const now = ctx.currentTime;
        for (const [hz, at] of [[880, 0], [660, 0.2]]) {
          const osc = ctx.createOscillator();
          const gain = ctx.createGain();
          osc.frequency.value = hz;
          gain.gain.setValueAtTime(0.0001, now + at);
          gain.gain.exponentialRampToValueAtTime(0.15, now + at + 0.02);
          gain.gain.exponentialRampToValueAtTime(0.0001, now + at + 0.35);
          osc.connect(gain).connect(ctx.destination);
          osc.start(now + at);
          osc.stop(now + at + 0.4);
        }
      };
      bell = { ctx, timer: setInterval(play, 2000) };
      ctx.resume().then(play, () => {});
    } catch (e) {
      console.warn('[talk] no ring tone:', e);
    }
  }

  function quiet() {
    if (!bell) return;
    clearInterval(bell.timer);
    bell.ctx.close().catch(() => {});
    bell = null;
  }

  function onCall(c) {
    const theirs = c.caller !== side;
    if (theirs && c.state === 'ringing') ringing.set(c.id, [c, Date.now()]);
    else ringing.delete(c.id);
    if (c.id !== call?.id) {
      if (theirs && c.state === 'ringing' && (mode === 'idle' || mode === 'ended')) ring(c);
      return;
    }
    if (mode === 'ended') return; // it ended here first: what this side saw stands
    call = c;
    if (c.state === 'ended') end(t[c.outcome] || t.completed);
    else if (c.state === 'active' && !mine) idle(); // taken elsewhere: stop ringing, show nothing
    else if (c.state === 'active' && mode !== 'active') activate();
  }

  return {
    event(ev) {
      if (ev?.type === 'call' && ev.call) onCall(ev.call);
      const forUs = ev?.type === 'call_signal' && ev.call_id === call?.id && ev.from !== side;
      if (forUs && ev.signal) onSignal(ev.signal);
    },
    start,
    setIceServers(list, policy) {
      ice = iceConfig(list, policy ?? ice.iceTransportPolicy);
    },
    error(code, message) {
      if (!REFUSALS.includes(code)) return;
      // The start itself was refused: nothing to hang up.
      const refusedStart = mode === 'outgoing' && !call.state;
      // Another tab or agent answered first, or the call ended under us.
      const joining = (mode === 'incoming' && mine) || (mode === 'active' && !connectedAt);
      const notOurs = joining && NOT_OURS.includes(code);
      if (refusedStart) end(t.failed, t[code]);
      else if (notOurs) end(t.completed, t[code]);
      else if (mode !== 'idle' && mode !== 'ended') console.warn('[talk] refused:', code, message);
    },
    state: () => mode,
  };
}
