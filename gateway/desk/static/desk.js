// The agent's desk: status with its time, the screen pop, the wrap-up and after-call work.
// Everything that came from a caller or a customer record is set with textContent, never as
// markup. Strings come from the page's catalogue (#desk-strings); numbers and dates are
// formatted in the agent's locale.

import { getJson, postJson } from "./net.js";
import { $, T, fill, failed, languageName, money, numbers, when, word } from "./page.js";

const setText = (id, value) => { $(id).textContent = value == null || value === "" ? "—" : String(value); };

let clockSkew = 0; // server time minus this browser's time, seconds
let agent = null; // the latest ACD state
let deskMessage = null; // the latest desk message
let wrapupCall = null; // the call whose wrap-up form is shown
let socket = null;
let retry = 500;

const serverNow = () => Date.now() / 1000 + clockSkew;

// -- the socket ------------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}/desk/ws`);
  socket.addEventListener("open", () => { retry = 500; showConnection(true); });
  socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
  socket.addEventListener("close", async () => {
    showConnection(false);
    if (await signedOut()) { location.assign("/login"); return; }
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  });
}

// The session ended (signed out elsewhere, expired): the desk page itself now redirects.
async function signedOut() {
  try {
    const response = await fetch("/desk", { method: "GET", credentials: "same-origin", redirect: "manual" });
    return response.type === "opaqueredirect";
  } catch (e) {
    return false; // the network is down: keep trying
  }
}

function showConnection(up) {
  const conn = $("conn");
  conn.dataset.state = up ? "up" : "down";
  conn.textContent = up ? T.connected : T.reconnecting;
}

function receive(message) {
  if (typeof message.now === "number") clockSkew = message.now - Date.now() / 1000;
  if (message.type === "hello") {
    agent = null;
    applyAgent(message.agent);
    deskMessage = null;
    if (message.desk) applyDesk(message.desk);
    else showIdle();
  } else if (message.type === "agent") {
    applyAgent(message.agent);
  } else if (message.type === "desk") {
    applyDesk(message.desk);
  }
}

// -- the agent's state -------------------------------------------------------------------------
function applyAgent(status) {
  if (!status || (agent && status.version < agent.version)) return;
  agent = status;
  const state = $("state");
  state.dataset.state = status.state;
  state.textContent = T.state[status.state] || status.state;
  $("state-reason").textContent = status.state === "not_ready" && status.reason
    ? (T.reason[status.reason] || status.reason) : "";
  tick();
}

function tick() {
  if (agent) {
    if (!agent.since) { $("state-time").textContent = ""; }
    const seconds = agent.since ? Math.max(0, Math.floor(serverNow() - agent.since)) : 0;
    const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    const two = (n) => String(n).padStart(2, "0");
    if (agent.since) $("state-time").textContent = h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
    const acw = $("acw");
    if (agent.state === "wrap_up") {
      acw.hidden = false;
      const left = Math.ceil((agent.wrapup_until || 0) - serverNow());
      $("acw-left").textContent = left > 0 ? fill(T.acw_left, { seconds: numbers.format(left) }) : T.acw_over;
    } else {
      acw.hidden = true;
    }
  }
}

function stateMessage(text) {
  const box = $("state-message");
  box.hidden = !text;
  box.textContent = text || "";
}

async function changeState(state) {
  const body = { state };
  if (state === "not_ready") body.reason = $("reason").value;
  try {
    applyAgent(await postJson("/desk/api/state", body)); // in wrap-up, "ready" ends it (if it may end)
    stateMessage("");
  } catch (error) {
    stateMessage(failed(T.action_failed, error));
  }
}

// -- the screen pop ----------------------------------------------------------------------------
// Other panels of the page (customers, transfer) follow the agent's call through this event:
// detail is the latest desk message (offer, answered, withdrawn, ended) or null when idle.
const announceCall = (message) => document.dispatchEvent(new CustomEvent("desk:call", { detail: message }));

function showIdle() {
  $("pop").hidden = true;
  $("wrapup").hidden = true;
  $("idle").hidden = false;
  announceCall(null);
}

function applyDesk(message) {
  if (deskMessage && message.version <= deskMessage.version) return;
  const live = deskMessage && (deskMessage.kind === "offer" || deskMessage.kind === "answered");
  // A late withdrawn/ended of another call never replaces the call now ringing or talking.
  if (live && message.call_id !== deskMessage.call_id && (message.kind === "withdrawn" || message.kind === "ended")) return;
  deskMessage = message;
  renderPop(message);
  if (message.kind === "ended") openWrapup(message.call_id);
  else if (message.call_id !== wrapupCall) $("wrapup").hidden = true;
  announceCall(message);
}

