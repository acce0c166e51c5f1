// The operator console (CONTRACT.md Part 3): every action is a public API call (api.js);
// the console keeps no state but the signed-in token (sessionStorage) and the page's URL.

import { api, ApiError, signIn, signOut, token } from "./api.js";
import { decimals, money, toMinor, when } from "./format.js";

const STATUSES = ["requires_payment_method", "requires_confirmation", "requires_action",
                  "processing", "requires_capture", "succeeded", "canceled", "scheduled"];
const CATEGORIES = ["damage", "cleaning", "missing_item", "late_checkout", "fee", "other"];
const SOON = [["24", "24 hours"], ["48", "2 days"], ["72", "3 days"], ["168", "7 days"]];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
let uid = 0;

// ------------------------------------------------------------------ DOM helpers (no innerHTML)

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function id(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

function field(label, input, hint) {
  input.id = input.id || id("f");
  const hintNode = hint ? h("span", { class: "hint", id: `${input.id}-hint` }, hint) : null;
  if (hintNode) input.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hintNode);
}

function dl(pairs) {
  return h("dl", { class: "facts" },
           pairs.filter(([, v]) => v !== undefined).map(([k, v]) => h("div", {}, h("dt", {}, k),
                                                                     h("dd", {}, v ?? "—"))));
}

// A message area: errors from the API verbatim (status, code, sentence), or a success note.
function messageArea() {
  const node = h("div", { class: "message", role: "status", "aria-live": "polite" });
  node.show = (what) => {
    node.replaceChildren();
    node.className = "message";
    if (!what) return;
    const isError = what instanceof Error;
    node.classList.add(isError ? "error" : "ok");
    if (isError && what instanceof ApiError) {
      node.append(h("strong", {}, "Error "), h("code", { class: "code" }, what.code),
                  ` (HTTP ${what.status}): ${what.message}`,
                  what.param ? ` — param: ${what.param}` : "");
    } else {
      node.append(isError ? `Error: ${what.message}` : what);
    }
  };
  return node;
}

async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

function page(title, ...content) {
  document.title = `${title} — ChittyCharge console`;
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content);
  heading.focus();
  return heading;
}

function statusBadge(status) {
  return h("span", { class: `badge s-${status}` }, status.replaceAll("_", " "));
}

// An API error that means "sign in again".
function handleAuth(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut();
    showSignIn(error);
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ sign in

function showSignIn(reason) {
  nav.hidden = true;
  const input = h("input", { type: "password", name: "token", autocomplete: "off",
                             spellcheck: "false", required: true });
  const message = messageArea();
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h("form", { class: "card narrow", novalidate: true },
                 field("Client token", input,
                       "Your ChittyCharge client token. Kept in this tab only (sessionStorage)."),
                 button, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) {
      message.show(new Error("Enter your client token."));
      input.focus();
      return;
    }
    await busy(button, async () => {
      try {
        await signIn(candidate);
        input.value = "";
        if (!location.hash || location.hash === "#/" || location.hash === "#/signin") {
          location.hash = "#/holds";
        } else {
          route();
        }
      } catch (error) {
        input.value = "";
        if (error instanceof ApiError && error.status === 401) {
          message.show(new ApiError(401, error.code,
            `That token was not accepted; nothing was kept. (${error.message})`));
        } else {
          message.show(error);
        }
        input.focus();
      }
    });
  });
  page("Sign in", form);
  if (reason) message.show(reason);
}

// ------------------------------------------------------------------ holds list

function listParams() {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  return { property_id: query.get("property_id") || "", status: query.get("status") || "",
           soon: SOON.some(([hours]) => hours === query.get("expiring")) ? query.get("expiring") : "" };
}

