// The agent page: sign in, your state, the call offered to you, your wrap-up. Everything goes
// through the public API with your own token; the real-time stream only says when to fetch
// again. Plain JavaScript, no build step (docs/plugins/agents.md#the-agent-page).

const API = new URL("../../", location.href); // the page lives at <api>/agents/page/
const STREAM = new URL("realtime", API);
STREAM.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const PATTERNS = [
  "agents.agent.state_changed",
  "queues.call.offered",
  "queues.call.offer_ended",
  "queues.call.answered",
  "queues.call.completed",
];
const STATE_NAMES = {
  offline: "Offline",
  available: "Available",
  reserved: "Call offered",
  on_call: "On a call",
  wrap_up: "Wrap-up",
  away: "Away",
};
const SILENCE_MS = 60_000; // no message, not even a heartbeat (20 s): the stream is dead
const KEY = "kraliki.agent.";

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
    for (const name of ["access", "refresh", "expires-at", "last-event-id"]) {
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
  let response = await send(method, path, body);
  if (response.status === 401 && (await refreshTokens())) {
    response = await send(method, path, body); // a 401 did nothing: safe to repeat
  }
  const date = Date.parse(response.headers.get("Date") || "");
  if (!Number.isNaN(date)) clockSkew = date - Date.now();
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (response.status === 401) {
    signedOut("Your session has ended: sign in again.");
  }
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
  me = null;
  offer = null;
  $("workspace").hidden = true;
  $("no-profile").hidden = true;
  $("sign-out").hidden = true;
  $("connection").hidden = true;
  $("offer").replaceChildren();
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("organization").value ||= localStorage.getItem(KEY + "organization") || "";
  ($("organization").value ? $("email") : $("organization")).focus();
}

async function start() {
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("connection").hidden = false;
  await Promise.all([loadReasons(), reload()]);
  await loadPanels();
  connect();
}

// -- panels other plugins add (kraliki_agent_page_panels) -------------------------------------

const panelReloads = []; // fn(me) per mounted panel
const panelListeners = []; // fn(event) per panel that listens to the stream
const panelPatterns = new Set(); // the patterns panels asked for (AgentPagePanel.patterns)
let panelsLoaded = false;

async function loadPanels() {
  if (panelsLoaded || !me) return;
  panelsLoaded = true;
  let panels = [];
  try {
    const response = await fetch(new URL("agents/page/panels.json", API), { cache: "no-store" });
    panels = (await response.json()).panels || [];
  } catch {
    return; // no panels: the page works without them
  }
  const page = {
    api,
    me: () => me,
    onReload: (fn) => panelReloads.push(fn),
    onEvent: (fn) => panelListeners.push(fn),
  };
  for (const panel of panels) {
    for (const pattern of panel.patterns || []) panelPatterns.add(pattern);
    const card = document.createElement("section");
    card.className = "card panel";
    card.id = `panel-${panel.id}`;
    const title = document.createElement("h2");
    title.id = `panel-${panel.id}-title`;
    title.textContent = panel.title;
    card.setAttribute("aria-labelledby", title.id);
    card.append(title);
    $("workspace").insertBefore(card, $("profile"));
    try {
      const module = await import(new URL(panel.script, API).href);
      await module.mount(card, page);
    } catch (error) {
      const failed = document.createElement("p");
      failed.className = "error";
      failed.textContent = `This panel could not start: ${error.message}`;
      card.append(failed);
    }
  }
}

// -- what the page shows ---------------------------------------------------------------------

let me = null; // AgentOut
let offer = null; // QueueOfferOut, or null
let reasons = []; // the away reason codes an agent may choose (active, not built in)
let reasonLabels = new Map(); // every code (missed included) -> its label
const contacts = new Map(); // offer id -> the contact's name (or "")
let wrapUpCall = null; // the call the wrap-up form belongs to

