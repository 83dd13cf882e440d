// The Payment panel of the agent page (payments): while you are on a call, take a card
// payment without hearing or seeing the card. You start a capture for an amount, ask the
// caller for each field in turn (again, to retry one), the caller keys it into the
// provider's secure capture, and you see only progress: how many digits, a mask with at most
// a card's last four digits, and whether the provider accepted it. Then you charge the card
// or cancel. Plain JavaScript, no build step; the real-time stream brings the progress
// (payments.capture.*, addressed to you), the API the rest
// (docs/plugins/payments.md#agent-assisted-capture).

const PREFIX = "payments.capture.";
const ENDED = new Set(["succeeded", "failed", "cancelled"]);
const FIELDS = [
  ["payment-card-number", "Card number"],
  ["expiration-date", "Expiry date"],
  ["security-code", "Security code"],
  ["postal-code", "Postal code"],
];
const AMOUNT = /^\d{1,8}(\.\d{1,2})?$/;

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
  const href = new URL("capture-panel.css", import.meta.url).href;
  if (document.querySelector(`link[href="${href}"]`)) return;
  document.head.append(el("link", { rel: "stylesheet", href }));
}

function onCall(me) {
  return me && ["on_call", "wrap_up"].includes(me.state) ? me.current_call_id : null;
}

