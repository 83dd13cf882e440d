// The wallboard: sign in, read the board once (GET supervisor/wallboard), then follow the
// real-time stream from the snapshot's position. Rows are keyed by id and updated in place,
// batched per animation frame; timers tick locally. Plain JavaScript, no build step
// (docs/plugins/supervisor.md#the-wallboard).

const API = new URL("../../../", location.href); // the page lives at <api>/supervisor/wallboard/page/
const STREAM = new URL("realtime", API);
STREAM.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const PATTERNS = [
  "agents.agent.state_changed",
  "agents.agent.created",
  "agents.agent.updated",
  "agents.agent.deleted",
  "agents.team.updated",
  "agents.team.deleted",
  "queues.queue.stats",
  "supervisor.alert.*",
  "supervisor.session.started",
  "supervisor.session.connected",
  "supervisor.session.mode_changed",
  "supervisor.session.ended",
  "calls.call.completed",
];
const STATE_NAMES = {
  offline: "Offline",
  available: "Available",
  reserved: "Call offered",
  on_call: "On a call",
  wrap_up: "Wrap-up",
  away: "Away",
};
const MODES = { monitor: "Listen", whisper: "Whisper", barge: "Barge" };
const DOING = { monitor: "listening", whisper: "whispering", barge: "barging in" };
const WORKING = new Set(["reserved", "on_call", "wrap_up"]);
const SILENCE_MS = 60_000; // no message, not even a heartbeat (20 s): the stream is dead
const RELOAD_DELAY_MS = 300; // agents or teams changed: coalesce the burst into one reload
const KEY = "kraliki.wallboard.";

const $ = (id) => document.getElementById(id);

// -- the signed-in session (this tab only: sessionStorage) ----------------------------------

const tokens = {
  get access() {
    return sessionStorage.getItem(KEY + "access");
  },
  get refresh() {
    return sessionStorage.getItem(KEY + "refresh");
  },
  get expiresAt() {
    return Number(sessionStorage.getItem(KEY + "expires-at") || 0);
  },
  save(pair) {
    sessionStorage.setItem(KEY + "access", pair.access_token);
    sessionStorage.setItem(KEY + "refresh", pair.refresh_token);
    sessionStorage.setItem(KEY + "expires-at", String(Date.now() + pair.expires_in * 1000));
  },
  clear() {
    for (const name of ["access", "refresh", "expires-at"]) {
      sessionStorage.removeItem(KEY + name);
    }
  },
};

class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }
}

let clockSkew = 0; // server clock minus ours, from the Date header (milliseconds)

function now() {
  return Date.now() + clockSkew;
}

function send(method, path, body) {
  const headers = { Accept: "application/json" };
  if (tokens.access) headers.Authorization = "Bearer " + tokens.access;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(new URL(path, API), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
}

async function api(method, path, body) {
  let response = await send(method, path, body).catch(() => null);
  if (response === null) throw new ApiError(0, { detail: "The server cannot be reached." });
  if (response.status === 401 && (await refreshTokens())) {
    response = await send(method, path, body); // a 401 did nothing: safe to repeat
  }
  const date = Date.parse(response.headers.get("Date") || "");
  if (!Number.isNaN(date)) clockSkew = date - Date.now();
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: `The server answered ${response.status}.` };
  }
  if (response.status === 401) signedOut("Your session has ended: sign in again.");
  if (!response.ok) throw new ApiError(response.status, data || {});
  return data;
}

let refreshing = null;

/** A new token pair; one refresh at a time (a refresh token is good for one use). */
function refreshTokens() {
  if (!tokens.refresh) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const response = await fetch(new URL("auth/refresh", API), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: tokens.refresh }),
      });
      if (!response.ok) return false;
      tokens.save(await response.json());
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

