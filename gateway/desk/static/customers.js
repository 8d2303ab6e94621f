// The desk's customer panel: find a customer (name, account or phone), link the caller's
// number to them or add the caller as a new customer, and the customer view (profile, numbers
// with click-to-dial, cases, the whole history page by page, recent orders). It follows the
// agent's call through desk.js's `desk:call` event. Everything from the CRM or the caller is
// set with textContent, never as markup; strings are the page catalogue's (#desk-strings).

import { getJson, postJson } from "./net.js";
import { $, LOCALE, T, failed, fill, languageName, money, when, word } from "./page.js";

const C = T.customers;
const days = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium" });
const HISTORY_PAGE = 10; // activities per "Older" click
const SEARCH_DELAY = 350; // ms after the last key before searching as the agent types
const LIVE_KINDS = new Set(["offer", "answered", "ended"]);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = String(text);
  return node;
}

function button(text, className, onClick) {
  const node = el("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

function amount(value, currency) {
  const number = Number(value);
  if (value == null || value === "" || Number.isNaN(number)) return value || "";
  if (currency) {
    try {
      return new Intl.NumberFormat(LOCALE, { style: "currency", currency }).format(number);
    } catch (e) { /* an unknown currency code: the number and the code as given */ }
    return `${money.format(number)} ${currency}`;
  }
  return money.format(number);
}

function say(id, text, ok = false) {
  const box = $(id);
  box.hidden = !text;
  box.dataset.ok = ok ? "yes" : "no";
  box.textContent = text || "";
}

// -- the agent's call ----------------------------------------------------------------------
let call = null; // the latest desk message (desk.js), or null when idle
const settled = new Map(); // call id -> the customer id its number was linked to or created as

// The caller of the call on screen when the agent may link their number or add them: an
// unknown caller or a lead, with a number, on a call ringing, in progress or just ended.
function linkableCaller() {
  if (!call || !LIVE_KINDS.has(call.kind) || settled.has(call.call_id)) return null;
  const caller = (call.pop && call.pop.caller) || {};
  const number = caller.number_e164 || caller.number;
  if (!number || (caller.known && !caller.is_lead)) return null;
  return { number, shown: caller.number || number, lead: Boolean(caller.known && caller.is_lead) };
}

function followCall(message) {
  call = message;
  const caller = linkableCaller();
  const context = $("customer-call");
  context.hidden = !caller;
  context.textContent = caller ? fill(caller.lead ? C.lead_on_call : C.unknown_on_call, { number: caller.shown }) : "";
  $("btn-new-customer").hidden = !caller || !$("new-customer").hidden;
  if (!caller) $("new-customer").hidden = true;
  renderHits();
  offerPopOpen();
}

// The pop's caller, when known: "Open customer" beside their name.
function offerPopOpen() {
  let open = $("pop-open-customer");
  if (!open) {
    const name = $("caller-name");
    if (!name) return;
    open = button(C.open_customer, "quiet small", () => {
      const id = Number(open.dataset.customer);
      if (id) showCustomer(id);
    });
    open.id = "pop-open-customer";
    name.after(open);
  }
  const caller = (call && call.pop && call.pop.caller) || {};
  const id = caller.known && caller.customer_id ? caller.customer_id : settled.get(call && call.call_id);
  open.hidden = !id;
  open.dataset.customer = id ? String(id) : "";
}

// -- search ----------------------------------------------------------------------------------
let hits = null; // the last search's hits, null before any
let searchSeq = 0;
let typingTimer = null;

async function search(text) {
  const query = text.trim();
  clearTimeout(typingTimer);
  const seq = ++searchSeq;
  if (!query) { hits = null; renderHits(); say("customer-message", ""); return; }
  const count = $("customer-hits-count");
  const list = $("customer-hits");
  count.hidden = false;
  count.textContent = C.searching;
  list.dataset.state = "searching";
  try {
    const result = await getJson(`/desk/api/customers?q=${encodeURIComponent(query)}`);
    if (seq !== searchSeq) return; // a newer search was started meanwhile
    hits = result.hits;
    say("customer-message", "");
  } catch (error) {
    if (seq !== searchSeq) return;
    hits = null;
    say("customer-message", error.status === 400 || error.status === 422 ? C.search_hint : failed(C.load_failed, error));
  }
  list.dataset.query = query; // what the list shows the answer to (the tests wait on it)
  list.dataset.state = "done";
  renderHits();
}

function renderHits() {
  const list = $("customer-hits");
  const count = $("customer-hits-count");
  list.replaceChildren();
  if (hits === null) { count.hidden = true; count.textContent = ""; return; }
  count.hidden = false;
  count.textContent = hits.length ? fill(C.hits, { count: hits.length }) : C.no_hits;
  const caller = linkableCaller();
  for (const hit of hits) {
    const item = el("li", "hit");
    item.dataset.customer = String(hit.id);
    const head = el("div", "hit-head");
    head.append(el("span", "hit-name", hit.name));
    head.append(el("span", `badge tier-${hit.is_lead ? "lead" : hit.tier}`, hit.is_lead ? T.lead : word(T.tier, hit.tier)));
    const meta = el("div", "hit-meta");
    if (hit.account_number) meta.append(el("span", "hit-account", hit.account_number));
    if (hit.language) meta.append(el("span", "hit-language", languageName(hit.language)));
    for (const phone of hit.phones) meta.append(el("span", "hit-phone", phone));
    const actions = el("div", "hit-actions");
    actions.append(button(C.view, "quiet small hit-view", () => showCustomer(hit.id)));
    if (caller && !hit.is_lead) actions.append(button(C.link, "small hit-link", () => linkNumber(hit, caller)));
    item.append(head, meta, actions);
    list.append(item);
  }
  markOpenHit();
}

// -- the caller's number: link it, or a new customer -----------------------------------------
async function linkNumber(hit, caller) {
  const callId = call.call_id;
  try {
    const linked = await postJson(`/desk/api/customers/${hit.id}/numbers`, { number: caller.number, linkedid: callId });
    settled.set(callId, hit.id);
    followCall(call);
    say("customer-message", fill(C.linked, { number: linked.e164, name: hit.name }), true);
    showCustomer(hit.id);
  } catch (error) {
    say("customer-message", failed(C.change_failed, error));
  }
}

function openNewCustomer() {
  $("btn-new-customer").hidden = true;
  $("new-customer").hidden = false;
  $("new-customer-name").value = $("customer-q").value.trim();
  $("new-customer-language").value = call && call.pop && call.pop.language === "en" ? "en" : "tr";
  $("new-customer-name").focus();
}

function closeNewCustomer() {
  $("new-customer").hidden = true;
  followCall(call);
}

async function createCustomer(event) {
  event.preventDefault();
  const caller = linkableCaller();
  if (!caller) { closeNewCustomer(); return; }
  const callId = call.call_id;
  const name = $("new-customer-name").value.trim();
  const body = { name, language: $("new-customer-language").value, number: caller.number, linkedid: callId };
  try {
    const created = await postJson("/desk/api/customers", body);
    settled.set(callId, created.customer_id);
    $("new-customer").hidden = true;
    followCall(call);
    say("customer-message", fill(C.created, { name, number: caller.shown }), true);
    showCustomer(created.customer_id);
  } catch (error) {
    say("customer-message", failed(C.change_failed, error));
  }
}

// -- the customer view -------------------------------------------------------------------------
let viewing = null; // {id, nextBefore} of the customer shown

async function showCustomer(id) {
  viewing = { id, nextBefore: null };
  say("cv-dial-message", "");
  let view;
  try {
    view = await getJson(`/desk/api/customers/${id}?limit=${HISTORY_PAGE}`);
  } catch (error) {
    if (viewing && viewing.id === id) say("customer-message", failed(C.load_failed, error));
    return;
  }
  if (!viewing || viewing.id !== id) return; // another customer was opened meanwhile
  renderCustomer(view);
}

function renderCustomer(view) {
  const section = $("customer-view");
  section.dataset.customer = String(view.id);
  $("cv-name").textContent = view.name;
  const badges = $("cv-badges");
  badges.replaceChildren(el("span", `badge tier-${view.tier}`, word(T.tier, view.tier)));
  if (view.is_lead) badges.append(el("span", "badge tier-lead", T.lead));
  const dash = (value) => (value == null || value === "" ? "—" : value);
  $("cv-account").textContent = dash(view.account_number);
  $("cv-tier").textContent = dash(word(T.tier, view.tier));
  $("cv-segment").textContent = dash(word(C.segment, view.segment));
  $("cv-value").textContent = dash(amount(view.lifetime_value));
  $("cv-language").textContent = dash(languageName(view.language));
  $("cv-notes").textContent = dash(view.notes);

  const numbers = $("cv-numbers");
  numbers.replaceChildren();
  for (const phone of view.phones) {
    const item = el("li");
    item.append(el("span", "cv-number", phone.e164));
    const about = [phone.label, phone.is_primary ? C.primary : null].filter(Boolean).join(" · ");
    if (about) item.append(el("span", "cv-number-label", about));
    const dial = button(C.call, "small go cv-dial", () => dialNumber(phone.e164, dial));
    dial.dataset.number = phone.e164;
    item.append(dial);
    numbers.append(item);
  }
  if (!view.phones.length) numbers.append(el("li", "none", T.none));

  rows("cv-cases", view.cases, (c) => [`#${c.id}`, c.subject, word(T.case_status, c.status),
    word(T.priority, c.priority), when(c.opened_at, days)], (c, tr) => { tr.dataset.status = c.status; });
  rows("cv-orders", view.orders, (o) => [o.order_number, when(o.placed_at, days), o.description || "",
    word(C.order_status, o.status), amount(o.total, o.currency)]);
  markOpenHit();

  $("cv-history").replaceChildren();
  appendHistory(view.activities);
  section.hidden = false;
  $("customer-view-empty").hidden = true;
}

function rows(tableId, items, cells, decorate) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren();
  if (!items.length) {
    const tr = el("tr", "none");
    const td = el("td", null, T.none);
    td.colSpan = $(tableId).tHead.rows[0].cells.length;
    tr.append(td);
    body.append(tr);
    return;
  }
  const numeric = [...$(tableId).tHead.rows[0].cells].map((th) => th.classList.contains("num"));
  for (const item of items) {
    const tr = el("tr");
    cells(item).forEach((value, i) => tr.append(el("td", numeric[i] ? "num" : null, value)));
    if (decorate) decorate(item, tr);
    body.append(tr);
  }
}

// The hit whose record is open, marked in the list.
function markOpenHit() {
  for (const item of $("customer-hits").children) {
    item.classList.toggle("open", Boolean(viewing) && item.dataset.customer === String(viewing.id));
  }
}

function appendHistory(page) {
  const list = $("cv-history");
  for (const a of page.items) {
    const item = el("li", `activity kind-${a.kind}`);
    item.dataset.activity = String(a.id);
    const facts = [when(a.occurred_at), word(T.activity, a.kind), word(T.activity, a.direction),
      a.agent_id ? fill(C.owner, { agent: a.agent_id }) : null,
      a.disposition || word(T.activity, a.outcome), a.case_id ? `#${a.case_id}` : null].filter(Boolean);
    item.append(el("div", "activity-facts", facts.join(" · ")));
    if (a.summary) item.append(el("div", "activity-summary", a.summary));
    if (a.notes) item.append(el("div", "activity-notes", a.notes));
    list.append(item);
  }
  if (!list.children.length) list.append(el("li", "none", T.none));
  viewing.nextBefore = page.next_before;
  $("cv-older").hidden = page.next_before == null;
}

async function older() {
  if (!viewing || viewing.nextBefore == null) return;
  const { id, nextBefore } = viewing;
  const more = $("cv-older");
  more.disabled = true;
  try {
    const view = await getJson(`/desk/api/customers/${id}?limit=${HISTORY_PAGE}&before=${nextBefore}`);
    if (viewing && viewing.id === id && viewing.nextBefore === nextBefore) appendHistory(view.activities);
  } catch (error) {
    say("customer-message", failed(C.load_failed, error));
  } finally {
    more.disabled = false;
  }
}

function closeCustomer() {
  viewing = null;
  markOpenHit();
  $("customer-view").hidden = true;
  $("customer-view-empty").hidden = false;
}

// -- click-to-dial -----------------------------------------------------------------------------
async function dialNumber(number, dial) {
  dial.disabled = true;
  try {
    const dialled = await postJson("/desk/api/dial", { number });
    say("cv-dial-message", fill(C.dialling, { number: dialled.number }), true);
  } catch (error) {
    say("cv-dial-message", failed(C.dial_failed, error));
  } finally {
    dial.disabled = false;
  }
}

// -- wiring ------------------------------------------------------------------------------------
function listShortcut() {
  const keys = $("shortcuts");
  if (!keys) return;
  const dt = el("dt");
  dt.append(el("kbd", null, "Alt"), "+", el("kbd", null, "F"));
  keys.append(dt, el("dd", null, C.find));
}

$("customer-search").addEventListener("submit", (event) => { event.preventDefault(); search($("customer-q").value); });
$("customer-q").addEventListener("input", () => {
  clearTimeout(typingTimer);
  const typed = $("customer-q").value.trim();
  // While typing, only what the server can search (two letters, or a number); Enter always asks.
  if (typed.length >= 2) typingTimer = setTimeout(() => search(typed), SEARCH_DELAY);
});
$("btn-new-customer").addEventListener("click", openNewCustomer);
$("cancel-new-customer").addEventListener("click", closeNewCustomer);
$("new-customer").addEventListener("submit", createCustomer);
$("cv-older").addEventListener("click", older);
$("cv-close").addEventListener("click", closeCustomer);
document.addEventListener("desk:call", (event) => followCall(event.detail));
document.addEventListener("keydown", (event) => {
  if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyF") {
    event.preventDefault();
    $("customer-q").focus();
    $("customer-q").select();
  }
});
listShortcut();
followCall(null);