function money(minor, currency) {
  return `${(minor / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

export function mount(card, page) {
  style();
  let callId = null;
  let capture = null; // the capture as last read or heard

  const status = el("p", { class: "muted capture-status", role: "status" });
  const body = el("div", { class: "capture-body", "aria-live": "polite" });
  const error = el("p", { class: "error capture-error", role: "alert" });
  card.append(status, body, error);

  function render() {
    if (!callId) {
      status.textContent = "Card payments can be taken here while you are on a call.";
      body.replaceChildren();
      return;
    }
    if (!capture) {
      status.textContent = "The caller keys the card on their phone: you never hear or see it.";
      body.replaceChildren(form());
      return;
    }
    body.replaceChildren(progress());
  }

  function form() {
    const amount = el("input", { name: "amount", inputMode: "decimal", required: true, placeholder: "42.00" });
    const currency = el("input", { name: "currency", maxLength: 3, placeholder: "default" });
    const description = el("input", { name: "description", maxLength: 200 });
    const start = el("button", { type: "submit", class: "primary" }, "Start card payment");
    const node = el(
      "form",
      { class: "capture-form" },
      el("label", {}, "Amount", amount),
      el("label", {}, "Currency", currency),
      el("label", {}, "Description", description),
      start,
    );
    node.addEventListener("submit", async (submitted) => {
      submitted.preventDefault();
      const value = amount.value.trim();
      if (!AMOUNT.test(value)) {
        error.textContent = "Enter the amount as 42 or 42.50.";
        return;
      }
      const request = {
        call_id: callId,
        amount: Math.round(Number.parseFloat(value) * 100),
        description: description.value.trim(),
      };
      if (currency.value.trim()) request.currency = currency.value.trim().toLowerCase();
      await act(start, () => page.api("POST", "payments/captures", request));
    });
    return node;
  }

  function progress() {
    const payment = capture.payment;
    const over = ENDED.has(capture.status);
    const list = el("ol", { class: "capture-fields" });
    for (const [name, label] of FIELDS) {
      list.append(fieldRow(name, label, capture.fields[name], over));
    }
    const heading = el(
      "p",
      { class: "capture-summary" },
      `${money(payment.amount, payment.currency)}`,
      payment.description ? ` · ${payment.description}` : "",
    );
    const parts = [heading, list];
    if (over) {
      parts.push(outcome());
      const again = el("button", { type: "button", class: "capture-new" }, "New payment");
      again.addEventListener("click", () => {
        capture = null;
        error.textContent = "";
        render();
      });
      parts.push(el("div", { class: "actions" }, again));
      status.textContent = "";
    } else {
      const charge = el("button", { type: "button", class: "primary capture-complete" }, "Charge card");
      charge.disabled = capture.status !== "capturing";
      charge.addEventListener("click", () =>
        act(charge, () => page.api("POST", `payments/captures/${capture.id}/complete`)),
      );
      const cancel = el("button", { type: "button", class: "capture-cancel" }, "Cancel payment");
      cancel.disabled = capture.status !== "capturing";
      cancel.addEventListener("click", () =>
        act(cancel, () => page.api("POST", `payments/captures/${capture.id}/cancel`)),
      );
      parts.push(el("div", { class: "actions" }, charge, cancel));
      status.textContent =
        capture.status === "completing"
          ? "Charging the card…"
          : "Ask the caller for each field; they key it on their phone.";
    }
    return el("div", { class: "capture", dataset: { captureId: capture.id } }, ...parts);
  }

  function fieldRow(name, label, known, over) {
    let shown = "not asked yet";
    let state = "idle";
    if (known) {
      if (known.error) {
        shown = `refused: ${known.error}`;
        state = "error";
      } else if (known.complete) {
        shown = known.masked || `${known.digits} digits`;
        state = "complete";
      } else if (capture.field === name) {
        shown = known.digits ? `${known.digits} digit${known.digits === 1 ? "" : "s"} keyed…` : "waiting for the caller…";
        state = "keying";
      }
    }
    const row = el(
      "li",
      { class: "capture-field", dataset: { field: name, state } },
      el("span", { class: "capture-label" }, label),
      el("span", { class: "capture-value" }, shown),
    );
    if (!over) {
      const asked = Boolean(known);
      const ask = el(
        "button",
        { type: "button", class: "capture-ask", "aria-label": `${asked ? "Ask again for" : "Ask for"} ${label.toLowerCase()}` },
        asked ? "Ask again" : "Ask caller",
      );
      ask.disabled = capture.status !== "capturing";
      ask.addEventListener("click", () =>
        act(ask, () => page.api("POST", `payments/captures/${capture.id}/fields`, { field: name })),
      );
      row.append(ask);
    }
    return row;
  }

  function outcome() {
    const payment = capture.payment;
    if (capture.status === "succeeded") {
      return el("p", { class: "capture-outcome" }, `Payment taken: ${money(payment.amount, payment.currency)}.`);
    }
    if (capture.status === "cancelled") return el("p", { class: "capture-outcome" }, "Payment cancelled: nothing was charged.");
    const why = payment.failure_reason || capture.result || "the card was not charged";
    return el("p", { class: "capture-outcome" }, `Payment failed: ${why}.`);
  }

  async function act(button, request) {
    button.disabled = true;
    error.textContent = "";
    try {
      capture = await request();
    } catch (failure) {
      const problem = failure.problem || {};
      error.textContent =
        problem.capability === "agent-payments"
          ? "This call's telephone provider cannot take card payments with an agent."
          : failure.message;
    }
    render();
  }

  async function refresh() {
    if (!capture) return;
    try {
      capture = await page.api("GET", `payments/captures/${capture.id}`);
    } catch (failure) {
      error.textContent = failure.message;
    }
    render();
  }

  page.onEvent((event) => {
    if (!capture || !event.type.startsWith(PREFIX) || event.data.capture_id !== capture.id) return;
    if (event.type === `${PREFIX}ended` || event.data.status !== capture.status) {
      refresh(); // the payment's outcome comes with the capture
      return;
    }
    capture = { ...capture, field: event.data.field, fields: event.data.fields, required: event.data.required };
    render();
  });
  page.onReload((me) => {
    const call = onCall(me);
    if (call !== callId) {
      callId = call;
      if (capture && capture.call_id !== call) capture = null; // another call's
      error.textContent = "";
      render();
      return undefined;
    }
    return refresh(); // a reconnect: what we missed
  });
  callId = onCall(page.me());
  render();
}