async function loadReasons() {
  try {
    const codes = await api("GET", "agents/reason-codes");
    reasons = codes.filter((code) => code.active && !code.builtin);
    reasonLabels = new Map(codes.map((code) => [code.code, code.label || code.code]));
  } catch {
    reasons = [];
  }
  const select = $("away-reason");
  select.replaceChildren(
    ...reasons.map((code) => new Option(code.label || code.code, code.code)),
  );
}

let loading = null;
let loadAgain = false;

/** Fetch the agent and the offer again (coalesced: events come in bursts). */
function reload() {
  if (loading) {
    loadAgain = true;
    return loading;
  }
  loading = (async () => {
    do {
      loadAgain = false;
      await load();
    } while (loadAgain);
  })().finally(() => {
    loading = null;
  });
  return loading;
}

async function load() {
  if (!tokens.access) return;
  try {
    me = await api("GET", "agents/me");
  } catch (error) {
    if (error.status === 404) {
      showNoProfile(error.message);
    } else if (error.status !== 401) {
      $("presence-error").textContent = error.message;
    }
    return;
  }
  try {
    offer = (await api("GET", "queues/offers/mine")).offer;
  } catch {
    offer = null; // queues not enabled for this organization: no offers
  }
  if (offer && !contacts.has(offer.id)) {
    contacts.set(offer.id, await contactOf(offer));
  }
  $("no-profile").hidden = true;
  $("workspace").hidden = false;
  render();
  for (const fn of panelReloads) {
    try {
      await fn(me);
    } catch {
      // a panel's trouble is its own: it shows its errors itself
    }
  }
}

/** Who calls: the contact linked to the call, else the contact with the caller's number
 * ("" when neither is known, or the organization has no contacts). */
async function contactOf(shown) {
  const known = shown.context && shown.context.contact;
  if (known) return typeof known === "string" ? known : known.name || "";
  if (shown.call_id) {
    try {
      const call = await api("GET", `calls/${shown.call_id}`);
      const contact = call.links && call.links.contact;
      if (contact && contact.name) return contact.name;
    } catch {
      // no permission, or no such call: try the number
    }
  }
  const number = shown.kind === "callback" ? shown.callback_number : shown.caller_number;
  if (!number) return "";
  try {
    const found = await api("GET", `contacts?limit=1&q=${encodeURIComponent(number)}`);
    const contact = found.items[0];
    if (!contact) return "";
    return contact.company ? `${contact.name} (${contact.company})` : contact.name;
  } catch {
    return "";
  }
}

function showNoProfile(message) {
  $("workspace").hidden = true;
  const notice = $("no-profile");
  notice.textContent = `${message}. Ask an administrator to make you an agent.`;
  notice.hidden = false;
}

function render() {
  renderState();
  renderWrapUp();
  renderOffer();
  renderProfile();
  tick();
}

function renderState() {
  const state = me.state;
  const badge = $("state");
  badge.textContent = STATE_NAMES[state] || state;
  badge.dataset.state = state;
  $("state-detail").textContent =
    state === "away" && me.reason_code
      ? `(${reasonLabels.get(me.reason_code) || me.reason_code})`
      : "";
  const since = new Date(me.state_since);
  $("state-since").dateTime = me.state_since;
  $("state-since").textContent = since.toLocaleTimeString();
  const free = ["offline", "available", "away", "wrap_up"].includes(state);
  const available = $("go-available");
  available.disabled = !free || state === "available" || !me.active;
  available.setAttribute("aria-pressed", String(state === "available"));
  const away = $("go-away");
  away.disabled = !free || reasons.length === 0;
  away.setAttribute("aria-pressed", String(state === "away"));
  $("away-reason").disabled = away.disabled;
  if (state === "away" && reasons.some((code) => code.code === me.reason_code)) {
    $("away-reason").value = me.reason_code;
  }
  const offline = $("go-offline");
  offline.disabled = !free || state === "offline";
  offline.setAttribute("aria-pressed", String(state === "offline"));
}