function renderPop(message) {
  const pop = message.pop;
  const caller = pop.caller || {};
  $("idle").hidden = true;
  $("pop").hidden = false;
  $("pop").dataset.kind = message.kind;
  $("pop").dataset.call = message.call_id;
  // A click-to-dial "offer" is the agent's own phone ringing for a call they are making.
  const kind = pop.direction === "outbound" && message.kind === "offer" ? "dialling" : message.kind;
  $("pop-kind").textContent = T.kind[kind] || message.kind;
  $("pop-direction").textContent = pop.direction === "outbound" ? T.outbound : T.inbound;

  const withdrawn = $("withdrawn-note");
  withdrawn.hidden = message.kind !== "withdrawn";
  withdrawn.textContent = message.kind === "withdrawn" ? (T.withdrawn[message.reason] || message.reason || "") : "";
  const crmDown = $("crm-down");
  crmDown.hidden = caller.crm_available !== false;
  crmDown.textContent = T.crm_down;
  const transfer = $("transfer-note");
  transfer.hidden = !pop.transfer;
  transfer.textContent = pop.transfer
    ? `${fill(T.transfer_from, { agent: pop.transfer.from_agent })}${pop.transfer.note ? ": " + pop.transfer.note : ""}` : "";

  $("caller-name").textContent = caller.known && caller.name ? caller.name : (caller.name || T.unknown_caller);
  $("caller-name").dataset.known = caller.known ? "yes" : "no";
  $("caller-number").textContent = caller.number || caller.number_display || T.withheld;
  const repeat = $("repeat");
  repeat.hidden = !caller.repeat_caller;
  repeat.textContent = caller.repeat_caller ? fill(T.repeat, { count: numbers.format(caller.calls_last_7_days || 0) }) : "";
  setText("caller-account", caller.account_number);
  const segment = word(T.customers.segment, caller.segment);
  setText("caller-tier", [word(T.tier, caller.tier), segment, caller.is_lead ? T.lead : null]
    .filter(Boolean).join(" · "));
  setText("caller-value", caller.lifetime_value != null && caller.lifetime_value !== ""
    ? money.format(Number(caller.lifetime_value)) : null);
  setText("caller-language", languageName(pop.language || caller.language));
  setText("last-agent", caller.last_agent_id);
  setText("queue", word(T.queue || {}, pop.queue));
  setText("waited", fill(T.waited, { seconds: numbers.format(Math.round(pop.waited_seconds || 0)) }));
  setText("routing-why", routingWhy(pop.routing));

  list("ivr-path", pop.ivr_path || [], (step) => step);
  const inputs = $("ivr-inputs");
  inputs.replaceChildren();
  for (const [key, value] of Object.entries(pop.ivr_inputs || {})) {
    const dt = document.createElement("dt"); dt.textContent = key;
    const dd = document.createElement("dd"); dd.textContent = value;
    inputs.append(dt, dd);
  }
  list("open-cases", caller.open_cases || [], (c) =>
    `#${c.id} ${c.subject} · ${word(T.case_status, c.status)} · ${word(T.priority, c.priority)}` +
    (c.opened_at ? " · " + when(c.opened_at) : ""));
  list("activities", caller.recent_activities || [], (a) =>
    [when(a.occurred_at), word(T.activity, a.kind), word(T.activity, a.direction), a.agent_id,
      a.disposition || word(T.activity, a.outcome), a.summary]
      .filter(Boolean).join(" · "));
}

function routingWhy(routing) {
  if (!routing) return null;
  const parts = [T.rule[routing.rule] || routing.rule];
  if (routing.candidates) parts.push(fill(T.candidates, { count: numbers.format(routing.candidates) }));
  if (routing.skills && routing.skills.length) parts.push(routing.skills.join(", "));
  return parts.join(" · ");
}

function list(id, items, line) {
  const target = $(id);
  target.replaceChildren();
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = T.none;
    target.append(li);
    return;
  }
  for (const item of items) {
    const li = document.createElement("li");
    li.textContent = line(item);
    target.append(li);
  }
}