async function showHolds() {
  const filters = listParams();
  const property = h("input", { type: "text", name: "property_id", value: filters.property_id });
  const status = h("select", { name: "status" }, h("option", { value: "" }, "Any status"),
                   STATUSES.map((s) => h("option", { value: s, selected: s === filters.status },
                                         s.replaceAll("_", " "))));
  const soon = h("select", { name: "expiring" }, h("option", { value: "" }, "Any time"),
                 SOON.map(([hours, label]) => h("option", { value: hours,
                                                           selected: hours === filters.soon },
                                                 `within ${label}`)));
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter holds" },
                 field("Property", property),
                 field("Status", status),
                 field("Authorization expiring", soon),
                 h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    if (property.value.trim()) next.set("property_id", property.value.trim());
    if (status.value) next.set("status", status.value);
    if (soon.value) next.set("expiring", soon.value);
    const hash = `#/holds${next.toString() ? `?${next}` : ""}`;
    if (location.hash === hash) route();
    else location.hash = hash;
  });
  const message = messageArea();
  const body = h("tbody", {});
  const table = h("table", { class: "holds" },
                  h("caption", { class: "visually-hidden" }, "Holds, newest first"),
                  h("thead", {}, h("tr", {}, ["Hold", "Property", "Description", "Amount",
                                              "Status", "Created", "Authorization ends"]
                    .map((t) => h("th", { scope: "col" }, t)))),
                  body);
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const count = h("p", { class: "count", role: "status" });
  page("Holds", form, message, count, table, more);

  const params = { limit: "25" };
  if (filters.property_id) params.property_id = filters.property_id;
  if (filters.status) params.status = filters.status;
  if (filters.soon) {
    // "Within" includes the window's last second: expires_at (whole seconds) <= now + window
    // is expires_at < that second + 1, and the API's bound is exclusive.
    const last = Math.floor((Date.now() + Number(filters.soon) * 3600e3) / 1000);
    params.expiring_before = new Date((last + 1) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  }
  let shown = 0;
  const load = async (after) => {
    try {
      const answer = await api.holds(after ? { ...params, starting_after: after } : params);
      for (const hold of answer.data) {
        body.append(h("tr", {},
          h("td", { "data-label": "Hold" }, h("a", { href: `#/hold/${encodeURIComponent(hold.id)}` },
                                            hold.id)),
          h("td", { "data-label": "Property" }, hold.property_id || "—"),
          h("td", { "data-label": "Description" }, hold.description || ""),
          h("td", { "data-label": "Amount", class: "num" }, money(hold.amount, hold.currency)),
          h("td", { "data-label": "Status" }, statusBadge(hold.status)),
          h("td", { "data-label": "Created" }, when(hold.created_at)),
          h("td", { "data-label": "Authorization ends" }, when(hold.expires_at))));
      }
      shown += answer.data.length;
      count.textContent = shown ? `${shown} hold${shown === 1 ? "" : "s"} shown` +
        (answer.has_more ? " (more available)" : "") : "No holds match.";
      more.hidden = !answer.has_more;
      more.onclick = () => busy(more, () => load(answer.next_starting_after ||
                                                  answer.data[answer.data.length - 1].id));
    } catch (error) {
      if (!handleAuth(error)) message.show(error);
    }
  };
  await load(null);
}

// ------------------------------------------------------------------ one hold

async function allEvents(holdId) {
  const events = [];
  let after = null;
  for (let pages = 0; pages < 20; pages += 1) {
    const answer = await api.events(holdId, after);
    events.push(...answer.data);
    if (!answer.has_more || !answer.data.length) break;
    after = answer.data[answer.data.length - 1].id;
  }
  return events;
}

function describeDetail(event) {
  const d = event.detail || {};
  const parts = [];
  if (d.reason) parts.push(`reason: ${d.reason}`);
  if (d.filename) parts.push(`file: ${d.filename}`);
  if (d.refund) parts.push(`refund ${d.refund}`);
  if (d.claim && d.claim.items) parts.push(`claim of ${d.claim.items.length} item(s)`);
  if (d.dispute) parts.push(`dispute ${d.dispute}`);
  if (d.code) parts.push(`code: ${d.code}`);
  return parts.join(" · ");
}

function timeline(events) {
  if (!events.length) return h("p", {}, "No events yet.");
  return h("ol", { class: "timeline" }, events.map((e) =>
    h("li", { "data-type": e.type },
      h("span", { class: "ev-type" }, e.type),
      h("time", { datetime: e.created_at }, when(e.created_at)),
      h("span", { class: "ev-actor" }, `by ${e.actor}`),
      e.status_before !== e.status_after && e.status_after
        ? h("span", {}, `${e.status_before || "—"} → ${e.status_after}`) : null,
      e.amount !== null && e.amount !== undefined
        ? h("span", { class: "num" }, money(e.amount, e.currency)) : null,
      describeDetail(e) ? h("span", { class: "ev-detail" }, describeDetail(e)) : null)));
}

