// API Key: create (shown once, with copy) with optional limits, list by name/prefix/status/
// limits/usage/last used, edit limits, revoke; the account's webhook signing secret.
import { get, post, patch } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, fmtNumber, pageHeader, copyButton, confirmDialog, field, toast } from "../ui.js";

// The limit fields of a key, filled from `k` (a listed key) or empty; `body()` reads them as
// the API takes them (empty = no limit), `showError(ex)` puts a 422 next to its field.
function limitFields(k, prefix) {
  const l = (k && k.limits) || {};
  // No min/step: the server's 422 names the field and is shown next to it, in the UI
  // language, instead of the browser's own bubble.
  const num = (name, value) => h(`input#${prefix}-${name}`, { name, type: "number", inputmode: "numeric", value: value ?? "" });
  const expires = h(`input#${prefix}-expires_at`, {
    name: "expires_at",
    type: "datetime-local",
    value: k && k.expires_at ? toLocalInput(k.expires_at) : "",
  });
  const models = h(`input#${prefix}-models`, {
    name: "models",
    placeholder: t("keys.limits.models_placeholder"),
    value: k ? (k.models || []).join(", ") : "",
    autocomplete: "off",
  });
  const ips = h(`input#${prefix}-allowed_ips`, {
    name: "allowed_ips",
    placeholder: "203.0.113.0/24, 2001:db8::/32",
    value: k ? (k.allowed_ips || []).join(", ") : "",
    autocomplete: "off",
  });
  const budget = num("budget", l.budget);
  const period = h(
    `select#${prefix}-budget_period`,
    { name: "budget_period" },
    ["total", "daily", "monthly"].map((p) => h("option", { value: p, selected: (l.budget_period || "total") === p }, t(`keys.period.${p}`))),
  );
  const conc = num("max_concurrency", l.max_concurrency);
  const queued = num("max_queued", l.max_queued);
  const rpm = num("rpm", l.rpm);
  const fields = [
    field(t("keys.limits.expires_at"), expires, { name: "expires_at", hint: t("keys.limits.expires_hint") }),
    field(t("keys.limits.models"), models, { name: "models", hint: t("keys.limits.models_hint") }),
    field(t("keys.limits.allowed_ips"), ips, { name: "allowed_ips", hint: t("keys.limits.ips_hint") }),
    field(t("keys.limits.budget"), budget, { name: "budget", hint: t("keys.limits.budget_hint") }),
    field(t("keys.limits.budget_period"), period, { name: "budget_period" }),
    field(t("keys.limits.max_concurrency"), conc, { name: "max_concurrency", hint: t("keys.limits.concurrency_hint") }),
    field(t("keys.limits.max_queued"), queued, { name: "max_queued", hint: t("keys.limits.queued_hint") }),
    field(t("keys.limits.rpm"), rpm, { name: "rpm", hint: t("keys.limits.rpm_hint") }),
  ];
  const list = (el) => el.value.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
  const int = (el) => (el.value.trim() === "" ? null : Number(el.value));
  return {
    fields,
    body() {
      return {
        expires_at: expires.value ? new Date(expires.value).toISOString() : null,
        models: list(models),
        allowed_ips: list(ips),
        budget: int(budget),
        budget_period: period.value,
        max_concurrency: int(conc),
        max_queued: int(queued),
        rpm: int(rpm),
      };
    },
    clearErrors() {
      for (const f of fields) f.querySelector(".field-error").textContent = "";
    },
    // True when the error was shown next to a field.
    showError(ex) {
      const f = fields.find((x) => x.dataset.field === ex.param);
      if (!f) return false;
      f.querySelector(".field-error").textContent = ex.message;
      return true;
    },
  };
}

