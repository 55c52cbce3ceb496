/* Talk inbox, settings preview: runs the real widget in the preview frame with the admin's
 * unsaved settings. The frame is an about:srcdoc document, so it has the inbox's origin and
 * policy. The settings come from the parent page by postMessage (target origin pinned there,
 * event.origin and event.source checked here); the widget's one request for its settings is
 * answered with them, everything else goes to the server as usual. */
(function (w, d) {
  'use strict';
  // The document's origin: location.origin would say "null", the URL being about:srcdoc.
  var origin = w.origin;
  var me = d.currentScript;
  var captureKey = me && me.getAttribute('data-capture-key');
  var draft = null;
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
    return realFetch(input, init);
  };

  w.addEventListener('message', function (event) {
    if (event.origin !== origin || event.source !== w.parent) return;
    var data = event.data;
    if (!data || data.type !== 'talk-preview-settings' || !data.settings) return;
    draft = data.settings;
    start();
  });

  function start() {
    if (started || !captureKey) return;
    started = true;
    // The seed's snippet, pointed at this server; the messenger opens at once.
    var ap3c = (w.ap3c = w.ap3c || {});
    ap3c.cmd = ap3c.cmd || [];
    ap3c.cmd.push(function () {
      ap3c.init(captureKey, origin + '/', { talk: { mode: 'inline' } });
      ap3c.talk.open();
    });
    var script = d.createElement('script');
    script.src = origin + '/app.js';
    d.head.appendChild(script);
  }

  w.parent.postMessage({ type: 'talk-preview-ready' }, origin);
})(window, document);