// -- signing in and out ----------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const error = $("sign-in-error");
  error.textContent = "";
  const organization = $("organization").value.trim();
  const response = await fetch(new URL("auth/login", API), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({
      tenant: organization,
      email: $("email").value.trim(),
      password: $("password").value,
    }),
  }).catch(() => null);
  if (response === null) {
    error.textContent = "The server cannot be reached.";
    return;
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    error.textContent =
      response.status === 401
        ? "Wrong organization, e-mail or password."
        : data.detail || data.title || `Sign-in failed (${response.status}).`;
    return;
  }
  tokens.save(data);
  localStorage.setItem(KEY + "organization", organization); // not secret; saves typing
  $("password").value = "";
  await start();
}

async function signOut() {
  const refresh = tokens.refresh;
  signedOut("");
  if (refresh) {
    await fetch(new URL("auth/logout", API), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: refresh }),
    }).catch(() => null);
  }
}

function signedOut(message) {
  tokens.clear();
  disconnect();
  clearBoard();
  $("board").hidden = true;
  $("sign-out").hidden = true;
  $("connection").hidden = true;
  $("totals").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("organization").value ||= localStorage.getItem(KEY + "organization") || "";
  ($("organization").value ? $("email") : $("organization")).focus();
}

async function start() {
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("connection").hidden = false;
  if (await loadBoard()) {
    connect();
  } else if ($("board").hidden && tokens.access) {
    signedOut(boardError); // no board to show the problem on (403: not a supervisor)
  }
}

// -- what the board holds --------------------------------------------------------------------

const board = {
  subject: "",
  can: { monitor: false, whisper: false, barge: false },
  labels: {}, // reason code -> label
  agents: new Map(), // id -> { data, el, parts, shown }
  queues: new Map(), // id -> { data, el, cells, shown }
  alerts: new Map(), // id -> alert
  sessions: new Map(), // id -> session
  position: 0, // the last stream position reflected on the board
  lastEventId: null,
};

const dirty = { agents: new Set(), queues: new Set(), alerts: false, totals: false };
let frame = 0;

/** Draw what changed at the next frame: one DOM pass per frame, however many events. */
function schedule() {
  if (frame) return;
  if (document.hidden) {
    frame = setTimeout(flush, 50); // no frames in a hidden tab: still keep up
  } else {
    frame = requestAnimationFrame(flush);
  }
}

function flush() {
  frame = 0;
  const at = now();
  for (const id of dirty.agents) {
    const agent = board.agents.get(id);
    if (agent) drawAgent(agent, at);
  }
  dirty.agents.clear();
  for (const id of dirty.queues) {
    const queue = board.queues.get(id);
    if (queue) drawQueue(queue, at);
  }
  dirty.queues.clear();
  if (dirty.alerts) drawAlerts();
  dirty.alerts = false;
  if (dirty.totals) drawTotals();
  dirty.totals = false;
  window.wallboard.flushes += 1;
}

function clearBoard() {
  board.agents.clear();
  board.queues.clear();
  board.alerts.clear();
  board.sessions.clear();
  board.position = 0;
  board.lastEventId = null;
  $("agents").replaceChildren();
  $("queues").replaceChildren();
  $("alerts").replaceChildren();
}

// -- the snapshot ----------------------------------------------------------------------------

let boardError = ""; // the last snapshot's refusal
let loading = null; // while a snapshot loads, events wait here (then the newer ones apply)
let reloadTimer = null;

/** Read the board (again). Events that arrive meanwhile are kept and applied after it when
 * they are newer than the snapshot: nothing between the snapshot and the stream is lost. */
async function loadBoard() {
  if (loading) return loading.done;
  const pending = [];
  let finish;
  loading = { pending, done: new Promise((resolve) => (finish = resolve)) };
  let ok = false;
  try {
    const data = await api("GET", "supervisor/wallboard");
    applySnapshot(data);
    for (const event of pending) {
      if (event.position > data.stream.position) apply(event);
    }
    window.wallboard.snapshots += 1;
    hideError();
    ok = true;
  } catch (failure) {
    boardError = failure.message;
    if (failure.status !== 401) showError(failure.message);
  } finally {
    loading = null;
    finish(ok);
  }
  return ok;
}