/** An RFC 3339 time as a datetime-local value in the browser's zone. */
function toLocalInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The limits of a key in one short line. */
function limitsText(k) {
  const l = k.limits || {};
  const parts = [];
  if (k.expires_at) parts.push(t(k.expired ? "keys.sum.expired" : "keys.sum.expires", { at: fmtTime(Date.parse(k.expires_at)) }));
  if (k.models && k.models.length) parts.push(t("keys.sum.models", { n: k.models.length }));
  if (k.allowed_ips && k.allowed_ips.length) parts.push(t("keys.sum.ips", { list: k.allowed_ips.join(", ") }));
  if (l.budget != null) parts.push(t(`keys.sum.budget_${l.budget_period}`, { n: fmtNumber(l.budget) }));
  if (l.max_concurrency != null) parts.push(t("keys.sum.concurrency", { n: l.max_concurrency }));
  if (l.max_queued != null) parts.push(t("keys.sum.queued", { n: l.max_queued }));
  if (l.rpm != null) parts.push(t("keys.sum.rpm", { n: l.rpm }));
  return parts.length ? parts.join(" · ") : t("keys.sum.none");
}

/** What a key uses now, in one short line. */
function usageText(k) {
  const u = k.usage;
  if (!u) return "—";
  const parts = [t("keys.use.spent", { n: fmtNumber(u.spent_this_period) })];
  if (u.budget_remaining != null) parts.push(t("keys.use.remaining", { n: fmtNumber(u.budget_remaining) }));
  parts.push(t("keys.use.tasks", { running: u.running_tasks, queued: u.queued_tasks }));
  parts.push(t("keys.use.rpm", { n: u.requests_this_minute }));
  return parts.join(" · ");
}

// The account's webhook signing secret: shown on demand, copyable, rotatable.
function webhookSecretCard() {
  const body = h("div#webhook-secret", loading());
  async function show(promise) {
    try {
      const { secret } = await promise;
      clear(
        body,
        h("code#webhook-secret-value.mono", secret),
        h(
          "div.form-actions",
          copyButton(secret, t("keys.webhook_copy")),
          h(
            "button.btn.btn-small.btn-danger#webhook-secret-rotate",
            {
              type: "button",
              onclick: async () => {
                const ok = await confirmDialog({
                  title: t("keys.webhook_rotate_title"),
                  message: t("keys.webhook_rotate_message"),
                  confirm: t("keys.webhook_rotate"),
                  danger: true,
                });
                if (!ok) return;
                await show(post("/console/api/webhook-secret/rotate"));
                toast(t("keys.webhook_rotated"));
              },
            },
            t("keys.webhook_rotate"),
          ),
        ),
      );
    } catch (e) {
      clear(body, errorBox(e, () => show(get("/console/api/webhook-secret"))));
    }
  }
  show(get("/console/api/webhook-secret"));
  return h("section.card", h("h2", t("keys.webhook_title")), h("p.muted", t("keys.webhook_help")), body);
}

