// The agent API from the inbox page: the session cookie plus the page's CSRF token on every
// unsafe request (DESIGN.md, "Web inbox"). Errors come back as ApiError with the API's code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch("/api/v1" + path, init);
  } catch (err) {
    throw new ApiError(0, "network", "网络连接失败，请检查网络后重试");
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const error = (data && data.error) || {};
    if (resp.status === 401) window.dispatchEvent(new CustomEvent("inbox:signed-out"));
    throw new ApiError(resp.status, error.code || "error", error.message || `请求失败（${resp.status}）`);
  }
  return data;
}

// A request that may be retried as is (a send carries its client id): network errors and
// 5xx answers are tried again a few times before they count as failed.
export async function retrying(method, path, body, attempts = 3) {
  for (let n = 1; ; n++) {
    try {
      return await api(method, path, body);
    } catch (err) {
      const transient = err.status === 0 || err.status >= 500;
      if (!transient || n >= attempts) throw err;
      await new Promise((ok) => setTimeout(ok, 500 * n));
    }
  }
}