function scheduleReload() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(loadBoard, RELOAD_DELAY_MS);
}

function applySnapshot(data) {
  board.subject = data.subject;
  board.can = data.can;
  board.labels = data.reason_labels || {};
  if (data.stream.position >= board.position) {
    board.position = data.stream.position;
    board.lastEventId = data.stream.last_event_id;
  }
  // Queues, in the snapshot's order, rows reused by id.
  const queueRows = [];
  const seenQueues = new Set();
  for (const queue of data.queues) {
    seenQueues.add(queue.id);
    let entry = board.queues.get(queue.id);
    if (!entry) {
      entry = makeQueueRow(queue);
      board.queues.set(queue.id, entry);
    }
    entry.data = queue;
    dirty.queues.add(queue.id);
    queueRows.push(entry.el);
  }
  for (const id of [...board.queues.keys()]) if (!seenQueues.has(id)) board.queues.delete(id);
  $("queues").replaceChildren(...queueRows);
  $("no-queues").hidden = data.queues.length > 0;
  // Agents, by name.
  const agentTiles = [];
  const seenAgents = new Set();
  for (const agent of data.agents) {
    seenAgents.add(agent.id);
    let entry = board.agents.get(agent.id);
    if (!entry) {
      entry = makeAgentTile(agent);
      board.agents.set(agent.id, entry);
    }
    entry.data = { ...agent, call_ended: false };
    dirty.agents.add(agent.id);
    agentTiles.push(entry.el);
  }
  for (const id of [...board.agents.keys()]) if (!seenAgents.has(id)) board.agents.delete(id);
  $("agents").replaceChildren(...agentTiles);
  $("no-agents").hidden = data.agents.length > 0;
  $("agent-count").textContent = String(data.agents.length);
  board.alerts = new Map(data.alerts.map((alert) => [alert.id, alert]));
  board.sessions = new Map(data.sessions.map((session) => [session.id, session]));
  dirty.alerts = true;
  dirty.totals = true;
  $("board").hidden = false;
  $("totals").hidden = false;
  schedule();
}

// -- events ----------------------------------------------------------------------------------

function received(event) {
  if (event.position <= board.position) return; // replayed, or already in the snapshot
  board.position = event.position;
  board.lastEventId = event.id;
  window.wallboard.events += 1;
  if (window.wallboard.arrivals && event.type === "agents.agent.state_changed") {
    // The latency benchmark's trace: when the page had the event (performance clock).
    window.wallboard.arrivals.push([event.data.agent_id, performance.now()]);
  }
  if (loading) {
    loading.pending.push(event);
    return;
  }
  apply(event);
}

function apply(event) {
  const data = event.data || {};
  switch (event.type) {
    case "agents.agent.state_changed":
      return agentState(event, data);
    case "queues.queue.stats":
      return queueStats(data);
    case "supervisor.alert.raised":
      board.alerts.set(data.alert_id, { ...data, id: data.alert_id, raised_at: event.occurred_at });
      dirty.alerts = true;
      return schedule();
    case "supervisor.alert.cleared":
      board.alerts.delete(data.alert_id);
      dirty.alerts = true;
      return schedule();
    case "supervisor.session.started":
      // Known already: the answer to our own start came first, maybe a switch too.
      if (board.sessions.has(data.session_id)) return;
    // falls through
    case "supervisor.session.connected":
    case "supervisor.session.mode_changed":
      return putSession({
        id: data.session_id,
        agent_id: data.agent_id,
        supervisor: data.supervisor,
        mine: data.supervisor === board.subject,
        mode: data.mode,
        status: data.status,
      });
    case "supervisor.session.ended":
      return dropSession(data.session_id);
    case "calls.call.completed":
      return callEnded(data.call_id);
    default:
      // agents or teams changed: who is on the board may have changed
      if (event.type.startsWith("agents.")) scheduleReload();
  }
}

