// The public API, as the console calls it. The client token lives in sessionStorage only
// (never localStorage, never a cookie) and goes out as the ChittyID-Token header.

const TOKEN_KEY = "chittycharge.console.token";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// An API error as the service said it: HTTP status, machine code and sentence, verbatim.
export class ApiError extends Error {
  constructor(status, code, message, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }

  toString() {
    const param = this.param ? ` (param: ${this.param})` : "";
    return `${this.status} ${this.code}: ${this.message}${param}`;
  }
}

async function errorOf(answer) {
  let body = null;
  try {
    body = await answer.json();
  } catch {
    body = null;
  }
  // {"error": "<sentence>", "code": "…", "param"?} (and tolerate {"error": {"code", "message"}}).
  let error = body && body.error;
  let code = body && body.code;
  let param = body && body.param;
  if (error && typeof error === "object") {
    code = code || error.code;
    param = param || error.param;
    error = error.message || error.error || JSON.stringify(error);
  }
  return new ApiError(answer.status, code || "http_error",
                      error || answer.statusText || "no answer body", param);
}

export async function call(method, path, { body, raw, contentType, idempotent, withToken } = {}) {
  const headers = { "ChittyID-Token": withToken || token() || "" };
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["Content-Type"] = contentType;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  if (idempotent) headers["Idempotency-Key"] = `console-${crypto.randomUUID()}`;
  let answer;
  try {
    answer = await fetch(path, { method, headers, body: payload, credentials: "omit",
                                 cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "network_error", `the service could not be reached (${e.message})`);
  }
  if (!answer.ok) throw await errorOf(answer);
  return answer.status === 204 ? null : answer.json();
}

// Checks a token with a harmless call; keeps it only when the service accepts it.
export async function signIn(candidate) {
  await call("GET", "/api/holds?limit=1", { withToken: candidate });
  sessionStorage.setItem(TOKEN_KEY, candidate);
}

const q = encodeURIComponent;
export const api = {
  holds: (params) => call("GET", `/api/holds?${new URLSearchParams(params)}`),
  hold: (id) => call("GET", `/api/holds/${q(id)}`),
  events: (id, after) => call("GET", `/api/holds/${q(id)}/events?limit=100` +
                                     (after ? `&starting_after=${q(after)}` : "")),
  evidence: (id) => call("GET", `/api/holds/${q(id)}/evidence`),
  upload: (id, file) => call("POST", `/api/holds/${q(id)}/evidence?filename=${q(file.name)}`,
                             { raw: file, contentType: file.type || "application/octet-stream",
                               idempotent: true }),
  capture: (id, body) => call("POST", `/api/holds/${q(id)}/capture`, { body, idempotent: true }),
  cancel: (id, body) => call("POST", `/api/holds/${q(id)}/cancel`, { body, idempotent: true }),
  refund: (id, body) => call("POST", `/api/holds/${q(id)}/refund`, { body, idempotent: true }),
  guestLink: (id) => call("POST", `/api/holds/${q(id)}/guest_link`, { body: {}, idempotent: true }),
  submitDispute: (id) => call("POST", `/api/holds/${q(id)}/dispute/submit`,
                              { body: {}, idempotent: true }),
  failedNotifications: (after) => call("GET", "/api/notifications?status=failed&limit=50" +
                                              (after ? `&starting_after=${q(after)}` : "")),
};
