// The desk's requests to its own server: JSON, the session's CSRF token on every change, and a
// refusal told in the agent's language. The server's own words (English, for support) stay on
// the error as `detail`; the agent reads the sentence for its HTTP status.

const CSRF = document.querySelector('meta[name="csrf-token"]').content;

export class Refused extends Error {
  constructor(status, detail) {
    super(detail || String(status));
    this.status = status; // 0: the server could not be reached
    this.detail = detail || "";
  }
}

async function send(path, options) {
  let response;
  try {
    response = await fetch(path, { credentials: "same-origin", ...options });
  } catch (e) {
    throw new Refused(0, String(e));
  }
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) throw new Refused(response.status, data && (data.error || data.detail));
  return data;
}

export const getJson = (path) => send(path, { method: "GET" });

export const postJson = (path, body) => send(path, {
  method: "POST",
  headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF },
  body: JSON.stringify(body || {}),
});

// `sentences` is the page catalogue's `refused` map: one sentence per status, "other" for the rest.
export function refusalText(sentences, error) {
  const status = error instanceof Refused ? error.status : -1;
  return sentences[String(status)] || sentences.other;
}