function claimView(hold, files) {
  const named = (fileId) => {
    const file = files.find((f) => f.id === fileId);
    return file ? `${file.filename} (${fileId})` : fileId;
  };
  const claim = hold.claim;
  return h("section", { class: "card", id: "claim", "aria-labelledby": "claim-h" },
    h("h2", { id: "claim-h" }, "Claim"),
    h("table", { class: "claim" },
      h("thead", {}, h("tr", {}, ["Item", "Category", "Amount", "Evidence"]
        .map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, claim.items.map((item) => h("tr", {},
        h("td", { "data-label": "Item" }, item.description),
        h("td", { "data-label": "Category" }, item.category.replaceAll("_", " ")),
        h("td", { "data-label": "Amount", class: "num" }, money(item.amount, hold.currency)),
        h("td", { "data-label": "Evidence" }, (item.evidence || []).map(named).join(", ") || "—")))),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row", colspan: "2" }, "Total"),
                       h("td", { class: "num" }, money(claim.total, hold.currency)),
                       h("td", {}, when(claim.captured_at))))));
}

function disputeView(hold, reload) {
  const d = hold.dispute;
  const message = messageArea();
  const button = h("button", { type: "button" }, "Submit dispute evidence");
  button.addEventListener("click", () => busy(button, async () => {
    try {
      await api.submitDispute(hold.id);
      await reload("Dispute evidence submitted to Stripe.");
    } catch (error) {
      if (!handleAuth(error)) message.show(error);
    }
  }));
  const open = !d.submitted_at && /needs_response/.test(d.status);
  return h("section", { class: "card", id: "dispute", "aria-labelledby": "dispute-h" },
    h("h2", { id: "dispute-h" }, "Dispute"),
    dl([["Dispute", d.id], ["Status", statusBadge(d.status)], ["Reason", d.reason],
        ["Amount", money(d.amount, hold.currency)], ["Evidence due by", when(d.evidence_due_by)],
        ["Evidence staged", d.evidence_staged ? "yes" : "not yet (the scheduler stages it)"],
        ["Submitted", d.submitted_at ? when(d.submitted_at) : "no"]]),
    open ? button : null, message);
}

function evidenceView(hold, files, onUploaded) {
  const input = h("input", { type: "file", accept: "image/jpeg,image/png,application/pdf" });
  const button = h("button", { type: "submit", class: "secondary" }, "Upload");
  const message = messageArea();
  const list = h("ul", { class: "files" }, files.map((f) =>
    h("li", {}, h("code", {}, f.id), ` ${f.filename} (${f.type}, ${f.size} bytes)`)));
  const form = h("form", { class: "upload" },
                 field("Photo or document (JPEG, PNG or PDF, at most 5 MiB)", input), button,
                 message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = input.files[0];
    if (!file) {
      message.show(new Error("Choose a file first."));
      input.focus();
      return;
    }
    busy(button, async () => {
      try {
        const stored = await api.upload(hold.id, file);
        await onUploaded(`Uploaded ${stored.filename} as ${stored.id}.`);
      } catch (error) {
        if (!handleAuth(error)) message.show(error);
      }
    });
  });
  return h("section", { class: "card", id: "evidence", "aria-labelledby": "evidence-h" },
    h("h2", { id: "evidence-h" }, "Evidence"),
    files.length ? list : h("p", {}, "No files yet."),
    hold.status === "requires_capture" || hold.dispute ? form : null);
}

