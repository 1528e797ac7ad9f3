// helix-sync console: the only script. Pages work without it; it adds live updates to the
// pages that ask for them (<body data-live>): when a run starts or finishes, the page is
// fetched again from the server (through the existing SSE stream, /api/sync/events).
(function () {
  "use strict";
  if (!document.body || !document.body.hasAttribute("data-live")) { return; }
  var live = document.getElementById("live");
  function say(text) { if (live) { live.textContent = "live updates: " + text; } }
  if (!window.EventSource) { say("unsupported"); return; }
  var source = new EventSource("/api/sync/events");
  var pending = null;
  function refresh() {
    // Never reload under someone typing in a form.
    var a = document.activeElement;
    if (a && (a.tagName === "INPUT" || a.tagName === "SELECT" || a.tagName === "TEXTAREA")) { return; }
    if (!pending) { pending = setTimeout(function () { location.reload(); }, 500); }
  }
  source.onopen = function () { say("on"); };
  source.onerror = function () { say("reconnecting…"); };
  source.addEventListener("run_started", refresh);
  source.addEventListener("run_finished", refresh);
  source.addEventListener("lagged", refresh);
})();
