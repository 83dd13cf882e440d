// The preview panel of the agent page (campaigns' preview mode): the next contact with its
// history, consent, local time and the check before the dial; Call, Skip (with a reason) and
// Schedule callback. Plain JavaScript, no build step; everything through the API with the
// agent's token (docs/plugins/campaigns.md#preview-mode).

const OUTCOMES = {
  human: "reached",
  machine: "answering machine",
  busy: "busy",
  no_answer: "no answer",
  failed: "failed",
  skipped: "skipped",
  callback: "callback scheduled",
};
const STATUSES = {
  previewing: "Previewing",
  dialing: "Your phone is ringing…",
  placed: "Calling the contact…",
  ended: "Ended",
  blocked: "Blocked",
  not_placed: "Not placed",
};

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

function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function localTime(entry) {
  // "2026-12-07T09:15:00-05:00": the wall clock there, and its zone
  const clock = entry.local_time.slice(11, 16);
  const day = entry.local_time.slice(0, 10);
  return `${clock} (${day}, ${entry.zone})`;
}

function facts(rows) {
  const list = el("dl", { class: "facts" });
  for (const [term, value, cls] of rows) {
    list.append(el("dt", {}, term), el("dd", cls ? { class: cls } : {}, value || "—"));
  }
  return list;
}

function style() {
  const href = new URL("preview-panel.css", import.meta.url).href;
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(el("link", { rel: "stylesheet", href }));
}