function captureForm(hold, files, reload) {
  const currency = hold.currency;
  const step = decimals(currency) ? `e.g. 120.${"0".repeat(decimals(currency))}` : "e.g. 5000";
  const items = h("div", { class: "items" });
  const total = h("p", { class: "total", "aria-live": "polite" });
  const message = messageArea();
  const reason = h("input", { type: "text", name: "reason", maxlength: "500" });
  const submit = h("button", { type: "submit" }, "Capture claim");

  const rows = () => [...items.querySelectorAll("fieldset.item")];
  const readItems = () => rows().map((row, n) => {
    const amountText = row.querySelector("[name=amount]").value;
    return { n, description: row.querySelector("[name=description]").value.trim(),
             amountText, amount: toMinor(amountText, currency),
             category: row.querySelector("[name=category]").value,
             evidence: [...row.querySelectorAll("[name=evidence]:checked")].map((c) => c.value) };
  });
  const refreshTotal = () => {
    const sum = readItems().reduce((acc, item) => acc + (item.amount || 0), 0);
    total.textContent = `Total to capture: ${money(sum, currency)} of ` +
      `${money(hold.amount_capturable, currency)} authorized`;
  };
  const renumber = () => rows().forEach((row, n) => {
    row.querySelector("legend").textContent = `Item ${n + 1}`;
    row.querySelector(".remove").hidden = rows().length === 1;
    row.querySelector(".remove").textContent = `Remove item ${n + 1}`;
  });
  const addItem = () => {
    const description = h("input", { type: "text", name: "description", maxlength: "500",
                                     required: true });
    const amount = h("input", { type: "text", name: "amount", inputmode: "decimal",
                                required: true, autocomplete: "off" });
    const category = h("select", { name: "category" },
                       CATEGORIES.map((c) => h("option", { value: c }, c.replaceAll("_", " "))));
    const evidence = files.length ? h("fieldset", { class: "evidence-pick" },
      h("legend", {}, "Evidence"),
      files.map((f) => {
        const box = h("input", { type: "checkbox", name: "evidence", value: f.id, id: id("ev") });
        return h("div", { class: "check" }, box, h("label", { for: box.id }, f.filename));
      })) : null;
    const remove = h("button", { type: "button", class: "secondary remove" }, "Remove");
    const row = h("fieldset", { class: "item" }, h("legend", {}, "Item"),
                  field("Description", description),
                  field(`Amount (${currency.toUpperCase()})`, amount, step),
                  field("Category", category), evidence, remove);
    remove.addEventListener("click", () => {
      const at = rows().indexOf(row);
      row.remove();
      renumber();
      refreshTotal();
      const next = rows()[Math.min(at, rows().length - 1)];
      next.querySelector("[name=description]").focus();
    });
    items.append(row);
    renumber();
    return description;
  };
  const add = h("button", { type: "button", class: "secondary" }, "Add item");
  add.addEventListener("click", () => addItem().focus());
  items.addEventListener("input", refreshTotal);
  items.addEventListener("change", refreshTotal);
  addItem();
  refreshTotal();

  const form = h("form", { class: "capture", novalidate: true, "aria-labelledby": "capture-h" },
                 items, add, field("Reason (optional)", reason), total, submit, message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const claim = readItems();
    const bad = claim.find((item) => !item.description || !item.amount);
    if (bad) {
      const row = rows()[bad.n];
      message.show(new Error(`Item ${bad.n + 1}: ` + (!bad.description
        ? "enter a description." : `"${bad.amountText}" is not an amount in ${currency.toUpperCase()}.`)));
      row.querySelector(!bad.description ? "[name=description]" : "[name=amount]").focus();
      return;
    }
    const body = { items: claim.map(({ description, amount, category, evidence }) =>
      (evidence.length ? { description, amount, category, evidence }
        : { description, amount, category })) };
    if (reason.value.trim()) body.reason = reason.value.trim();
    busy(submit, async () => {
      try {
        const captured = await api.capture(hold.id, body);
        await reload(`Captured ${money(captured.amount_captured, currency)}.`);
      } catch (error) {
        if (!handleAuth(error)) message.show(error);
      }
    });
  });
  return h("section", { class: "card", id: "capture", "aria-labelledby": "capture-h" },
    h("h2", { id: "capture-h" }, "Capture with an itemized claim"), form);
}

