// Small DOM helpers: an element builder, formatting, dialogs, copy, toasts.
import { t, lang, locale, maybe } from "./i18n.js";

/** h("div.card#id", {onclick, class, ...attrs}, ...children) */
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(tag) || [];
  const el = document.createElement(m[1] || "div");
  for (const part of (m[2] || "").match(/[.#][\w-]+/g) || []) {
    if (part[0] === ".") el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = [el.className, v].filter(Boolean).join(" ");
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked" || k === "disabled" || k === "selected" || k === "hidden") el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Times in the UI language (zh-CN or en), not the browser's locale. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "medium" }).format(new Date(ms));
}

export function fmtElapsed(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const s = ms / 1000;
  if (s < 60) return t("elapsed.seconds", { n: s < 10 ? fmtNumber(Number(s.toFixed(1))) : Math.round(s) });
  const m = Math.floor(s / 60);
  return t("elapsed.minutes", { m, s: Math.round(s - m * 60) });
}

/** Numbers in the UI language. */
export function fmtNumber(n) {
  return typeof n === "number" ? new Intl.NumberFormat(locale()).format(n) : "—";
}

/** A task status as a translated badge; `data-status` keeps the API value. */
/** Bytes in binary units: 1.5 MiB. */
export function fmtBytes(n) {
  const MB = 1024 * 1024;
  if (n >= 1024 * MB) return `${(n / (1024 * MB)).toFixed(2)} GiB`;
  if (n >= MB) return `${(n / MB).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

export function statusBadge(status) {
  return h(
    "span.badge",
    { class: `status-${status}`, "data-status": status },
    status ? maybe(`task.status.${status}`) || status : "—",
  );
}

/** A failed task's error in the UI language; upstream's own text for codes we do not know. */
export function taskErrorText(error) {
  if (!error) return t("status.failed");
  return maybe(`taskerr.${error.code}`) || error.message || error.code || t("status.failed");
}

/** A ledger entry's note: a system reason in the UI language, or the operator's text as typed. */
export function ledgerNote(e) {
  if (e.reason === "task_refunded") {
    return e.error_code
      ? t("ledger.reason.task_refunded", { error: taskErrorText({ code: e.error_code, message: e.error_code }) })
      : t("ledger.reason.task_refunded_plain");
  }
  if (e.reason) return maybe(`ledger.reason.${e.reason}`) || e.note || e.reason;
  return e.note || "—";
}

/** A channel test's outcome in the UI language, with upstream's own words as the detail. */
export function channelTestText(r, timeoutSecs = 20) {
  const text = maybe(`channel.test.${r.code}`, { n: timeoutSecs });
  if (!text) return r.message;
  return r.detail ? `${text} (${r.detail})` : text;
}

export function shortId(id) {
  return id && id.length > 18 ? `${id.slice(0, 7)}…${id.slice(-8)}` : id;
}

/** A table with a header, rows, and an empty state. */
export function table(columns, rows, { empty, caption } = {}) {
  const body = rows.length
    ? rows.map((r) => h("tr", r.map((cell, i) => h("td", { "data-label": columns[i] }, cell))))
    : [h("tr.empty-row", h("td", { colspan: columns.length }, h("div.empty", empty || t("empty"))))];
  return h(
    "div.table-wrap",
    h(
      "table",
      caption ? h("caption.sr-only", caption) : null,
      h("thead", h("tr", columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", body),
    ),
  );
}

export function loading() {
  return h("div.loading", { role: "status" }, h("span.spinner", { "aria-hidden": "true" }), t("loading"));
}

export function errorBox(err, retry) {
  return h(
    "div.alert.alert-error",
    { role: "alert" },
    h("strong", t("error.title")),
    " ",
    err && err.message ? err.message : String(err),
    retry ? h("button.btn.btn-small", { type: "button", onclick: retry }, t("retry")) : null,
  );
}

let toastTimer;
export function toast(message, kind = "ok") {
  let el = document.getElementById("toast");
  if (!el) {
    el = h("div#toast", { role: "status", "aria-live": "polite" });
    document.body.append(el);
  }
  el.className = `toast toast-${kind} show`;
  el.textContent = message;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), 3500);
}

/** Copy text; falls back to a selection when the Clipboard API is unavailable (plain http). */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the selection copy
  }
  const ta = h("textarea.offscreen", { readonly: true }, text);
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function copyButton(getText, label) {
  const btn = h(
    "button.btn.btn-small.btn-ghost.copy-btn",
    {
      type: "button",
      onclick: async () => {
        const ok = await copyText(typeof getText === "function" ? getText() : getText);
        btn.textContent = ok ? t("copied") : t("copy.failed");
        setTimeout(() => (btn.textContent = label || t("copy")), 1500);
      },
    },
    label || t("copy"),
  );
  return btn;
}

export function codeBlock(code, title) {
  const pre = h("pre.code", h("code", code));
  return h(
    "div.code-block",
    h("div.code-head", h("span.code-title", title || ""), copyButton(() => pre.textContent)),
    pre,
  );
}

/** A modal confirmation; resolves true when confirmed. */
export function confirmDialog({ title, message, confirm, danger }) {
  return new Promise((resolve) => {
    const dlg = h(
      "dialog.dialog",
      { "aria-labelledby": "dlg-title" },
      h("h2#dlg-title", title),
      h("p", message),
      h(
        "div.dialog-actions",
        h("button.btn", { type: "button", value: "cancel", onclick: () => dlg.close("cancel") }, t("cancel")),
        h(
          "button.btn",
          { type: "button", class: danger ? "btn-danger" : "btn-primary", onclick: () => dlg.close("ok") },
          confirm || t("confirm"),
        ),
      ),
    );
    dlg.addEventListener("close", () => {
      resolve(dlg.returnValue === "ok");
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** A modal form; `build(form)` adds fields, `submit(data)` may throw to keep it open. */
export function formDialog({ title, fields, submitLabel, submit }) {
  return new Promise((resolve) => {
    const err = h("p.field-error", { role: "alert" });
    const form = h(
      "form.dialog-form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          err.textContent = "";
          const data = Object.fromEntries(new FormData(form).entries());
          try {
            const result = await submit(data, form);
            dlg.close("ok");
            resolve(result ?? true);
          } catch (ex) {
            err.textContent = ex.message || String(ex);
          }
        },
      },
      fields,
      err,
      h(
        "div.dialog-actions",
        h("button.btn", { type: "button", onclick: () => { dlg.close("cancel"); resolve(null); } }, t("cancel")),
        h("button.btn.btn-primary", { type: "submit" }, submitLabel || t("save")),
      ),
    );
    const dlg = h("dialog.dialog", { "aria-labelledby": "fdlg-title" }, h("h2#fdlg-title", title), form);
    dlg.addEventListener("cancel", () => resolve(null));
    dlg.addEventListener("close", () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
    const first = form.querySelector("input, select, textarea");
    if (first) first.focus();
  });
}

let uid = 0;
/** A labelled field: h-built control plus a label and an error slot. */
export function field(label, control, { hint, name, wide } = {}) {
  const id = control.id || `f${++uid}`;
  control.id = id;
  const errId = `${id}-err`;
  control.setAttribute("aria-describedby", errId);
  return h(
    "div.field",
    { class: wide ? "field-wide" : "", dataset: name ? { field: name } : undefined },
    h("label", { for: id }, label),
    control,
    hint ? h("p.hint", hint) : null,
    h("p.field-error", { id: errId, role: "alert" }),
  );
}

export function pageHeader(title, subtitle, ...actions) {
  return h(
    "div.page-head",
    h("div", h("h1", title), subtitle ? h("p.subtitle", subtitle) : null),
    actions.length ? h("div.page-actions", actions) : null,
  );
}

export function currentLang() {
  return lang();
}

// Line icons (24x24 strokes), drawn inline so they need no font or file.
const ICONS = {
  overview: "M3 3h7v9H3zM14 3h7v5h-7zM14 12h7v9h-7zM3 16h7v5H3z",
  generate: "M5 3l14 9-14 9z",
  keys: "M15 7a4 4 0 1 1-3.9 5H3v3h3v3h3v-3h2.1A4 4 0 0 1 15 7zM16 10h.01",
  models: "M3 3h18v18H3zM3 9h18M9 21V9",
  quickstart: "M5 12h14M13 5l7 7-7 7",
  users: "M16 21v-2a4 4 0 0 0-4-4H6a4 4 0 0 0-4 4v2M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM22 21v-2a4 4 0 0 0-3-3.87M16 3.13a4 4 0 0 1 0 7.75",
  groups: "M19 5L5 19M6.5 9a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5zM17.5 20a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z",
  providers: "M17 1l4 4-4 4M3 11V9a4 4 0 0 1 4-4h14M7 23l-4-4 4-4M21 13v2a4 4 0 0 1-4 4H3",
  adminModels: "M12 2l10 5-10 5L2 7zM2 17l10 5 10-5M2 12l10 5 10-5",
  tasks: "M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01",
  ledger: "M12 1v22M17 5H9.5a3.5 3.5 0 0 0 0 7h5a3.5 3.5 0 0 1 0 7H6",
  storage: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  menu: "M3 12h18M3 6h18M3 18h18",
};

export function icon(name) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "18");
  svg.setAttribute("height", "18");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name] || ICONS.overview);
  svg.append(path);
  return svg;
}
