// The console API client: same-origin, session cookie, CSRF header, one error shape.
import { t, maybe } from "./i18n.js";

/** The name of a request field in the UI language: `image_urls[1]` -> "图片素材 #2". */
export function paramName(param) {
  const m = /^([a-z_]+)(?:\[(\d+)\])?/.exec(param || "");
  if (!m) return param;
  const name = maybe(`param.${m[1]}`) || m[1];
  return m[2] !== undefined ? `${name} #${Number(m[2]) + 1}` : name;
}

/**
 * An error in the UI language, from its code. The server's English message is only the
 * fallback for a code the table does not know; a few values the message carries (a
 * reference, a wait) are lifted into the translation.
 */
export function errorText(code, param, message, status) {
  const msg = message || "";
  const vars = { param: paramName(param) };
  if (code === "invalid_field" && param) return t("error.invalid_field_named", vars);
  if (code === "unknown_asset_reference") {
    const ref = /@(Image|Video|Audio)\d+/.exec(msg);
    return ref ? t("error.unknown_asset_reference", { ref: ref[0] }) : t("error.unknown_asset_reference_plain");
  }
  if (code === "login_throttled") {
    const n = /(\d+) seconds?/.exec(msg);
    return n ? t("error.login_throttled", { seconds: n[1] }) : t("error.login_throttled_plain");
  }
  if (code === "unknown_field" && param) {
    const hint = /did you mean [`"'“]?([\w.]+)/.exec(msg);
    return hint ? t("error.unknown_field_hint", { param, hint: hint[1] }) : t("error.unknown_field", { param });
  }
  const known = code ? maybe(`error.${code}`, vars) : null;
  if (known) {
    // A code whose text does not name the field: name it after the text.
    const named = !param || ["model", "files"].includes(param) || maybe(`error.${code}`) !== maybe(`error.${code}`, { param: "\u0000" });
    return named ? known : t("error.with_field", { msg: known, field: vars.param });
  }
  if (msg) return msg;
  return t("error.http", { status });
}

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || t("error.http", { status }));
    this.status = status;
    this.code = e.code || (status === 0 ? "network_error" : "http_error");
    this.param = e.param || null;
    this.serverMessage = e.message || null;
    // The message follows the UI language, even after a switch.
    Object.defineProperty(this, "message", {
      configurable: true,
      enumerable: false,
      get: () => errorText(this.code, this.param, this.serverMessage, this.status),
    });
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

const HEADERS = { "X-Requested-With": "videoapi" };

async function parse(resp, path) {
  if (resp.status === 204) return null;
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401 && !path.endsWith("/login") && !path.endsWith("/me")) onUnauthorized(err);
    throw err;
  }
  return data;
}

export async function api(method, path, body, extraHeaders) {
  const headers = { ...HEADERS, ...(extraHeaders || {}) };
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, { error: { message: t("error.network"), code: "network_error" } });
  }
  return parse(resp, path);
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);

/** Upload one file with progress (fetch has no upload progress). */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/console/api/upload");
    xhr.setRequestHeader("X-Requested-With", "videoapi");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { message: t("error.network") } }));
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data.data[0]);
      else {
        const err = new ApiError(xhr.status, data);
        if (xhr.status === 401) onUnauthorized(err);
        reject(err);
      }
    };
    const form = new FormData();
    form.append("files", file, file.name);
    xhr.send(form);
  });
}
