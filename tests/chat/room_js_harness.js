// Runs chat/static/chat/room.js in Node against a minimal DOM, EventSource and fetch, and prints
// what it did as JSON (tests/chat/test_room_js.py asserts on it). Usage: node room_js_harness.js <room.js>
"use strict";
const fs = require("fs");
const vm = require("vm");

class El {
  constructor(tag, props = {}) {
    this.tagName = tag; this.children = []; this.dataset = {}; this.listeners = {};
    this.hidden = false; this.textContent = ""; this.className = ""; this.value = "";
    this.scrollTop = 0; this.scrollHeight = 0; this.clientHeight = 0; this.innerHTMLWrites = 0;
    Object.assign(this, props);
  }
  set innerHTML(_v) { this.innerHTMLWrites += 1; }
  appendChild(child) { this.children.push(child); return child; }
  querySelectorAll() { return []; }
  querySelector(selector) { return this.selectors ? this.selectors[selector] : null; }
  addEventListener(type, fn) { this.listeners[type] = fn; }
}

const token = new El("input", { value: "tok-123" });
const elements = {
  "chat-room": new El("div", { dataset: { streamUrl: "/chat/r/stream", messagesUrl: "/chat/r/messages", lastSeq: "2" } }),
  "chat-log": new El("ol"),
  "chat-status": new El("p"),
  "chat-form": new El("form", { action: "/chat/r/messages", selectors: { "input[name=csrfmiddlewaretoken]": token } }),
  "chat-text": new El("textarea"),
  "chat-error": new El("p", { hidden: true }),
};
const created = [];
const document = {
  getElementById: (id) => elements[id] || null,
  createElement: (tag) => { const el = new El(tag); created.push(el); return el; },
};
const sources = [];
class EventSource {
  constructor(url) { this.url = url; this.closed = false; sources.push(this); }
  close() { this.closed = true; }
}
const windowListeners = {};
const window = { addEventListener: (type, fn) => { (windowListeners[type] = windowListeners[type] || []).push(fn); } };
const fire = (type) => (windowListeners[type] || []).forEach((fn) => fn({ type }));
const fetches = [];
let nextResponse = null;
function fetch(url, options) {
  fetches.push({ url, options });
  const r = nextResponse;
  return Promise.resolve({ status: r.status, json: () => Promise.resolve(r.body) });
}

const sandbox = { window, document, EventSource, fetch, console, Date, JSON, isNaN, parseInt, String, Promise };
vm.createContext(sandbox);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), sandbox);

const source = sources[0];
source.onopen();
const sendOn = (es, seq, text) => es.onmessage({ data: JSON.stringify({ room: "r", seq, author: seq % 2 ? "alice" : null, text, created: "2026-11-27T21:50:03+00:00" }) });
const send = (seq, text) => sendOn(source, seq, text);
send(2, "already rendered");
send(3, "three");
send(4, "<b>four</b>");
send(4, "four again");
source.onmessage({ data: "not json" });
send(5, "five");
source.onerror();  // the network drops; EventSource reconnects by itself with Last-Event-ID 5
const statusAfterDrop = elements["chat-status"].textContent;
send(5, "five replayed");
send(6, "six");

// The window goes offline: the open stream is closed (a browser may keep it open) and the page says so.
fire("offline");
const offline = { closed: source.closed, status: elements["chat-status"].textContent, sources: sources.length };
// Back online: one new stream, resuming after the last seq shown; a replayed seq is shown once.
fire("online");
fire("online");
const resumed = sources[sources.length - 1];
const online = { sources: sources.length, url: resumed.url, status: elements["chat-status"].textContent };
resumed.onopen();
sendOn(resumed, 6, "six replayed");
sendOn(resumed, 7, "seven");
sendOn(resumed, 8, "eight");

const log = elements["chat-log"].children.map((li) => ({
  seq: li.dataset.seq,
  author: li.children[0].children[0].textContent,
  text: li.children[1].textContent,
}));

(async () => {
  const form = elements["chat-form"];
  const textarea = elements["chat-text"];
  textarea.value = "hello";
  nextResponse = { status: 201, body: { seq: 7 } };
  form.listeners.submit({ preventDefault() {} });
  await new Promise((r) => setTimeout(r, 10));
  const clearedAfter201 = textarea.value === "";
  textarea.value = "x".repeat(5);
  nextResponse = { status: 400, body: { error: "Message text is too long." } };
  form.listeners.submit({ preventDefault() {} });
  await new Promise((r) => setTimeout(r, 10));
  const error = elements["chat-error"];
  const refused = { hidden: error.hidden, text: error.textContent };
  // The shared limits answer {"error": "<code>", "message": "<sentence>"}: the page shows the sentence.
  nextResponse = { status: 429, body: { error: "rate_limited", message: "Too many messages: try again in 7 s.", retry_after: 7 } };
  form.listeners.submit({ preventDefault() {} });
  await new Promise((r) => setTimeout(r, 10));
  const rateLimited = { hidden: error.hidden, text: error.textContent, kept: textarea.value };
  process.stdout.write(JSON.stringify({
    streamUrl: source.url,
    statusAfterDrop,
    offline,
    online,
    statusAfterResume: elements["chat-status"].textContent,
    log,
    innerHTMLWrites: created.reduce((n, el) => n + el.innerHTMLWrites, 0),
    post: { url: fetches[0].url, method: fetches[0].options.method, headers: fetches[0].options.headers, body: fetches[0].options.body },
    clearedAfter201,
    keptAfter400: textarea.value,
    error: refused,
    rateLimited,
  }));
})();