function renderWrapUp() {
  const section = $("wrap-up");
  const working = ["on_call", "wrap_up"].includes(me.state) && me.current_call_id;
  section.hidden = !working;
  if (!working) return;
  if (wrapUpCall !== me.current_call_id) {
    wrapUpCall = me.current_call_id; // a new call: a blank form
    $("wrap-up-form").reset();
    $("wrap-up-status").textContent = "";
    $("wrap-up-error").textContent = "";
  }
  $("wrap-up-time").hidden = me.state !== "wrap_up" || !me.wrap_up_until;
  $("wrap-up-done").disabled = me.state !== "wrap_up";
}

function renderOffer() {
  const holder = $("offer");
  const shown = holder.firstElementChild;
  if (!offer) {
    if (shown) holder.replaceChildren();
    return;
  }
  const contact = contacts.get(offer.id) || "";
  const key = `${offer.id}:${offer.status}:${contact}`;
  if (shown && shown.dataset.key === key) return; // unchanged: nothing to announce
  const card = $("offer-template").content.firstElementChild.cloneNode(true);
  card.dataset.key = key;
  card.dataset.offerId = offer.id; // the offer this card shows, whatever comes next
  card.dataset.status = offer.status;
  const callback = offer.kind === "callback";
  card.querySelector(".offer-title").textContent =
    offer.status === "pending"
      ? callback
        ? "Callback offered to you"
        : "Call offered to you"
      : offer.status === "ringing"
        ? "Your phone is ringing"
        : "Connecting the caller";
  card.querySelector(".offer-caller").textContent = callback
    ? `${offer.callback_number || offer.caller_number} (callback)`
    : offer.caller_number || "Unknown number";
  card.querySelector(".offer-contact").textContent = contact || "Not known";
  card.querySelector(".offer-queue").textContent = offer.queue_name;
  const path = ivrPath(offer.context || {});
  const pathHolder = card.querySelector(".offer-path");
  if (path.length) {
    const list = document.createElement("ol");
    list.className = "path";
    list.append(...path.map((step) => Object.assign(document.createElement("li"), { textContent: step })));
    pathHolder.replaceChildren(list);
  } else {
    pathHolder.textContent = "No IVR";
  }
  const choices = ivrChoices(offer.context || {});
  card.querySelector(".offer-choices").textContent = choices;
  card.querySelector(".offer-choices").hidden = !choices;
  card.querySelector(".offer-choices-term").hidden = !choices;
  for (const timer of card.querySelectorAll(".offer-wait, .offer-expiry")) {
    timer.setAttribute("role", "timer"); // ticks every second: not announced
  }
  const accept = card.querySelector(".offer-accept");
  accept.hidden = offer.status !== "pending";
  accept.addEventListener("click", () => decide(card, "accept"));
  const decline = card.querySelector(".offer-decline");
  decline.hidden = !["pending", "ringing"].includes(offer.status);
  decline.addEventListener("click", () => decide(card, "decline"));
  holder.replaceChildren(card);
}

/** The IVR nodes the caller passed through (the queues plugin's `context.ivr.path`). */
function ivrPath(context) {
  const path = (context.ivr && context.ivr.path) || context.ivr_path || [];
  return Array.isArray(path) ? path.map(String) : [];
}

function ivrChoices(context) {
  const variables = (context.ivr && context.ivr.variables) || {};
  return Object.entries(variables)
    .filter(([, value]) => ["string", "number", "boolean"].includes(typeof value))
    .slice(0, 12)
    .map(([name, value]) => `${name}: ${value}`)
    .join(", ");
}

