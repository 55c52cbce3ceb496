// The messenger inside its frame (/widget/frame, on the Talk server's origin, under the
// server's strict CSP). The host page's embed.js posts the configuration and the page's calls;
// this posts back what the page hears. The host origin comes in the URL's fragment: messages go
// only there and are taken only from it, from the parent.

import { inline } from './embed.js';

const named = decodeURIComponent(location.hash.slice(1));
// Only a real origin: never "*" or anything else a framing page might put there.
const host = URL.canParse(named) && new URL(named).origin === named ? named : null;
const post = (message) => host && parent.postMessage(message, host);
let messenger = null;

addEventListener('message', (event) => {
  if (event.origin !== host || event.source !== parent) return;
  const message = event.data || {};
  if (message.t === 'init' && !messenger) {
    messenger = inline(`${location.origin}/`, message.config, {
      ready: () => post({ t: 'ready' }),
      unread: (count) => post({ t: 'unread', n: count }),
      open: (open) => post({ t: 'open', v: open }),
    });
  }
  if (message.t === 'call' && messenger) {
    messenger.then((call) => call(message.n, message.a));
  }
});
post({ t: 'hello' });