export function mount(card, page) {
  style();
  let preview = null; // PreviewOut
  let attempt = null; // the attempt as last read (after a call started)
  let busy = false;

  const status = el("p", { class: "muted preview-status", role: "status" });
  const next = el("button", { type: "button", class: "primary preview-next" }, "Next contact");
  const error = el("p", { class: "error preview-error", role: "alert" });
  const body = el("div", { class: "preview-body" });
  card.append(el("div", { class: "actions" }, next), status, body, error);

  async function act(work) {
    if (busy) return;
    busy = true;
    error.textContent = "";
    try {
      await work();
    } catch (failure) {
      error.textContent = failure.message;
      if (failure.problem && failure.problem.rule) {
        error.textContent += ` (rule ${failure.problem.rule})`;
      }
    } finally {
      busy = false;
      render();
    }
  }

  next.addEventListener("click", () =>
    act(async () => {
      const found = await page.api("POST", "campaigns/preview/next", {});
      preview = found;
      attempt = found ? found.attempt : null;
      status.textContent = found ? "" : "No contact is due in your preview campaigns.";
    }),
  );

  const path = () => `campaigns/${preview.campaign.id}/attempts/${preview.attempt.id}`;

  async function refresh() {
    if (!preview || !attempt || attempt.status === "previewing") return;
    if (attempt.status !== "dialing" && attempt.status !== "placed") return;
    const found = await page.api(
      "GET",
      `campaigns/${preview.campaign.id}/attempts?contact_id=${preview.attempt.contact_id}&limit=1`,
    );
    const latest = found.items.find((item) => item.id === preview.attempt.id);
    if (latest) attempt = latest;
    render();
  }
  page.onReload(refresh);

  function renderContact() {
    const contact = preview.contact;
    if (!contact) return el("p", { class: "muted" }, "The contact was erased.");
    const others = contact.phones
      .filter((p) => p.number !== preview.attempt.number)
      .map((p) => `${p.number}${p.label ? ` (${p.label})` : ""}`);
    return facts([
      ["Contact", contact.company ? `${contact.name} (${contact.company})` : contact.name, "preview-name"],
      ["Campaign", preview.campaign.name, "preview-campaign"],
      ["Number", preview.attempt.number, "preview-number"],
      ...(others.length ? [["Other numbers", others.join(", ")]] : []),
      ["Local time", contact.local_times.map(localTime).join("; "), "preview-local-time"],
      ["Where", [contact.city, contact.region, contact.country].filter(Boolean).join(", ")],
      ["Last call", contact.last_call_at ? `${when(contact.last_call_at)} ${contact.last_disposition || ""}` : "never"],
    ]);
  }

  function renderConsent() {
    const consent = preview.consent;
    if (!consent) return null;
    const line = consent.line
      ? `${consent.line.action} (${consent.line.source}, ${when(consent.line.occurred_at)})`
      : "no ledger line";
    return facts([
      ["Consent", `${consent.purpose}: ${consent.allowed ? "allowed" : consent.rule}`, "preview-consent"],
      ["Why", consent.reason],
      ["Ledger", line],
    ]);
  }

  function renderDecision() {
    const checks = preview.decision.checks || {};
    const rule = (name) => (checks[name] ? checks[name].rule : "");
    return facts([
      ["Check", `${preview.decision.rule} at ${when(preview.decision.at)}`, "preview-decision"],
      ["Hours", rule("schedule")],
      ["Calling window", rule("window")],
      ["Frequency", rule("frequency")],
    ]);
  }

  function renderHistory() {
    if (!preview.history.length) return el("p", { class: "muted preview-history" }, "No earlier attempts.");
    const rows = preview.history.map((h) =>
      el(
        "tr",
        {},
        el("td", {}, when(h.decided_at)),
        el("td", {}, h.campaign_name),
        el("td", {}, h.outcome ? OUTCOMES[h.outcome] || h.outcome : h.allowed ? h.status : `blocked: ${h.rule}`),
        el("td", {}, [h.disposition, h.note].filter(Boolean).join(" — ")),
      ),
    );
    return el(
      "table",
      { class: "preview-history" },
      el("caption", {}, "History"),
      el("thead", {}, el("tr", {}, ...["When", "Campaign", "Outcome", "Note"].map((t) => el("th", { scope: "col" }, t)))),
      el("tbody", {}, ...rows),
    );
  }

  function renderActions() {
    const call = el("button", { type: "button", class: "primary preview-call" }, "Call");
    call.addEventListener("click", () =>
      act(async () => {
        attempt = await page.api("POST", `${path()}/call`);
      }),
    );
    const reason = el("input", { id: "preview-skip-reason", maxLength: 500, required: true, placeholder: "e.g. wrong person, asked for email" });
    const skip = el("button", { type: "submit", class: "preview-skip" }, "Skip");
    const skipForm = el(
      "form",
      { class: "preview-skip-form" },
      el("label", { htmlFor: "preview-skip-reason" }, "Reason to skip"),
      reason,
      skip,
    );
    skipForm.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        attempt = await page.api("POST", `${path()}/skip`, { reason: reason.value.trim() });
      });
    });
    const at = el("input", { id: "preview-callback-at", type: "datetime-local", required: true });
    const note = el("input", { id: "preview-callback-note", maxLength: 500 });
    const schedule = el("button", { type: "submit", class: "preview-callback" }, "Schedule callback");
    const callbackForm = el(
      "form",
      { class: "preview-callback-form" },
      el("label", { htmlFor: "preview-callback-at" }, "Call back at"),
      at,
      el("label", { htmlFor: "preview-callback-note" }, "Note"),
      note,
      schedule,
    );
    callbackForm.addEventListener("submit", (event) => {
      event.preventDefault();
      act(async () => {
        const chosen = new Date(at.value); // the agent's local time
        attempt = await page.api("POST", `${path()}/callback`, {
          at: chosen.toISOString(),
          note: note.value.trim() || null,
        });
      });
    });
    return el("div", { class: "preview-actions" }, el("div", { class: "actions" }, call), skipForm, callbackForm);
  }

  function renderOutcome() {
    const label = STATUSES[attempt.status] || attempt.status;
    const outcome = attempt.outcome ? `: ${OUTCOMES[attempt.outcome] || attempt.outcome}` : "";
    const rule = attempt.status === "blocked" ? ` (${attempt.rule})` : "";
    return el("p", { class: "preview-outcome", dataset: { status: attempt.status } }, `${label}${outcome}${rule}`);
  }

  function render() {
    next.disabled = busy || Boolean(attempt && ["previewing", "dialing", "placed"].includes(attempt.status));
    if (!preview) {
      body.replaceChildren();
      return;
    }
    const parts = [renderContact(), renderConsent(), renderDecision(), renderHistory()];
    parts.push(attempt && attempt.status === "previewing" ? renderActions() : renderOutcome());
    body.replaceChildren(...parts.filter(Boolean));
  }

  render();
}
