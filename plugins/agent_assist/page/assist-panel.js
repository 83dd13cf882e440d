// The Assist panel of the agent page (agent_assist): while you are on a call, the knowledge
// base's articles and a suggested reply from what the customer just said, with Useful, Not
// useful and Used buttons (your feedback re-ranks the organization's next suggestions).
// Plain JavaScript, no build step. The real-time stream says when a suggestion is made for
// you (agent_assist.suggestion.created, ids only); the suggestion itself comes through the
// API with your token (docs/plugins/agent-assist.md#the-assist-panel).

const CREATED = "agent_assist.suggestion.created";
const SHOWN = 5; // the newest suggestions of the call

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function style() {
  const href = new URL("assist-panel.css", import.meta.url).href;
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(el("link", { rel: "stylesheet", href }));
}

export function mount(card, page) {
  style();
  let callId = null; // the call whose suggestions are shown
  let loading = null;
  const feedback = new Map(); // "<suggestion>:<article>" -> {useful, used}

  const status = el("p", { class: "muted assist-status", role: "status" });
  const list = el("div", { class: "assist-list", "aria-live": "polite" });
  const error = el("p", { class: "error assist-error", role: "alert" });
  card.append(status, list, error);

  function idle() {
    status.textContent = "Suggestions appear here while you are on a call.";
  }

  async function load(call) {
    callId = call;
    if (!call) {
      list.replaceChildren();
      idle();
      return;
    }
    loading = (async () => {
      try {
        const found = await page.api("GET", `agent-assist/calls/${call}/suggestions`);
        if (callId !== call) return; // another call meanwhile
        error.textContent = "";
        render(found.slice(0, SHOWN));
      } catch (failure) {
        error.textContent = failure.message;
      }
    })();
    await loading;
  }

  function render(suggestions) {
    status.textContent = suggestions.length
      ? ""
      : "Listening: suggestions appear when the customer asks about something the knowledge base knows.";
    list.replaceChildren(...suggestions.map(suggestionCard));
  }

  function suggestionCard(suggestion) {
    const box = el("article", { class: "assist-suggestion", dataset: { suggestionId: suggestion.id } });
    box.append(el("p", { class: "assist-said" }, "Customer: ", el("q", {}, suggestion.said)));
    if (suggestion.reply) {
      const used = button(suggestion, null, "used", "Used this reply");
      box.append(
        el("h3", {}, "Suggested reply"),
        el("blockquote", { class: "assist-reply" }, suggestion.reply),
        el("div", { class: "actions" }, used),
      );
    }
    const articles = el("ol", { class: "assist-articles" });
    for (const article of suggestion.articles) {
      const row = el("li", { class: "assist-article", dataset: { articleId: article.id } });
      const details = el("details", {}, el("summary", { class: "assist-title" }, article.title));
      details.addEventListener("toggle", () => showBody(details, article), { once: true });
      row.append(
        details,
        el(
          "div",
          { class: "actions assist-feedback", role: "group", "aria-label": `Feedback on ${article.title}` },
          button(suggestion, article, "useful", "Useful"),
          button(suggestion, article, "not-useful", "Not useful"),
          button(suggestion, article, "used", "Used"),
        ),
      );
      articles.append(row);
    }
    box.append(el("h3", {}, "Articles"), articles);
    return box;
  }

  async function showBody(details, article) {
    try {
      const full = await page.api("GET", `agent-assist/articles/${article.id}`);
      details.append(el("p", { class: "assist-body" }, full.body));
    } catch (failure) {
      details.append(el("p", { class: "error" }, failure.message));
    }
  }

  function button(suggestion, article, kind, label) {
    const key = `${suggestion.id}:${article ? article.id : ""}`;
    const known = feedback.get(key) || {};
    const pressed =
      kind === "used" ? Boolean(known.used) : kind === "useful" ? known.useful === true : known.useful === false;
    const node = el("button", { type: "button", class: `assist-${kind}` }, label);
    node.setAttribute("aria-pressed", String(pressed));
    node.addEventListener("click", () => send(node, suggestion, article, kind, key));
    return node;
  }

  async function send(node, suggestion, article, kind, key) {
    const known = feedback.get(key) || {};
    const body = { used: Boolean(known.used) };
    if (article) body.article_id = article.id;
    if (kind === "used") body.used = true;
    else body.useful = kind === "useful";
    node.disabled = true;
    error.textContent = "";
    try {
      const saved = await page.api("POST", `agent-assist/suggestions/${suggestion.id}/feedback`, body);
      feedback.set(key, { useful: saved.useful, used: saved.used });
      const group = node.parentElement;
      for (const sibling of group.querySelectorAll("button")) {
        const pressed = sibling.classList.contains("assist-used")
          ? saved.used
          : sibling.classList.contains("assist-useful")
            ? saved.useful === true
            : saved.useful === false;
        sibling.setAttribute("aria-pressed", String(Boolean(pressed)));
      }
      status.textContent = "Thank you: noted.";
    } catch (failure) {
      error.textContent = failure.message;
    } finally {
      node.disabled = false;
    }
  }

  page.onEvent((event) => {
    const me = page.me();
    if (event.type !== CREATED || !me || event.data.agent_id !== me.id) return;
    load(event.data.call_id);
  });
  page.onReload((me) => {
    const call = ["on_call", "wrap_up"].includes(me.state) ? me.current_call_id : null;
    if (call !== callId) return load(call);
    return call ? load(call) : undefined; // a reconnect: what we missed
  });
  const me = page.me();
  return load(me && ["on_call", "wrap_up"].includes(me.state) ? me.current_call_id : null);
}
