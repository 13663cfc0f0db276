// Operator: channels — kind (with only the fields it uses, its default base URL and README
// row, from the server's kind table), credentials (masked after save), priority/weight,
// enable, and a "test connection" button.
import { get, post, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, formDialog, field, toast, channelTestText } from "../ui.js";

export default {
  async render(main) {
    const list = h("div", loading());
    const result = h("div#provider-test-result", { "aria-live": "polite" });
    let kinds = [];
    clear(
      main,
      pageHeader(t("nav.admin.providers"), t("admin.providers.subtitle"), h("button.btn.btn-primary#provider-create", { type: "button", onclick: () => edit(null) }, t("admin.providers.create"))),
      result,
      h("section.card", list),
    );

    // The server's kind table is in English; names and labels that read differently in the
    // UI language have a translation (product names need none).
    const kindName = (k) => t(`kind.name.${k.kind}`, undefined, k.display_name);

    // The README row of a kind: the README is served as text, and a text fragment
    // scrolls to the first mention of the kind (its table row).
    function readmeLink(k) {
      const href = k.kind === "demo" ? "/README.md" : `/README.md#:~:text=${encodeURIComponent(`\`${k.kind}\``).replace(/-/g, "%2D")}`;
      return h("a#provider-kind-readme", { href, target: "_blank", rel: "noopener", "data-anchor": k.readme_anchor }, t("admin.providers.readme_row", { kind: k.kind }));
    }

    async function edit(p) {
      const byKind = (name) => kinds.find((k) => k.kind === name);
      const first = p ? p.kind : kinds.length ? kinds[0].kind : "";
      const kindSel = h(
        "select#provider-kind",
        { name: "kind" },
        kinds.map((k) => h("option", { value: k.kind, selected: k.kind === first }, `${kindName(k)} · ${k.kind}`)),
        // A stored kind this build does not know stays selectable, so the dialog shows it.
        p && !byKind(p.kind) ? h("option", { value: p.kind, selected: true }, p.kind) : null,
      );
      const keep = p ? t("admin.providers.keep") : "";
      const about = h("div.kind-about#provider-kind-about", { "aria-live": "polite" });
      const baseUrl = h("input#provider-base-url", { name: "base_url", type: "url", value: p ? p.base_url : "" });
      const baseHint = h("p.hint#provider-base-url-hint");
      const region = h("select#provider-region", { "aria-label": t("admin.providers.region") });
      const apiKey = h("input#provider-api-key", { name: "api_key", type: "password", autocomplete: "new-password", placeholder: p && p.has_api_key ? `${p.api_key} · ${keep}` : keep });
      const apiSecret = h("input#provider-api-secret", { name: "api_secret", type: "password", autocomplete: "new-password", placeholder: p && p.has_api_secret ? `${p.api_secret} · ${keep}` : keep });
      const settingsHint = h("p.hint#provider-settings-hint");
      const nameField = field(t("col.name"), h("input#provider-name", { name: "name", required: true, value: p ? p.name : "", readonly: Boolean(p), pattern: "[A-Za-z0-9_.\\-]{1,64}" }), { name: "name" });
      const regionField = field(t("admin.providers.region"), region, { name: "region" });
      const baseField = field("Base URL", baseUrl, { name: "base_url" });
      baseField.insertBefore(baseHint, baseField.querySelector(".field-error"));
      const keyField = field("API Key", apiKey, { name: "api_key", hint: t("admin.providers.several_keys") });
      const secretField = field("API Secret", apiSecret, { name: "api_secret", hint: t("admin.providers.secret_hint") });
      const settingsField = field(t("admin.providers.settings"), h("textarea.mono", { name: "settings", placeholder: "{}" }, p && p.settings ? JSON.stringify(p.settings, null, 2) : ""));
      settingsField.insertBefore(settingsHint, settingsField.querySelector(".field-error"));

      // Show only what the chosen kind uses; a hidden field is also disabled, so it is
      // neither submitted nor validated.
      function show(el, on) {
        el.hidden = !on;
        el.querySelectorAll("input, select, textarea").forEach((c) => (c.disabled = !on));
      }
      function applyKind() {
        const k = byKind(kindSel.value);
        const uses = (f) => (k ? k.fields.includes(f) : true);
        show(keyField, uses("api_key"));
        show(secretField, uses("api_secret"));
        show(baseField, uses("base_url"));
        if (k) {
          keyField.querySelector("label").textContent = t(`kind.key.${k.kind}`, undefined, k.api_key_label || "API Key");
          secretField.querySelector("label").textContent = t(`kind.secret.${k.kind}`, undefined, k.api_secret_label || "API Secret");
        }
        baseUrl.required = Boolean(k && k.base_url_required);
        baseUrl.placeholder = k ? k.default_base_url || k.base_url_example || "https://" : "https://";
        baseHint.textContent = !k
          ? ""
          : k.default_base_url
            ? t("admin.providers.default_base_url", { url: k.default_base_url })
            : k.base_url_required
              ? t("admin.providers.base_url_required", { url: k.base_url_example })
              : "";
        const regions = k ? k.regions : [];
        show(regionField, regions.length > 0);
        clear(
          region,
          h("option", { value: "" }, t("admin.providers.region_pick")),
          regions.map((r) => h("option", { value: r.base_url, "data-region": r.code, selected: baseUrl.value.replace(/\/+$/, "") === r.base_url }, `${t(`kind.region.${r.code}`, undefined, r.name)} · ${r.base_url}`)),
        );
        const own = k ? k.settings.map((s) => h("code", s)) : [];
        clear(
          settingsHint,
          t("admin.providers.settings_hint"),
          " · ",
          t("admin.providers.settings_common"),
          " timeout_secs, max_concurrency, requests_per_second",
          own.length ? [". ", t("admin.providers.settings_kind"), " ", own.flatMap((c, i) => (i ? [", ", c] : [c]))] : null,
        );
        clear(
          about,
          k
            ? [
                h("strong", kindName(k)),
                " · ",
                readmeLink(k),
                k.route_mapping ? h("p.hint", t("admin.providers.route_mapping")) : null,
                k.test_connection ? null : h("p.hint", t("admin.providers.no_test")),
              ]
            : null,
        );
      }
      kindSel.addEventListener("change", applyKind);
      region.addEventListener("change", () => {
        if (region.value) baseUrl.value = region.value;
      });
      applyKind();

      const pending = formDialog({
        title: p ? t("admin.providers.edit", { name: p.name }) : t("admin.providers.create"),
        fields: [
          nameField,
          field(t("admin.providers.kind"), kindSel),
          about,
          regionField,
          baseField,
          keyField,
          secretField,
          h(
            "div.form-grid",
            field(t("admin.providers.priority"), h("input", { name: "priority", type: "number", step: 1, value: p ? p.priority : 0 })),
            field(t("admin.providers.weight"), h("input", { name: "weight", type: "number", min: 0, step: 1, value: p ? p.weight : 1 })),
          ),
          settingsField,
          h("label.check", h("input", { type: "checkbox", name: "enabled", checked: p ? p.enabled : true }), t("enabled")),
        ],
        submit: (d) => {
          // Checked here (in the UI language, next to the field) rather than by the
          // browser's own bubbles.
          const problems = [];
          const check = (f, bad, message) => {
            f.querySelector(":scope > .field-error").textContent = bad ? message : "";
            if (bad) problems.push(message);
          };
          if (!p) check(nameField, !/^[A-Za-z0-9_.-]{1,64}$/.test((d.name || "").trim()), t("admin.providers.v.name"));
          const url = (d.base_url || "").trim();
          const badUrl = !baseField.hidden && ((baseUrl.required && !url) || (url !== "" && !/^https?:\/\/\S+$/.test(url)));
          check(baseField, badUrl, url ? t("admin.providers.v.url") : t("admin.providers.v.base_url"));
          if (problems.length) throw new Error(problems[0]);
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
      const form = baseField.closest("form");
      if (form) form.noValidate = true;
      const res = await pending;
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
        clear(result, h("div.alert", { class: kind, role: "status" }, h("strong", r.ok ? t("admin.providers.test_ok") : r.supported ? t("admin.providers.test_failed") : t("admin.providers.test_unsupported")), " ", p.name, ": ", channelTestText(r)));
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
                h("span.chip", { title: kinds.find((k) => k.kind === p.kind) ? kindName(kinds.find((k) => k.kind === p.kind)) : "" }, p.kind),
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
