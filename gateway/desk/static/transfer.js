// The transfer panel: while the agent's call is answered they pass it on, blind, to a queue or
// to a named agent, with a note the next agent's screen shows. It follows the call through the
// `desk:call` event of desk.js; the outcome is told in the agent's language (net.js).

import { postJson, refusalText } from "./net.js";
import { $, T, fill } from "./page.js";

const S = T.transfer;

let callId = null; // the answered call the panel is for
let transferred = false; // that call has been passed on: only the outcome stays
let sending = false;

// outcome: "" (not tried), "sending", "transferred" or "refused" (data-outcome on the panel)
function say(text, ok = false, outcome = "") {
  $("transfer").dataset.outcome = outcome;
  const box = $("transfer-message");
  box.hidden = !text;
  box.dataset.ok = ok ? "yes" : "no";
  box.textContent = text || "";
}

function follow(message) {
  const panel = $("transfer");
  // Only an answered inbound call is passed on (the service refuses to transfer a dialled one).
  const answered = message && message.kind === "answered" && !(message.pop && message.pop.direction === "outbound");
  if (answered && !(transferred && message.call_id === callId)) {
    if (message.call_id !== callId) {
      callId = message.call_id;
      transferred = false;
      $("transfer-to").value = "";
      $("transfer-note-text").value = "";
      say("");
    }
    $("transfer-form").hidden = false;
    panel.hidden = false;
  } else if (message && message.call_id === callId && (transferred || sending)) {
    // The transfer ends the call on this desk (often before its answer arrives): the outcome stays.
    $("transfer-form").hidden = true;
    panel.hidden = false;
  } else {
    callId = null;
    transferred = false;
    panel.hidden = true;
  }
}

async function transfer(event) {
  if (event) event.preventDefault();
  if (!callId || transferred || sending || $("transfer").hidden) return;
  const choice = $("transfer-to");
  const [kind, target] = choice.value.split(/:(.*)/s);
  if (!target) { say(S.choose, false, "refused"); choice.focus(); return; }
  const label = choice.selectedOptions[0].textContent;
  const forCall = callId;
  sending = true;
  $("btn-transfer").disabled = true;
  say(S.sending, true, "sending");
  try {
    await postJson(`/desk/api/calls/${encodeURIComponent(forCall)}/transfer`,
      { [kind]: target, note: $("transfer-note-text").value });
    if (forCall === callId) {
      transferred = true;
      $("transfer-form").hidden = true;
      say(fill(kind === "queue" ? S.to_queue : S.to_agent, { target: label }), true, "transferred");
    }
  } catch (error) {
    if (forCall !== callId) return;
    say(fill(S.failed, { error: refusalText({ ...T.refused, ...S.refused }, error) }), false, "refused");
    $("transfer-form").hidden = $("pop").dataset.kind !== "answered"; // still talking: try again
  } finally {
    sending = false;
    $("btn-transfer").disabled = false;
  }
}

document.addEventListener("desk:call", (event) => follow(event.detail));
$("transfer-form").addEventListener("submit", transfer);
document.addEventListener("keydown", (event) => {
  if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === "KeyT" && !$("transfer").hidden) {
    event.preventDefault();
    transfer();
  }
});
// A call already on the screen when this loaded (desk.js may have heard from the socket first).
const pop = $("pop");
if (!pop.hidden && pop.dataset.kind) follow({ kind: pop.dataset.kind, call_id: pop.dataset.call });
