// Types for the page API that the Talk loader (app.js) defines on `window.ap3c`.

export interface Ap3cTalkOptions {
  /** A verified-session token minted by your backend with POST /v1/talk/session. */
  token?: string;
  /** Scopes the visitor cookie, e.g. when two workspaces share one site. Default "/". */
  cookiePath?: string;
  /** The messenger's language ("en", "de", "ar"); default: the browser's languages, else English. */
  language?: string;
  /**
   * Where the messenger runs: "inline" (in this page, in a shadow root; needs
   * 'wasm-unsafe-eval' under a script-src), "frame" (in an iframe on the Talk server's origin)
   * or "auto" (default: inline if this page may compile WebAssembly, else frame). See docs/csp.md.
   */
  mode?: 'inline' | 'frame' | 'auto';
}

export interface Ap3cInitOptions {
  /** Domains the visitor cookie may be set on, e.g. [".example.com"]; the first that matches the page wins. */
  cookieDomains?: string[];
  /** No messenger on this page (page views are still recorded). */
  disableTalk?: boolean;
  disableWidgets?: boolean;
  link?: string;
  talk?: Ap3cTalkOptions;
}

export interface Ap3cTalk {
  /** Restarts the messenger in a new, verified session; conversations started from now on are verified. */
  setVerifiedSession(options: { token: string }): void;
  open(): void;
  close(): void;
  /** Brings back the launcher after hide(). */
  show(): void;
  /** Hides launcher and panel; the session carries on. */
  hide(): void;
  /** Forgets the visitor (e.g. on logout): a new anonymous visitor from now on. */
  shutdown(): void;
  /** Called with the number of agent and bot messages not yet seen. */
  onUnreadCountChange(callback: (count: number) => void): void;
  /** Called once the messenger is connected (at once if it already is). */
  onReady(callback: () => void): void;
  /** For single-page apps: call after a route change to record the page view. */
  route(): void;
}

export interface Ap3c {
  /** Functions queued before app.js loads; after it loads, push runs them at once. */
  cmd: Array<() => void> | { push(...fns: Array<() => void>): void };
  init(captureKey: string, apiUrl: string, options?: Ap3cInitOptions): void;
  /** Records a page view of the current page. */
  track(event?: unknown): void;
  activity?: (act: unknown) => void;
  talk: Ap3cTalk;
}

declare global {
  interface Window {
    ap3c: Ap3c;
  }
}