function agentState(event, data) {
  const entry = board.agents.get(data.agent_id);
  if (!entry) return; // not on this board (another team's)
  const agent = entry.data;
  if (data.state_version <= agent.state_version) return; // the board already has it
  const callId = WORKING.has(data.to_state) ? data.call_id || agent.current_call_id : null;
  if (callId !== agent.current_call_id) agent.sentiment = null;
  Object.assign(agent, {
    state: data.to_state,
    state_since: event.occurred_at,
    reason_code: data.reason_code,
    current_call_id: callId,
    call_started_at: data.to_state === "on_call" ? event.occurred_at : null,
    call_ended: false,
    state_version: data.state_version,
  });
  dirty.agents.add(data.agent_id);
  dirty.totals = true;
  schedule();
}

function queueStats(data) {
  const entry = board.queues.get(data.queue_id);
  if (!entry) {
    scheduleReload(); // a queue the board does not know yet
    return;
  }
  const queue = entry.data;
  if (Date.parse(data.at) < Date.parse(queue.at)) return; // older figures
  Object.assign(queue, {
    waiting: data.waiting,
    longest_wait_seconds: data.oldest_wait_seconds,
    service_level_today: data.service_level_today,
    offered_today: data.offered_today,
    answered_today: data.answered_today,
    abandoned_today: data.abandoned_today,
    agents: { ...queue.agents, ...data.agents },
    at: data.at,
  });
  dirty.queues.add(data.queue_id);
  dirty.totals = true;
  schedule();
}

function putSession(session) {
  const known = board.sessions.get(session.id);
  board.sessions.set(session.id, { ...known, ...session });
  if (known && known.agent_id !== session.agent_id) dirty.agents.add(known.agent_id);
  dirty.agents.add(session.agent_id);
  schedule();
}

function dropSession(id) {
  const known = board.sessions.get(id);
  if (!known) return;
  board.sessions.delete(id);
  dirty.agents.add(known.agent_id);
  schedule();
}

function callEnded(callId) {
  for (const [id, entry] of board.agents) {
    if (entry.data.current_call_id === callId && entry.data.state === "on_call") {
      entry.data.call_ended = true;
      dirty.agents.add(id);
      schedule();
    }
  }
}

// -- drawing ---------------------------------------------------------------------------------