function releaseForm(hold, reload) {
  const reason = h("input", { type: "text", name: "reason", maxlength: "500" });
  const button = h("button", { type: "submit", class: "danger" }, "Release hold");
  const message = messageArea();
  const form = h("form", {}, field("Reason (optional)", reason), button, message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
    busy(button, async () => {
      try {
        await api.cancel(hold.id, body);
        await reload("The hold was released.");
      } catch (error) {
        if (!handleAuth(error)) message.show(error);
      }
    });
  });
  return h("section", { class: "card", id: "release", "aria-labelledby": "release-h" },
    h("h2", { id: "release-h" }, "Release (cancel) the hold"),
    h("p", {}, "Frees the whole authorization on the guest's card."), form);
}

function refundForm(hold, reload) {
  const left = hold.amount_captured - hold.amount_refunded;
  const amount = h("input", { type: "text", name: "amount", inputmode: "decimal",
                              autocomplete: "off" });
  const reason = h("input", { type: "text", name: "reason", maxlength: "500" });
  const button = h("button", { type: "submit" }, "Refund");
  const message = messageArea();
  const form = h("form", {},
                 field(`Amount (${hold.currency.toUpperCase()})`, amount,
                       `Leave empty to refund all that is left: ${money(left, hold.currency)}.`),
                 field("Reason (optional)", reason), button, message);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {};
    if (amount.value.trim()) {
      const minor = toMinor(amount.value, hold.currency);
      if (!minor) {
        message.show(new Error(`"${amount.value}" is not an amount in ${hold.currency.toUpperCase()}.`));
        amount.focus();
        return;
      }
      body.amount = minor;
    }
    if (reason.value.trim()) body.reason = reason.value.trim();
    busy(button, async () => {
      try {
        const refunded = await api.refund(hold.id, body);
        await reload(`Refunded; ${money(refunded.amount_refunded, hold.currency)} refunded in all.`);
      } catch (error) {
        if (!handleAuth(error)) message.show(error);
      }
    });
  });
  return h("section", { class: "card", id: "refund", "aria-labelledby": "refund-h" },
    h("h2", { id: "refund-h" }, "Refund"), form);
}

function guestLinkView(hold) {
  const button = h("button", { type: "button", class: "secondary" }, "Create guest link");
  const message = messageArea();
  const out = h("div", { class: "guest-link" });
  button.addEventListener("click", () => busy(button, async () => {
    try {
      const link = await api.guestLink(hold.id);
      message.show(null);
      const input = h("input", { type: "text", readonly: true, value: link.url, name: "url" });
      out.replaceChildren(field("Guest link (send it to the guest)", input,
                                `Works until ${when(link.expires_at)}.`),
                          h("p", {}, h("a", { href: link.url, rel: "noopener" }, "Open it")));
      input.focus();
      input.select();
    } catch (error) {
      if (!handleAuth(error)) message.show(error);
    }
  }));
  return h("section", { class: "card", id: "guest-link", "aria-labelledby": "guest-h" },
    h("h2", { id: "guest-h" }, "Guest link"),
    h("p", {}, "A page where the guest reads the disclosure and authorizes the card; " +
               "no client token is involved."),
    button, out, message);
}

