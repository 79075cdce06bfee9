// Requests to the app from every panel: the CSRF token and a POST that answers JSON (or says why not).
// One module, so the footage, search and case-page code send the same headers and read errors the same way.

// The token Django checks on unsafe requests: the form field the page renders, else the csrftoken cookie.
export function csrfToken(doc = globalThis.document) {
  const input = doc?.querySelector?.("input[name=csrfmiddlewaretoken]");
  if (input) return input.value;
  const match = (doc?.cookie ?? "").match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// POST (a FormData, URLSearchParams or nothing) with the session's cookies and token: { ok, status, payload },
// payload being the JSON answer, or { error } naming the status when the answer is not JSON.
export async function postJson(url, body, { fetch = globalThis.fetch, doc = globalThis.document } = {}) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(doc), Accept: "application/json" },
    body,
  });
  let payload = {};
  try {
    payload = await response.json();
  } catch {
    payload = { error: `The server answered ${response.status}.` };
  }
  return { ok: response.ok, status: response.status, payload };
}

// The same POST for callers that show the server's sentence on failure: the payload, or an Error carrying
// the server's message (or the status when it gave none).
export async function postPayload(url, body, options = {}) {
  const { ok, status, payload } = await postJson(url, body, options);
  if (!ok) throw new Error(payload.error ?? `The server answered ${status}.`);
  return payload;
}