function duration(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = String(whole % 60).padStart(2, "0");
  return hours ? `${hours}:${String(minutes).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

function since(iso, at) {
  return duration((at - Date.parse(iso)) / 1000);
}

/** Set a text only when it changed: a wallboard of 500 tiles rewrites few nodes a second. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function makeAgentTile(agent) {
  const el = $("agent-template").content.firstElementChild.cloneNode(true);
  el.dataset.agentId = agent.id;
  const parts = {
    name: el.querySelector(".agent-name"),
    sentiment: el.querySelector(".sentiment"),
    badge: el.querySelector(".badge"),
    inState: el.querySelector(".in-state"),
    detail: el.querySelector(".agent-detail"),
    supervision: el.querySelector(".agent-supervision"),
  };
  return { data: agent, el, parts, shown: {} };
}

function sessionsOf(agentId) {
  const found = [];
  for (const session of board.sessions.values()) {
    if (session.agent_id === agentId) found.push(session);
  }
  return found;
}

function drawAgent(entry, at) {
  const { data: agent, el, parts, shown } = entry;
  setText(parts.name, agent.display_name);
  el.setAttribute("aria-label", agent.display_name);
  if (el.dataset.state !== agent.state) el.dataset.state = agent.state;
  setText(parts.badge, STATE_NAMES[agent.state] || agent.state);
  setText(parts.inState, since(agent.state_since, at));
  setText(parts.detail, detailOf(agent, at));
  const sentiment = agent.sentiment && agent.current_call_id ? agent.sentiment.label : "";
  if (shown.sentiment !== sentiment) {
    shown.sentiment = sentiment;
    parts.sentiment.hidden = !sentiment;
    parts.sentiment.dataset.sentiment = sentiment;
    parts.sentiment.textContent = sentiment ? `Caller: ${sentiment}` : "";
  }
  drawSupervision(entry);
}

function detailOf(agent, at) {
  if (agent.state === "away") {
    const code = agent.reason_code;
    return code ? board.labels[code] || code : "";
  }
  if (agent.state === "on_call" && agent.call_started_at) {
    return agent.call_ended ? "Call ended" : `Call ${since(agent.call_started_at, at)}`;
  }
  if (agent.state === "reserved") return "Ringing";
  if (agent.state === "wrap_up") return "After the call";
  return "";
}

/** Listen / Whisper / Barge on a call; a session of yours shows its mode, switch and End. */
function drawSupervision(entry) {
  const agent = entry.data;
  const sessions = sessionsOf(agent.id);
  const mine = sessions.find((session) => session.mine);
  const others = sessions.filter((session) => !session.mine);
  const onCall = agent.state === "on_call" && !agent.call_ended;
  const key = JSON.stringify([
    onCall,
    mine && [mine.id, mine.mode, mine.status],
    others.map((s) => s.mode),
    board.can,
  ]);
  if (entry.shown.supervision === key) return;
  entry.shown.supervision = key;
  const holder = entry.parts.supervision;
  const nodes = [];
  if (mine) {
    const status = mine.status === "connecting" ? " (ringing you)" : "";
    nodes.push(note(`You are ${DOING[mine.mode] || mine.mode}${status}`, "mine"));
    const group = buttons(
      Object.keys(MODES)
        .filter((mode) => mode !== mine.mode && board.can[mode])
        .map((mode) => button(MODES[mode], "switch", mode, mine.id)),
    );
    group.append(button("End", "end", "", mine.id, "danger"));
    nodes.push(group);
  } else if (onCall) {
    const modes = Object.keys(MODES).filter((mode) => board.can[mode]);
    if (modes.length) nodes.push(buttons(modes.map((mode) => button(MODES[mode], "start", mode))));
  }
  if (others.length) {
    nodes.push(note(`Supervised (${others.map((s) => s.mode).join(", ")})`, "others"));
  }
  holder.replaceChildren(...nodes);
}

function note(text, kind) {
  const p = document.createElement("p");
  p.className = `supervision-note ${kind}`;
  p.textContent = text;
  return p;
}

function buttons(list) {
  const group = document.createElement("div");
  group.className = "actions";
  group.setAttribute("role", "group");
  group.append(...list);
  return group;
}

function button(text, action, mode, sessionId, kind) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.dataset.action = action;
  if (mode) b.dataset.mode = mode;
  if (sessionId) b.dataset.sessionId = sessionId;
  if (kind) b.className = kind;
  return b;
}

function makeQueueRow(queue) {
  const el = document.createElement("tr");
  el.dataset.queueId = queue.id;
  const name = document.createElement("th");
  name.scope = "row";
  el.append(name);
  const cells = { name };
  for (const key of [
    "waiting",
    "longest",
    "service",
    "abandoned",
    "available",
    "on_call",
    "wrap_up",
    "away",
  ]) {
    const td = document.createElement("td");
    td.className = `num ${key}`;
    if (key === "longest") td.setAttribute("role", "timer");
    el.append(td);
    cells[key] = td;
  }
  return { data: queue, el, cells, shown: {} };
}

function longestWait(queue, at) {
  if (!queue.waiting) return 0;
  return queue.longest_wait_seconds + Math.max(0, (at - Date.parse(queue.at)) / 1000);
}

function drawQueue(entry, at) {
  const { data: queue, cells, el } = entry;
  setText(cells.name, queue.active ? queue.name : `${queue.name} (inactive)`);
  setText(cells.waiting, String(queue.waiting));
  setText(cells.longest, queue.waiting ? duration(longestWait(queue, at)) : "–");
  const level = queue.service_level_today;
  setText(cells.service, level === null || level === undefined ? "–" : `${level.toFixed(1)} %`);
  const below = level !== null && level !== undefined && level < queue.service_level_target;
  cells.service.classList.toggle("below", below);
  cells.service.title = `Target ${queue.service_level_target} %`;
  setText(cells.abandoned, String(queue.abandoned_today));
  const agents = queue.agents || {};
  setText(cells.available, String(agents.available || 0));
  setText(cells.on_call, String(agents.on_call || 0));
  setText(cells.wrap_up, String(agents.wrap_up || 0));
  setText(cells.away, String(agents.away || 0));
  el.classList.toggle("busy", queue.waiting > 0 && !(agents.available > 0));
}

function drawAlerts() {
  const list = [...board.alerts.values()].sort((a, b) =>
    a.raised_at < b.raised_at ? 1 : a.raised_at > b.raised_at ? -1 : 0,
  );
  $("alert-count").textContent = String(list.length);
  $("alert-count").dataset.count = String(list.length);
  $("no-alerts").hidden = list.length > 0;
  $("alerts").replaceChildren(
    ...list.map((alert) => {
      const li = document.createElement("li");
      li.className = "alert";
      li.dataset.alertId = alert.id;
      li.dataset.severity = alert.severity;
      const severity = document.createElement("span");
      severity.className = "severity";
      severity.textContent = alert.severity;
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = alert.message;
      const time = document.createElement("time");
      time.dateTime = alert.raised_at;
      time.textContent = new Date(alert.raised_at).toLocaleTimeString();
      li.append(severity, message, time);
      return li;
    }),
  );
}

function drawTotals() {
  const count = { available: 0, on_call: 0, wrap_up: 0, away: 0 };
  for (const { data } of board.agents.values()) {
    if (data.state in count) count[data.state] += 1;
  }
  let waiting = 0;
  for (const { data } of board.queues.values()) waiting += data.waiting;
  setText(
    $("totals"),
    `${waiting} waiting · ${count.available} available · ${count.on_call} on a call · ` +
      `${count.wrap_up} in wrap-up · ${count.away} away`,
  );
}

/** Every second: time in state, call durations, longest waits (text only where it moved). */
function tick() {
  if ($("board").hidden) return;
  const at = now();
  for (const { data, parts } of board.agents.values()) {
    setText(parts.inState, since(data.state_since, at));
    if (data.state === "on_call") setText(parts.detail, detailOf(data, at));
  }
  for (const { data, cells } of board.queues.values()) {
    if (data.waiting) setText(cells.longest, duration(longestWait(data, at)));
  }
}

// -- supervising from the board --------------------------------------------------------------

async function act(target) {
  const tile = target.closest("[data-agent-id]");
  const agent = tile && board.agents.get(tile.dataset.agentId);
  if (!agent) return;
  const { action, mode, sessionId } = target.dataset;
  const group = target.parentElement;
  for (const b of group.querySelectorAll("button")) b.disabled = true;
  try {
    if (action === "start") {
      const session = await api("POST", "supervisor/sessions", { agent_id: agent.data.id, mode });
      putSession(sessionOut(session, agent.data.id));
    } else if (action === "switch") {
      const session = await api("PATCH", `supervisor/sessions/${sessionId}`, { mode });
      putSession(sessionOut(session, agent.data.id));
    } else if (action === "end") {
      await api("DELETE", `supervisor/sessions/${sessionId}`);
      dropSession(sessionId);
    }
    hideError();
  } catch (failure) {
    const what = action === "end" ? "End" : MODES[mode] || action;
    showError(`${what} (${agent.data.display_name}): ${failure.message}`);
    for (const b of group.querySelectorAll("button")) b.disabled = false;
  }
}

function sessionOut(session, agentId) {
  return {
    id: session.id,
    agent_id: session.agent_id || agentId,
    supervisor: session.supervisor || board.subject,
    mine: true,
    mode: session.mode,
    status: session.status || "connecting",
  };
}

function showError(message) {
  const bar = $("board-error");
  bar.textContent = message;
  bar.hidden = false;
}

function hideError() {
  $("board-error").hidden = true;
  $("board-error").textContent = "";
}

// -- the real-time stream --------------------------------------------------------------------

let socket = null;
let retries = 0;
let retryTimer = null;
let silenceTimer = null;
let refusedInARow = 0;

function setConnection(state, text) {
  const label = $("connection");
  label.dataset.connection = state;
  label.textContent = text;
}

async function connect() {
  disconnect();
  if (!tokens.access) return;
  if (now() > tokens.expiresAt - 30_000) {
    await refreshTokens(); // a stream must start with a live token
  }
  if (!tokens.access) return;
  setConnection("connecting", "Connecting…");
  const ws = new WebSocket(STREAM, ["kraliki.v1", "bearer." + tokens.access]);
  socket = ws;
  ws.addEventListener("open", () => {
    const subscribe = { type: "subscribe", patterns: PATTERNS };
    // Resume after the last event on the board (the snapshot's, or the last one received).
    if (board.lastEventId) subscribe.last_event_id = board.lastEventId;
    ws.send(JSON.stringify(subscribe));
  });
  ws.addEventListener("message", (message) => {
    if (socket !== ws) return;
    expectMore(ws);
    const data = JSON.parse(message.data);
    if (data.type === "event") {
      received(data.event);
    } else if (data.type === "ready") {
      retries = 0;
      refusedInARow = 0;
      setConnection("live", "Live");
      window.wallboard.ready += 1;
      // Without a resume point (no event yet), events may have passed since the snapshot.
      if (data.position > board.position && !board.lastEventId) loadBoard();
    } else if (data.type === "reset") {
      window.wallboard.resets += 1;
      loadBoard(); // too much was missed to replay: the API has the truth
    }
  });
  ws.addEventListener("close", (close) => {
    if (socket !== ws) return; // replaced or closed on purpose
    socket = null;
    clearTimeout(silenceTimer);
    if (!tokens.access) return;
    if (close.code === 4003) {
      setConnection("refused", "Not allowed to follow live updates");
      return;
    }
    if (close.code === 4001 && ++refusedInARow > 2) {
      signedOut("Your session has ended: sign in again.");
      return;
    }
    setConnection("reconnecting", "Reconnecting…");
    const delay = Math.min(30_000, 1000 * 2 ** retries++);
    retryTimer = setTimeout(async () => {
      if (close.code === 4001) await refreshTokens();
      connect();
    }, delay);
  });
  expectMore(ws);
}

function expectMore(ws) {
  clearTimeout(silenceTimer);
  silenceTimer = setTimeout(() => ws.close(1000, "silent"), SILENCE_MS);
}

function disconnect() {
  clearTimeout(retryTimer);
  clearTimeout(silenceTimer);
  const ws = socket;
  socket = null;
  if (ws) ws.close(1000, "bye");
  setConnection("off", "Not connected");
}

// -- wiring ----------------------------------------------------------------------------------

function main() {
  // What tests and the latency benchmark read (counts only; the board is the DOM).
  window.wallboard = { events: 0, snapshots: 0, flushes: 0, ready: 0, resets: 0 };
  Object.defineProperty(window.wallboard, "position", { get: () => board.position });
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("agents").addEventListener("click", (event) => {
    const target = event.target.closest("button[data-action]");
    if (target) act(target);
  });
  window.addEventListener("online", () => {
    if (tokens.access && !socket) connect();
  });
  setInterval(tick, 1000);
  if (tokens.access) {
    start();
  } else {
    signedOut("");
  }
}

main();