function renderProfile() {
  $("profile-name").textContent = me.display_name;
  const reach = me.reach;
  $("profile-reach").textContent =
    reach.kind === "loopback" ? "Simulated phone (loopback)" : `${reach.address} (${reach.kind})`;
  $("profile-skills").textContent =
    me.skills.map((skill) => `${skill.skill} ${skill.level}`).join(", ") || "None";
  $("profile-languages").textContent = me.languages.join(", ") || "None";
  $("profile-offers").textContent = me.auto_accept
    ? "Ring my phone at once"
    : "Ask me first (accept here)";
}

function minutes(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

/** Every second: the countdowns and the caller's wait. */
function tick() {
  if (me && me.state === "wrap_up" && me.wrap_up_until) {
    $("wrap-up-countdown").textContent = minutes((Date.parse(me.wrap_up_until) - now()) / 1000);
  }
  const card = $("offer").firstElementChild;
  if (offer && card) {
    card.querySelector(".offer-wait").textContent = minutes(
      (now() - Date.parse(offer.entered_at)) / 1000,
    );
    const left = (Date.parse(offer.expires_at) - now()) / 1000;
    card.querySelector(".offer-expiry").textContent =
      offer.status === "pending" ? `Answer within ${minutes(left)}` : "";
  }
}

// -- what the agent does ---------------------------------------------------------------------

async function changeState(state) {
  const error = $("presence-error");
  error.textContent = "";
  const body = { state };
  if (state === "away") body.reason_code = $("away-reason").value;
  try {
    me = await api("PUT", "agents/me/state", body);
    render();
  } catch (failure) {
    error.textContent = failure.message;
    await reload();
  }
}

async function decide(card, decision) {
  for (const button of card.querySelectorAll("button")) button.disabled = true;
  try {
    await api("POST", `queues/offers/${card.dataset.offerId}/${decision}`);
  } catch (failure) {
    card.querySelector(".offer-error").textContent = failure.message;
  }
  await reload();
}

async function wrapUp(event) {
  event.preventDefault();
  const done = event.submitter && event.submitter.value === "done";
  const disposition = $("disposition").value.trim();
  const notes = $("notes").value;
  const body = { done };
  if (disposition) body.disposition = disposition;
  if (notes.trim()) body.notes = notes;
  $("wrap-up-error").textContent = "";
  $("wrap-up-status").textContent = "";
  try {
    const answer = await api("POST", "agents/me/wrap-up", body);
    me = answer.agent;
    $("wrap-up-status").textContent = done ? "Wrap-up finished." : "Saved.";
    render();
  } catch (failure) {
    $("wrap-up-error").textContent = failure.message;
  }
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
    const lastEventId = sessionStorage.getItem(KEY + "last-event-id");
    const patterns = [...new Set([...PATTERNS, ...panelPatterns])];
    const subscribe = { type: "subscribe", patterns };
    if (lastEventId) subscribe.last_event_id = lastEventId; // resume where we left off
    ws.send(JSON.stringify(subscribe));
  });
  ws.addEventListener("message", (message) => {
    if (socket !== ws) return;
    expectMore(ws);
    const data = JSON.parse(message.data);
    if (data.type === "ready") {
      retries = 0;
      refusedInARow = 0;
      setConnection("live", "Live updates on");
      reload(); // whatever happened while we were away
    } else if (data.type === "event") {
      sessionStorage.setItem(KEY + "last-event-id", data.event.id);
      for (const fn of panelListeners) {
        try {
          fn(data.event);
        } catch {
          // a panel's trouble is its own
        }
      }
      if (PATTERNS.includes(data.event.type) && concernsMe(data.event)) reload();
    } else if (data.type === "reset") {
      reload(); // too much was missed to replay: the API has the truth
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

function concernsMe(event) {
  const data = event.data || {};
  return !me || data.agent_id === me.id;
}

// -- wiring ----------------------------------------------------------------------------------

function main() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("go-available").addEventListener("click", () => changeState("available"));
  $("go-away").addEventListener("click", () => changeState("away"));
  $("go-offline").addEventListener("click", () => changeState("offline"));
  $("wrap-up-form").addEventListener("submit", wrapUp);
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
