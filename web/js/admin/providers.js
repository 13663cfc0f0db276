// Operator: channels — kind, base URL, credentials (masked after save), priority/weight,
// enable, and a "test connection" button.
import { get, post, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, formDialog, field, toast } from "../ui.js";

export default {
  async render(main) {
    const list = h("div", loading());
    const result = h("div#provider-test-result", { "aria-live": "polite" });
    let kinds = [];
    clear(
      main,
      pageHeader(t("nav.admin.providers"), t("admin.providers.subtitle"), h("button.btn.btn-primary", { type: "button", onclick: () => edit(null) }, t("admin.providers.create"))),
      result,
      h("section.card", list),
    );

    async function edit(p) {
      const kindSel = h("select", { name: "kind" }, kinds.map((k) => h("option", { value: k, selected: p && p.kind === k }, k)));
      const keep = p ? t("admin.providers.keep") : "";
      const res = await formDialog({
        title: p ? t("admin.providers.edit", { name: p.name }) : t("admin.providers.create"),
        fields: [
          field(t("col.name"), h("input", { name: "name", required: true, value: p ? p.name : "", readonly: Boolean(p), pattern: "[A-Za-z0-9_.\\-]{1,64}" })),
          field(t("admin.providers.kind"), kindSel),
          field("Base URL", h("input", { name: "base_url", type: "url", value: p ? p.base_url : "", placeholder: "https://" })),
          field("API Key", h("input", { name: "api_key", type: "password", autocomplete: "new-password", placeholder: p && p.has_api_key ? `${p.api_key} · ${keep}` : keep })),
          field("API Secret", h("input", { name: "api_secret", type: "password", autocomplete: "new-password", placeholder: p && p.has_api_secret ? `${p.api_secret} · ${keep}` : keep })),
          h(
            "div.form-grid",
            field(t("admin.providers.priority"), h("input", { name: "priority", type: "number", step: 1, value: p ? p.priority : 0 })),
            field(t("admin.providers.weight"), h("input", { name: "weight", type: "number", min: 0, step: 1, value: p ? p.weight : 1 })),
          ),
          field(t("admin.providers.settings"), h("textarea.mono", { name: "settings", placeholder: "{}" }, p && p.settings ? JSON.stringify(p.settings, null, 2) : ""), {
            hint: t("admin.providers.settings_hint"),
          }),
          h("label.check", h("input", { type: "checkbox", name: "enabled", checked: p ? p.enabled : true }), t("enabled")),
        ],
        submit: (d) => {
          let settings;
          if ((d.settings || "").trim()) {
            try {
              settings = JSON.parse(d.settings);
            } catch {
              throw new Error(t("admin.providers.bad_json"));
            }
          }
          const body = {
            kind: d.kind,
            base_url: (d.base_url || "").trim(),
            enabled: d.enabled === "on",
            priority: Number(d.priority || 0),
            weight: Number(d.weight || 0),
          };
          if (settings !== undefined && !(p && JSON.stringify(settings) === JSON.stringify(p.settings))) body.settings = settings;
          if (d.api_key) body.api_key = d.api_key;
          if (d.api_secret) body.api_secret = d.api_secret;
          if (!p) return post("/console/api/admin/providers", { ...body, name: d.name.trim() });
          return put(`/console/api/admin/providers/${encodeURIComponent(p.name)}`, body);
        },
      });
      if (res) {
        toast(t("saved"));
        await load();
      }
    }

    async function test(p, btn) {
      btn.disabled = true;
      clear(result, h("div.alert.alert-warn", t("admin.providers.testing", { name: p.name })));
      try {
        const r = await post(`/console/api/admin/providers/${encodeURIComponent(p.name)}/test`);
        const kind = r.ok ? "alert-ok" : r.supported ? "alert-error" : "alert-warn";
        clear(result, h("div.alert", { class: kind, role: "status" }, h("strong", r.ok ? t("admin.providers.test_ok") : r.supported ? t("admin.providers.test_failed") : t("admin.providers.test_unsupported")), " ", p.name, ": ", r.message));
      } catch (e) {
        clear(result, errorBox(e));
      } finally {
        btn.disabled = false;
      }
    }

    async function load() {
      try {
        const [providers, ks] = await Promise.all([get("/console/api/admin/providers"), get("/console/api/admin/provider-kinds")]);
        kinds = ks;
        clear(
          list,
          table(
            [t("col.name"), t("admin.providers.kind"), "Base URL", t("admin.providers.credentials"), t("admin.providers.priority_weight"), t("col.status"), t("admin.providers.models"), ""],
            providers.map((p) => {
              const testBtn = h("button.btn.btn-small", { type: "button", onclick: () => test(p, testBtn) }, t("admin.providers.test"));
              return [
                h("strong", p.name),
                h("span.chip", p.kind),
                p.base_url ? h("span.mono", p.base_url) : h("span.muted", "—"),
                h(
                  "div.mono",
                  p.has_api_key ? h("div", `key ${p.api_key}`) : null,
                  p.has_api_secret ? h("div", `secret ${p.api_secret}`) : null,
                  !p.has_api_key && !p.has_api_secret ? h("span.muted", "—") : null,
                ),
                `${p.priority} / ${p.weight}`,
                h(
                  "div.chips",
                  h("span.badge", { class: p.enabled ? "badge-ok" : "badge-bad" }, p.enabled ? t("enabled") : t("disabled")),
                  p.healthy ? null : h("span.badge.badge-bad", t("admin.providers.cooling")),
                ),
                p.models.length ? h("div.chips", p.models.map((m) => h("span.chip", m))) : h("span.muted", "—"),
                h("div.page-actions", h("button.btn.btn-small", { type: "button", onclick: () => edit(p) }, t("edit")), testBtn),
              ];
            }),
            { empty: t("admin.providers.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, load));
      }
    }
    await load();
  },
};
