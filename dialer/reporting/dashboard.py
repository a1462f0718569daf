"""The live dashboard: a read-only page at `/` on the HTTP port of `dialer worker` (the one
that serves `/metrics`) or of `dialer run --http-port N`, refreshing itself every 2 s from
`/status.json` — the very numbers of `dialer status --json`: every campaign's progress,
active calls against the cap, dials in the last minute, how its calls ended (apart from what
its create requests proved: placed, not placed, in doubt) and spend. Counts
only: no lead data, no phone numbers. The page puts every value in with textContent, so
nothing shown can run as markup. With DIALER_HTTP_TOKEN set, the page and its data need the
token: opened once as `/?token=…`, the session cookie that answer sets carries it on
(dialer.http.app).

Where the HTTP API is served beside it (`dialer serve`, `dialer worker --http-port`), each
campaign gets pause, resume and cancel buttons. They call the API, with an API token the page
asks for once (`dialer token create NAME`) and keeps for the browser tab (sessionStorage); a
token refused (401) is asked for again, a read-only one (403) is said so."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

StatusSource = Callable[[], Awaitable[list[dict[str, Any]]]]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dialer</title>
<link rel="icon" href="data:,">
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
.campaign { border: 1px solid #ddd; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }
.campaign h2 { margin: 0 0 .5rem; font-size: 1.1rem; }
.numbers { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.numbers div span { display: block; color: #666; font-size: .8rem; }
.bar { height: 10px; background: #eee; border-radius: 5px; margin: .6rem 0; }
.bar div { height: 10px; background: #3b7; border-radius: 5px; width: 0; }
.outcomes, .requests { color: #555; font-size: .9rem; margin: .3rem 0; }
#updated { color: #888; font-size: .8rem; }
.controls { margin-top: .5rem; display: flex; gap: .5rem; align-items: center; }
.controls button { font: inherit; padding: .2rem .8rem; }
.said { color: #555; font-size: .85rem; }
#token-form { display: none; border: 1px solid #ccc; border-radius: 8px; padding: .8rem;
  margin-bottom: 1rem; background: #fafafa; }
#token-form.asking { display: block; }
</style></head><body data-controls="0">
<h1>dialer</h1>
<p id="updated">loading…</p>
<form id="token-form"><label>API token for the controls
  (<code>dialer token create NAME</code>):
  <input id="token" type="password" autocomplete="off" size="50"></label>
  <button type="submit">Use</button> <span id="token-note" class="said"></span></form>
<div id="campaigns"></div>
<script>
"use strict";
const TERMINAL = ["completed", "failed", "skipped"];
function cell(label, value, cls) {
  const box = document.createElement("div");
  const name = document.createElement("span");
  name.textContent = label;
  const figure = document.createElement("b");
  figure.className = cls;
  figure.textContent = value;
  box.append(name, figure);
  return box;
}
function render(campaigns) {
  const root = document.getElementById("campaigns");
  root.replaceChildren();
  for (const c of campaigns) {
    const total = Object.values(c.leads).reduce((a, b) => a + b, 0);
    const done = TERMINAL.reduce((a, s) => a + (c.leads[s] || 0), 0);
    const box = document.createElement("section");
    box.className = "campaign";
    box.dataset.campaign = c.name;
    const title = document.createElement("h2");
    const reason = c.status_reason ? " (" + c.status_reason + ")" : "";
    title.textContent = c.name + " · " + c.status + reason;
    const bar = document.createElement("div");
    bar.className = "bar";
    const fill = document.createElement("div");
    fill.style.width = (total ? (100 * done / total) : 0) + "%";
    bar.append(fill);
    const numbers = document.createElement("div");
    numbers.className = "numbers";
    numbers.append(
      cell("done", done + " / " + total, "done"),
      cell("active calls", c.active_calls + " / " + c.max_concurrent_calls, "active"),
      cell("dials, last minute", String(c.dials_last_minute), "dials"),
      cell("spend", "$" + c.spend_usd.toFixed(2) + (c.spend_pending_usd >= 0.005 ?
        " + $" + c.spend_pending_usd.toFixed(2) + " pending" : ""), "spend"),
      cell("attempts", String(c.attempts), "attempts"),
    );
    const outcomes = document.createElement("p");
    outcomes.className = "outcomes";
    const ended = Object.entries(c.calls_by_reason || {}).sort((a, b) => b[1] - a[1]);
    outcomes.textContent = "calls ended: " +
      (ended.length ? ended.map(([r, n]) => r + " " + n).join(" · ") : "none yet");
    const requests = document.createElement("p");
    requests.className = "requests";
    const asked = Object.entries(c.requests_by_outcome || {});
    requests.textContent = "create requests: " + (asked.length ?
      asked.map(([r, n]) => r.replace("_", " ") + " " + n).join(" · ") : "none yet");
    box.append(title, bar, numbers, outcomes, requests);
    if (CONTROLS) {
      box.append(controls(c));
    }
    root.append(box);
  }
}
const CONTROLS = document.body.dataset.controls === "1";
const TOKEN_KEY = "dialer-api-token";
const said = {};  // campaign → what its last action answered
let waiting = null;  // the action that waits for a token
function controls(c) {
  const row = document.createElement("div");
  row.className = "controls";
  const allowed = {
    pause: c.status === "active",
    resume: c.status === "paused" || c.status === "finished",
    cancel: c.status === "active" || c.status === "paused",
  };
  for (const action of ["pause", "resume", "cancel"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = action;
    button.textContent = action;
    button.disabled = !allowed[action];
    button.addEventListener("click", () => act(c.name, action));
    row.append(button);
  }
  const note = document.createElement("span");
  note.className = "said";
  note.textContent = said[c.name] || "";
  row.append(note);
  return row;
}
function askForToken(note, action) {
  waiting = action;
  document.getElementById("token-note").textContent = note;
  document.getElementById("token-form").className = "asking";
  document.getElementById("token").focus();
}
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const given = document.getElementById("token").value.trim();
  if (!given) {
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, given);
  document.getElementById("token").value = "";
  document.getElementById("token-form").className = "";
  const next = waiting;
  waiting = null;
  if (next) {
    next();
  }
});
async function act(name, action) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    askForToken("", () => act(name, action));
    return;
  }
  if (action === "cancel" && !confirm("Cancel " + name + "? Its waiting leads end skipped.")) {
    return;
  }
  let answer;
  try {
    answer = await fetch("v1/campaigns/" + encodeURIComponent(name) + "/" + action, {
      method: "POST",
      headers: {Authorization: "Bearer " + token},
      cache: "no-store",
    });
  } catch (failure) {
    said[name] = "cannot reach dialer: " + failure;
    return refresh();
  }
  const body = await answer.json().catch(() => ({}));
  if (answer.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken("that token was refused: " + (body.detail || ""), () => act(name, action));
    return;
  }
  said[name] = answer.ok ? body.message : (body.detail || ("HTTP " + answer.status));
  return refresh();
}
async function refresh() {
  try {
    const answer = await fetch("status.json", {cache: "no-store"});
    if (!answer.ok) {
      throw new Error(answer.status === 401
        ? "this dashboard needs its token: open it once as /?token=…"
        : "HTTP " + answer.status);
    }
    render(await answer.json());
    document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (failure) {
    document.getElementById("updated").textContent = "cannot reach dialer: " + failure;
  }
}
refresh();
setInterval(refresh, 2000);
</script></body></html>
"""


def status_json(campaigns: list[dict[str, Any]]) -> bytes:
    return json.dumps(campaigns).encode()


def page(*, controls: bool) -> str:
    """The dashboard; with `controls`, pause, resume and cancel buttons that call the API."""
    return PAGE.replace('data-controls="0"', 'data-controls="1"') if controls else PAGE
