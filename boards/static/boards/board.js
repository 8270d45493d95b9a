// Follow a board: long-poll its watch URL, render each new value (text only: never HTML), retry with backoff.
(function () {
  "use strict";
  var root = document.getElementById("board");
  if (!root || !window.fetch) return;
  var valueBox = document.getElementById("board-value");
  var versionBox = document.getElementById("board-version");
  var statusBox = document.getElementById("board-status");

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function render(value) {
    valueBox.replaceChildren();
    if (value === null || value === undefined) {
      valueBox.appendChild(el("span", "muted board-empty", "No value yet."));
      return;
    }
    var percent = value && typeof value === "object" ? value.percent : undefined;
    if (typeof percent === "number" && isFinite(percent)) {
      percent = Math.max(0, Math.min(100, percent));
      var bar = el("progress", "progress", Math.round(percent) + "%");
      bar.setAttribute("role", "progressbar");
      bar.setAttribute("aria-valuemin", "0");
      bar.setAttribute("aria-valuemax", "100");
      bar.setAttribute("aria-valuenow", String(Math.round(percent)));
      bar.max = 100;
      bar.value = percent;
      var line = el("div", "board-message");
      line.appendChild(el("strong", "", Math.round(percent) + "%"));
      line.appendChild(document.createTextNode(" " + (value.message == null ? "" : String(value.message))));
      valueBox.append(bar, line);
    } else {
      valueBox.appendChild(el("pre", "board-json", JSON.stringify(value, null, 2)));
    }
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  async function follow(url) {
    var delay = 1000;
    statusBox.textContent = "live";
    for (;;) {
      try {
        var response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
        if (response.ok) {
          var data = await response.json();
          if (String(data.ts) !== versionBox.textContent) render(data.value);
          versionBox.textContent = String(data.ts);
          url = data.next_update_url;
          statusBox.textContent = "live";
          delay = 1000;
          continue;
        }
        if (response.status === 404) { statusBox.textContent = "this board no longer exists"; return; }
        if (response.status >= 400 && response.status < 500) { statusBox.textContent = "updates stopped (" + response.status + ")"; return; }
      } catch (e) { /* network error: retry below */ }
      statusBox.textContent = "reconnecting…";
      await sleep(delay);
      delay = Math.min(delay * 2, 30000);
    }
  }

  var form = document.getElementById("board-notify");
  if (form) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var result = document.getElementById("board-notify-result");
      var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
      try {
        var response = await fetch(form.action, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": token },
          body: form.elements.value.value,
          credentials: "same-origin",
        });
        var data = await response.json().catch(function () { return {}; });
        // The shared limits (a 413 body over the site limit) answer {"error": "<code>", "message": "<sentence>"}.
        result.textContent = response.ok
          ? "posted version " + data.ts
          : data.message || data.error || "could not post (HTTP " + response.status + ")";
      } catch (e) { result.textContent = "could not post: " + e; }
    });
  }

  follow(root.dataset.nextUrl);
})();