// -- wrap-up -----------------------------------------------------------------------------------
async function openWrapup(callId) {
  if (wrapupCall === callId && !$("wrapup").hidden) return;
  wrapupCall = callId;
  wrapupMessage("");
  let form;
  const caller = (deskMessage && deskMessage.call_id === callId && deskMessage.pop.caller) || {};
  try {
    // The call's CRM activity is written as the call ends, maybe a moment after this news:
    // until it is there the form does not know the customer, so ask again briefly.
    for (let attempt = 0; ; attempt++) {
      form = await getJson(wrapupPath(callId));
      if (form.customer_id != null || caller.customer_id == null || attempt >= 10) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    if (wrapupCall !== callId) return; // another call came meanwhile
  } catch (error) {
    wrapupMessage(failed(T.action_failed, error));
    $("wrapup").hidden = false;
    return;
  }
  const disposition = $("disposition");
  disposition.replaceChildren();
  for (const d of form.dispositions) {
    const option = document.createElement("option");
    option.value = d.code;
    option.textContent = d.label;
    disposition.append(option);
  }
  // The case: none, a new one, or one of the caller's open cases (only a known customer has cases).
  const cases = $("case-id");
  cases.replaceChildren(option("", T.no_case_action));
  if (form.customer_id != null) {
    cases.append(option(NEW_CASE, T.new_case));
    if (form.open_cases.length) {
      const group = document.createElement("optgroup");
      group.label = T.update_case;
      for (const c of form.open_cases) group.append(option(String(c.id), `#${c.id} ${c.subject}`));
      cases.append(group);
    }
  }
  $("notes").value = "";
  $("case-status").value = "resolved";
  $("case-subject").value = "";
  $("case-priority").value = "normal";
  showCaseFields();
  $("save-wrapup").disabled = false;
  delete $("wrapup").dataset.saved;
  $("wrapup").hidden = false;
  $("wrapup").dataset.call = callId;
}

const NEW_CASE = "new";
const wrapupPath = (callId) => `/desk/api/calls/${encodeURIComponent(callId)}/wrapup`;

function option(value, text) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  return element;
}

// A new case asks for its subject and priority, an open one for its new status.
function showCaseFields() {
  const choice = $("case-id").value;
  $("new-case-fields").hidden = choice !== NEW_CASE;
  $("case-subject").required = choice === NEW_CASE;
  $("update-case-fields").hidden = choice === "" || choice === NEW_CASE;
}

function wrapupMessage(text, ok = false) {
  const box = $("wrapup-message");
  box.hidden = !text;
  box.dataset.ok = ok ? "yes" : "no";
  box.textContent = text || "";
}

async function saveWrapup(event) {
  if (event) event.preventDefault();
  if (!wrapupCall || $("wrapup").hidden) return;
  const body = { disposition: $("disposition").value, notes: $("notes").value || null };
  const choice = $("case-id").value;
  if (choice === NEW_CASE) {
    const subject = $("case-subject").value.trim();
    if (!subject) { wrapupMessage(T.case_subject_missing); $("case-subject").focus(); return; }
    body.open_case = { subject, priority: $("case-priority").value };
  } else if (choice) {
    body.update_case = { case_id: Number(choice), status: $("case-status").value };
  }
  try {
    const result = await postJson(wrapupPath(wrapupCall), body);
    let text = result.spooled ? T.spooled : T.saved;
    if (result.case && body.open_case) text += " " + fill(T.case_opened, { id: result.case.id });
    if (result.case_error) text += " " + T.case_not_saved;
    wrapupMessage(text, !result.case_error);
    $("wrapup").dataset.saved = "yes";
    $("save-wrapup").disabled = true;
  } catch (error) {
    wrapupMessage(failed(T.save_failed, error));
  }
}

// -- wiring ------------------------------------------------------------------------------------
$("btn-ready").addEventListener("click", () => changeState("ready"));
$("btn-not-ready").addEventListener("click", () => changeState("not_ready"));
$("btn-logged-out").addEventListener("click", () => changeState("logout"));
$("btn-end-acw").addEventListener("click", () => changeState("ready")); // ends an optional wrap-up
$("wrapup-form").addEventListener("submit", saveWrapup);
$("case-id").addEventListener("change", showCaseFields);
document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  const action = { KeyR: () => changeState("ready"), KeyN: () => changeState("not_ready"), KeyS: () => saveWrapup() }[event.code];
  if (action) { event.preventDefault(); action(); }
});
setInterval(tick, 1000);
connect();
