/* Talk inbox, settings preview: runs the real widget in the preview frame with the admin's
 * unsaved settings, as a preview session. The frame is an about:srcdoc document, so it has the
 * inbox's origin and policy. The settings and the preview token come from the parent page by
 * postMessage (target origin pinned there, event.origin and event.source checked here), never
 * in a URL or this document; the widget's one request for its settings is answered with them,
 * everything else goes to the server as usual. */
(function (w, d) {
  'use strict';
  // The document's origin: location.origin would say "null", the URL being about:srcdoc.
  var origin = w.origin;
  var me = d.currentScript;
  var captureKey = me && me.getAttribute('data-capture-key');
  var draft = null;
  var token = null;
  var started = false;
  var realFetch = w.fetch.bind(w);

  w.fetch = function (input, init) {
    var url = typeof input === 'string' ? input : input && input.url;
    if (draft && url && url.indexOf('/v1/talk/widget/config') !== -1) {
      // The workspace's live status and online agents, with the unsaved settings.
      return realFetch(input, init)
        .then(function (answer) { return answer.ok ? answer.json() : { status: 'away', online_agents: [] }; })
        .then(function (config) {
          config.settings = draft;
          return new Response(JSON.stringify(config), {
            status: 200,
            headers: { 'Content-Type': 'application/json' }
          });
        });
    }
    if (token && url && url.indexOf('/v1/talk/widget/session') !== -1) {
      // The widget renews its session with the token it started with, and a refused token
      // would make it carry on as a production visitor: every session request carries the
      // latest preview token instead (the parent renews it before it expires).
      var body = typeof input === 'string' ? Promise.resolve(init && init.body) : input.clone().text();
      return body.then(function (text) {
        var request = JSON.parse(text);
        request.token = token;
        return realFetch(input, Object.assign({}, init, { body: JSON.stringify(request) }));
      });
    }
    return realFetch(input, init);
  };

  w.addEventListener('message', function (event) {
    if (event.origin !== origin || event.source !== w.parent) return;
    var data = event.data;
    if (!data || typeof data.token !== 'string' || !data.token) return;
    if (data.type === 'talk-preview-token') {
      token = data.token;
    } else if (data.type === 'talk-preview-settings' && data.settings) {
      token = data.token;
      draft = data.settings;
      start();
    }
  });

  function start() {
    if (started || !captureKey) return;
    started = true;
    // The seed's snippet, pointed at this server; the messenger opens at once.
    var ap3c = (w.ap3c = w.ap3c || {});
    ap3c.cmd = ap3c.cmd || [];
    ap3c.cmd.push(function () {
      ap3c.init(captureKey, origin + '/', { talk: { mode: 'inline', token: token } });
      ap3c.talk.open();
    });
    var script = d.createElement('script');
    script.src = origin + '/app.js';
    d.head.appendChild(script);
  }

  w.parent.postMessage({ type: 'talk-preview-ready' }, origin);
})(window, document);
