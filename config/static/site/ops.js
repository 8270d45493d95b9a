// The operations page follows the private "ops" board: each new version re-renders the page's body from the
// server (numbers and SVG plots drawn there). No timer of its own: it waits on the board's long-poll.
(function () {
  "use strict";
  var root = document.getElementById("ops");
  var status = document.getElementById("ops-status");
  if (!root || !window.fetch || !window.DOMParser) return;

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  async function refresh() {
    var response = await fetch(root.dataset.bodyUrl, { headers: { Accept: "text/html" }, cache: "no-store" });
    if (!response.ok) return;
    var doc = new DOMParser().parseFromString(await response.text(), "text/html");
    var body = doc.getElementById("ops-body");
    var current = document.getElementById("ops-body");
    if (body && current) current.replaceWith(document.importNode(body, true));
  }

  async function follow(url) {
    var delay = 1000;
    status.textContent = "live";
    for (;;) {
      try {
        var response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
        if (response.ok) {
          var data = await response.json();
          if (data.ts !== undefined && String(data.ts) !== root.dataset.version) {
            root.dataset.version = String(data.ts);
            await refresh();
          }
          url = data.next_update_url;
          status.textContent = "live";
          delay = 1000;
          continue;
        }
        if (response.status >= 400 && response.status < 500) { status.textContent = "updates stopped (" + response.status + ")"; return; }
      } catch (e) { /* network error: retry below */ }
      status.textContent = "reconnecting…";
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  }

  var first = new URL(root.dataset.watchUrl, window.location.href);
  root.dataset.version = first.searchParams.get("ts") || "";
  follow(first.toString());
})();