async function showHold(holdId) {
  const notice = messageArea();
  const heading = page(`Hold ${holdId}`, notice, h("p", {}, "Loading…"));
  const reload = async (note) => {
    await showHold(holdId);
    const area = main.querySelector(".message");
    if (note && area) area.show(note);
  };
  let hold;
  let events;
  let files;
  try {
    [hold, events, files] = await Promise.all([api.hold(holdId), allEvents(holdId),
                                               api.evidence(holdId).then((a) => a.data)]);
  } catch (error) {
    if (!handleAuth(error)) {
      main.replaceChildren(heading, notice, h("p", {}, h("a", { href: "#/holds" }, "Back to holds")));
      notice.show(error);
    }
    return;
  }
  const c = hold.currency;
  const summary = h("section", { class: "card", "aria-labelledby": "summary-h" },
    h("h2", { id: "summary-h" }, "Summary"),
    dl([["Status", statusBadge(hold.status)], ["Description", hold.description],
        ["Property", hold.property_id], ["Tenant", hold.tenant_id],
        ["Guest email", hold.customer_email], ["Amount", money(hold.amount, c)],
        ["Capturable", money(hold.amount_capturable, c)],
        ["Captured", money(hold.amount_captured, c)], ["Refunded", money(hold.amount_refunded, c)],
        ["Tier", hold.tier], ["ChittyID", hold.chitty_id], ["Created", when(hold.created_at)],
        ["Authorization ends (estimate)", when(hold.expires_at)],
        ["Auto-release", when(hold.release_after)], ["Captured at", when(hold.captured_at)],
        ["Canceled at", when(hold.canceled_at)],
        ["Disclosure", hold.disclosure
          ? `version ${hold.disclosure.version}, accepted ${when(hold.disclosure.accepted_at)}`
          : "none recorded"]]));
  const sections = [summary];
  if (hold.claim) sections.push(claimView(hold, files));
  if (hold.dispute) sections.push(disputeView(hold, reload));
  sections.push(evidenceView(hold, files, reload));
  if (hold.status === "requires_capture") {
    sections.push(captureForm(hold, files, reload), releaseForm(hold, reload));
  } else if (["requires_payment_method", "requires_confirmation", "requires_action",
              "scheduled"].includes(hold.status)) {
    sections.push(releaseForm(hold, reload));
  }
  if (hold.status === "succeeded" && hold.amount_captured > hold.amount_refunded) {
    sections.push(refundForm(hold, reload));
  }
  if (!["succeeded", "canceled"].includes(hold.status)) sections.push(guestLinkView(hold));
  sections.push(h("section", { class: "card", id: "timeline", "aria-labelledby": "timeline-h" },
                  h("h2", { id: "timeline-h" }, "Timeline"), timeline(events)));
  main.replaceChildren(heading, h("p", { class: "back" }, h("a", { href: "#/holds" }, "← All holds")),
                       notice, h("div", { class: "hold" }, sections));
}

// ------------------------------------------------------------------ failed notifications

async function showNotifications() {
  const message = messageArea();
  const body = h("tbody", {});
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const count = h("p", { class: "count", role: "status" });
  page("Failed notifications", h("p", {}, "Notifications to your endpoint that failed at " +
                                 "least once and are not delivered yet, newest first."),
       message, count,
       h("table", { class: "notifications" },
         h("thead", {}, h("tr", {}, ["Notification", "Type", "Hold", "Status", "Attempts",
                                     "Last error", "Next attempt"]
           .map((t) => h("th", { scope: "col" }, t)))), body), more);
  let shown = 0;
  const load = async (after) => {
    try {
      const answer = await api.failedNotifications(after);
      for (const n of answer.data) {
        body.append(h("tr", {},
          h("td", { "data-label": "Notification" }, h("code", {}, n.id)),
          h("td", { "data-label": "Type" }, n.type),
          h("td", { "data-label": "Hold" }, n.hold_id
            ? h("a", { href: `#/hold/${encodeURIComponent(n.hold_id)}` }, n.hold_id) : "—"),
          h("td", { "data-label": "Status" }, statusBadge(n.status)),
          h("td", { "data-label": "Attempts", class: "num" }, n.attempts),
          h("td", { "data-label": "Last error" }, n.last_error || "—"),
          h("td", { "data-label": "Next attempt" }, when(n.next_attempt_at))));
      }
      shown += answer.data.length;
      count.textContent = shown ? `${shown} failed notification${shown === 1 ? "" : "s"}`
        : "No failed notifications.";
      more.hidden = !answer.has_more;
      more.onclick = () => busy(more, () => load(answer.data[answer.data.length - 1].id));
    } catch (error) {
      if (!handleAuth(error)) message.show(error);
    }
  };
  await load(null);
}

// ------------------------------------------------------------------ routing

function route() {
  if (!token()) {
    showSignIn();
    return;
  }
  nav.hidden = false;
  const path = location.hash.replace(/^#/, "").split("?")[0];
  for (const link of nav.querySelectorAll("a")) {
    const here = path.startsWith(link.getAttribute("href").slice(1));
    if (here) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const hold = /^\/hold\/(.+)$/.exec(path);
  if (hold) showHold(decodeURIComponent(hold[1]));
  else if (path === "/notifications") showNotifications();
  else showHolds();
}

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  location.hash = "#/signin";
  showSignIn("You are signed out; the token was removed from this tab.");
});
window.addEventListener("hashchange", route);
route();