export default {
  async render(main) {
    const name = h("input#key-name", { name: "name", maxlength: 64, placeholder: t("keys.name_placeholder"), autocomplete: "off" });
    const nameField = field(t("keys.name"), name);
    const createLimits = limitFields(null, "key");
    const once = h("div#key-once");
    const list = h("div#key-list", loading());
    const createBtn = h("button.btn.btn-primary#key-create", { type: "submit" }, t("keys.create"));
    clear(
      main,
      pageHeader("API Key", t("keys.subtitle")),
      once,
      h(
        "section.card",
        h("h2", t("keys.new")),
        h(
          "form.inline-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              createBtn.disabled = true;
              nameField.querySelector(".field-error").textContent = "";
              createLimits.clearErrors();
              try {
                const k = await post("/console/api/keys", { name: name.value.trim() || null, ...createLimits.body() });
                name.value = "";
                showOnce(k);
                await load();
              } catch (ex) {
                if (!createLimits.showError(ex)) nameField.querySelector(".field-error").textContent = ex.message;
              } finally {
                createBtn.disabled = false;
              }
            },
          },
          nameField,
          h(
            "details.key-limits#key-limits",
            h("summary", t("keys.limits.title")),
            h("p.muted", t("keys.limits.help")),
            h("div.form-grid", createLimits.fields),
          ),
          createBtn,
        ),
      ),
      h("section.card", h("h2", t("keys.list")), list),
      webhookSecretCard(),
    );

    function showOnce(k) {
      const code = h("code#new-key", k.key);
      clear(
        once,
        h(
          "div.secret-once",
          { role: "alert" },
          h("strong", t("keys.created", { name: k.name })),
          code,
          h("p", t("keys.once_warning")),
          h(
            "div.form-actions",
            copyButton(k.key, t("keys.copy")),
            h("button.btn.btn-small", { type: "button", onclick: () => clear(once) }, t("keys.saved")),
          ),
        ),
      );
    }

    // The edit dialog: every field with its own error slot; stays open on a 422.
    function edit(k) {
      const dlgName = h("input#edit-name", { name: "name", maxlength: 64, value: k.name, autocomplete: "off" });
      const nf = field(t("keys.name"), dlgName, { name: "name" });
      const lf = limitFields(k, "edit");
      const dlg = h(
        "dialog.dialog#key-edit",
        { "aria-labelledby": "key-edit-title" },
        h("h2#key-edit-title", t("keys.edit_title", { name: k.name })),
        h(
          "form.dialog-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              nf.querySelector(".field-error").textContent = "";
              lf.clearErrors();
              general.textContent = "";
              try {
                await patch(`/console/api/keys/${k.id}`, { name: dlgName.value.trim() || null, ...lf.body() });
                dlg.close();
                toast(t("keys.saved_limits"));
                await load();
              } catch (ex) {
                if (ex.param === "name") nf.querySelector(".field-error").textContent = ex.message;
                else if (!lf.showError(ex)) general.textContent = ex.message;
              }
            },
          },
          nf,
          h("div.form-grid", lf.fields),
          h("p.field-error#key-edit-error", { role: "alert" }),
          h(
            "div.dialog-actions",
            h("button.btn", { type: "button", onclick: () => dlg.close() }, t("cancel")),
            h("button.btn.btn-primary#key-edit-save", { type: "submit" }, t("save")),
          ),
        ),
      );
      const general = dlg.querySelector("#key-edit-error");
      dlg.addEventListener("close", () => dlg.remove());
      document.body.append(dlg);
      dlg.showModal();
    }

    async function load() {
      try {
        const keys = await get("/console/api/keys");
        clear(
          list,
          table(
            [t("col.name"), t("col.prefix"), t("col.status"), t("keys.col.limits"), t("keys.col.usage"), t("col.last_used"), ""],
            keys.map((k) => [
              k.name,
              h("span.mono", `${k.prefix}…`),
              h("span.badge", { class: k.status === "active" ? "badge-ok" : "badge-bad" }, t(`key.${k.status}`)),
              h("span.key-limits-text", { dataset: { keyLimits: k.name } }, limitsText(k)),
              h("span.key-usage-text", { dataset: { keyUsage: k.name } }, usageText(k)),
              k.last_used_ms ? fmtTime(k.last_used_ms) : h("span.muted", t("keys.never")),
              k.status === "active"
                ? [
                  h(
                    "button.btn.btn-small",
                    { type: "button", "aria-label": t("keys.edit_named", { name: k.name }), onclick: () => edit(k) },
                    t("keys.edit"),
                  ),
                  " ",
                  h(
                    "button.btn.btn-small.btn-danger",
                    {
                      type: "button",
                      "aria-label": t("keys.revoke_named", { name: k.name }),
                      onclick: async () => {
                        const ok = await confirmDialog({
                          title: t("keys.revoke_title"),
                          message: t("keys.revoke_message", { name: k.name, prefix: k.prefix }),
                          confirm: t("keys.revoke"),
                          danger: true,
                        });
                        if (!ok) return;
                        try {
                          await post(`/console/api/keys/${k.id}/revoke`);
                          toast(t("keys.revoked"));
                          await load();
                        } catch (e) {
                          toast(e.message, "error");
                        }
                      },
                    },
                    t("keys.revoke"),
                  ),
                ]
                : "",
            ]),
            { empty: t("keys.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, load));
      }
    }
    await load();
  },
};
