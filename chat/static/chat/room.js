// Room page: follow the room over SSE from the last rendered seq; post without reloading.
// The browser's EventSource reconnects by itself and sends Last-Event-ID (the last seq it saw);
// the server resumes after it, and seqs at or below the last one shown are ignored here, so a
// network drop leaves neither a gap nor a duplicate. The window's offline event closes the stream
// (a browser may keep an open EventSource through it) and online reopens it after the last seq shown.
(function () {
  "use strict";
  var root = document.getElementById("chat-room");
  if (!root) return;
  var log = document.getElementById("chat-log");
  var status = document.getElementById("chat-status");
  var lastSeq = parseInt(root.dataset.lastSeq, 10) || 0;

  function timeText(iso) {
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function append(msg) {
    if (typeof msg.seq !== "number" || msg.seq <= lastSeq) return;
    lastSeq = msg.seq;
    var li = document.createElement("li");
    li.className = "chat-message";
    li.dataset.seq = String(msg.seq);
    var meta = document.createElement("span");
    meta.className = "chat-meta";
    var author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = msg.author || "system";
    var time = document.createElement("time");
    time.dateTime = msg.created;
    time.textContent = timeText(msg.created);
    meta.appendChild(author);
    meta.appendChild(time);
    var text = document.createElement("span");
    text.className = "chat-text";
    text.textContent = msg.text; // textContent: user text is never parsed as HTML
    li.appendChild(meta);
    li.appendChild(text);
    var atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.appendChild(li);
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  log.querySelectorAll("time").forEach(function (t) { t.textContent = timeText(t.dateTime); });
  log.scrollTop = log.scrollHeight;

  var source = null;

  function connect() {
    source = new EventSource(root.dataset.streamUrl + "?after=" + lastSeq);
    source.onopen = function () { status.textContent = "Live."; };
    source.onerror = function () { status.textContent = "Reconnecting…"; };
    source.onmessage = function (event) {
      try { append(JSON.parse(event.data)); } catch (e) { /* not a message */ }
    };
  }

  window.addEventListener("offline", function () {
    if (source) { source.close(); source = null; }
    status.textContent = "Offline: new messages will appear when the connection is back.";
  });
  window.addEventListener("online", function () {
    if (source) return;
    status.textContent = "Reconnecting…";
    connect();
  });
  connect();

  var form = document.getElementById("chat-form");
  if (!form) return;
  var textarea = document.getElementById("chat-text");
  var error = document.getElementById("chat-error");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;

  function send() {
    var text = textarea.value;
    if (!text.trim()) return;
    error.hidden = true;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ text: text })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 201) {
          textarea.value = "";
        } else {
          // The shared limits (429 rate limit, 413 body size) answer {"error": "<code>", "message": "<sentence>"}.
          error.textContent = body.message || body.error || ("Could not post (HTTP " + response.status + ").");
          error.hidden = false;
        }
      });
    }).catch(function () {
      error.textContent = "Network error: the message was not sent.";
      error.hidden = false;
    });
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); send(); });
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); send(); }
  });
})();
