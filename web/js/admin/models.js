// Operator: models — public id, name, features, billing and price, capabilities, routes
// to channels with upstream model names, enable.
import { get, post, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, formDialog, field, toast } from "../ui.js";
import { billingLabel, unitLabel } from "../pages/generate.js";

const list = (s) => (s || "").split(",").map((x) => x.trim()).filter(Boolean);

function parseResPrices(s) {
  const out = {};
  for (const part of list(s)) {
    const [k, v] = part.split("=").map((x) => (x || "").trim());
    if (!k || v === "" || Number.isNaN(Number(v))) throw new Error(t("admin.models.bad_res_price", { part }));
    out[k] = Number(v);
  }
  return out;
}

export default {
  async render(main) {
    const body = h("div", loading());
    let providers = [];
    clear(
      main,
      pageHeader(t("nav.admin.models"), t("admin.models.subtitle"), h("button.btn.btn-primary", { type: "button", onclick: () => edit(null) }, t("admin.models.create"))),
      h("section.card", body),
    );

    function routeRow(r) {
      const row = h(
        "div.route-row",
        field(t("admin.models.channel"), h("select", { "data-r": "provider" }, providers.map((p) => h("option", { value: p.name, selected: r && r.provider === p.name }, p.name)))),
        field(t("admin.models.upstream"), h("input", { "data-r": "upstream_model", value: r ? r.upstream_model : "", required: true })),
        field(t("admin.providers.priority"), h("input", { "data-r": "priority", type: "number", step: 1, value: r ? r.priority : 0 })),
        field(t("admin.providers.weight"), h("input", { "data-r": "weight", type: "number", min: 0, step: 1, value: r ? r.weight : 1 })),
        h("button.btn.btn-small.btn-ghost", { type: "button", "aria-label": t("admin.models.remove_route"), onclick: () => row.remove() }, "×"),
      );
      if (r && r.settings) row.dataset.settings = JSON.stringify(r.settings);
      return row;
    }

    async function edit(m) {
      const c = m ? m.capabilities : { types: ["text-to-video"], resolutions: ["720p"], durations: [5], default_duration: 5, aspect_ratios: ["16:9"], max_images: 0, max_videos: 0, max_audios: 0, supports_audio: false, default_generate_audio: false };
      const routes = h("div.routes", (m ? m.routes : []).map(routeRow));
      const res = await formDialog({
        title: m ? t("admin.models.edit", { id: m.id }) : t("admin.models.create"),
        fields: [
          h(
            "div.form-grid",
            field(t("admin.models.id"), h("input", { name: "id", required: true, value: m ? m.id : "", readonly: Boolean(m) })),
            field(t("col.model_name"), h("input", { name: "name", required: true, value: m ? m.name : "" })),
          ),
          field(t("admin.models.description"), h("input", { name: "description", value: m ? m.description : "" })),
          field(t("col.features"), h("input", { name: "features", value: m ? m.features.join(", ") : "" }), { hint: t("admin.models.comma") }),
          h(
            "div.form-grid",
            field(t("col.billing"), h("select", { name: "mode" }, ["per_task", "per_second"].map((v) => h("option", { value: v, selected: m && m.billing.mode === v }, billingLabel(v))))),
            field(t("admin.models.credits"), h("input", { name: "credits", type: "number", min: 0, step: 1, required: true, value: m ? m.billing.credits : 100 })),
            field(t("admin.models.res_credits"), h("input", { name: "res_credits", value: m ? Object.entries(m.billing.resolution_credits).map(([k, v]) => `${k}=${v}`).join(", ") : "" }), { hint: "480p=24, 1080p=60" }),
          ),
          h(
            "div.form-grid",
            field(t("admin.models.types"), h("input", { name: "types", value: c.types.join(", ") }), { hint: "text-to-video, image-to-video, reference-to-video" }),
            field(t("admin.models.resolutions"), h("input", { name: "resolutions", value: c.resolutions.join(", ") })),
            field(t("admin.models.durations"), h("input", { name: "durations", value: c.durations.join(", ") })),
            field(t("admin.models.default_duration"), h("input", { name: "default_duration", type: "number", min: 1, value: c.default_duration })),
            field(t("admin.models.aspect_ratios"), h("input", { name: "aspect_ratios", value: c.aspect_ratios.join(", ") })),
            field(t("admin.models.poll"), h("input", { name: "poll", type: "number", min: 1, value: m ? m.poll_interval_seconds : 30 })),
            field(t("admin.models.max_images"), h("input", { name: "max_images", type: "number", min: 0, value: c.max_images })),
            field(t("admin.models.max_videos"), h("input", { name: "max_videos", type: "number", min: 0, value: c.max_videos })),
            field(t("admin.models.max_audios"), h("input", { name: "max_audios", type: "number", min: 0, value: c.max_audios })),
          ),
          h(
            "div.chips",
            h("label.check", h("input", { type: "checkbox", name: "supports_audio", checked: c.supports_audio }), t("admin.models.supports_audio")),
            h("label.check", h("input", { type: "checkbox", name: "default_generate_audio", checked: c.default_generate_audio }), t("admin.models.default_audio")),
            h("label.check", h("input", { type: "checkbox", name: "enabled", checked: m ? m.enabled : true }), t("enabled")),
          ),
          h("h3", t("admin.models.routes")),
          routes,
          h("button.btn.btn-small", { type: "button", onclick: () => routes.append(routeRow(null)) }, t("admin.models.add_route")),
        ],
        submit: (d) => {
          const payload = {
            id: d.id.trim(),
            name: d.name.trim(),
            description: d.description || "",
            features: list(d.features),
            enabled: d.enabled === "on",
            billing: { mode: d.mode, credits: Number(d.credits), resolution_credits: parseResPrices(d.res_credits) },
            capabilities: {
              types: list(d.types),
              resolutions: list(d.resolutions),
              durations: list(d.durations).map(Number),
              default_duration: Number(d.default_duration),
              aspect_ratios: list(d.aspect_ratios),
              max_images: Number(d.max_images || 0),
              max_videos: Number(d.max_videos || 0),
              max_audios: Number(d.max_audios || 0),
              supports_audio: d.supports_audio === "on",
              default_generate_audio: d.default_generate_audio === "on",
            },
            poll_interval_seconds: Number(d.poll),
            routes: [...routes.querySelectorAll(".route-row")].map((row) => {
              const v = (k) => row.querySelector(`[data-r="${k}"]`).value;
              const r = { provider: v("provider"), upstream_model: v("upstream_model").trim(), priority: Number(v("priority") || 0), weight: Number(v("weight") || 0) };
              if (row.dataset.settings) r.settings = JSON.parse(row.dataset.settings);
              return r;
            }),
          };
          return m ? put(`/console/api/admin/models/${encodeURIComponent(m.id)}`, payload) : post("/console/api/admin/models", payload);
        },
      });
      if (res) {
        toast(t("saved"));
        await load();
      }
    }

    async function toggle(m) {
      try {
        await put(`/console/api/admin/models/${encodeURIComponent(m.id)}`, { ...m, enabled: !m.enabled });
        toast(m.enabled ? t("admin.models.disabled") : t("admin.models.enabled"));
        await load();
      } catch (e) {
        toast(e.message, "error");
      }
    }

    async function load() {
      try {
        const [models, ps] = await Promise.all([get("/console/api/admin/models"), get("/console/api/admin/providers")]);
        providers = ps;
        clear(
          body,
          table(
            [t("col.model_name"), t("col.billing"), t("admin.models.list_price"), t("admin.models.capabilities"), t("admin.models.routes"), t("col.status"), ""],
            models.map((m) => [
              h("div", h("strong", m.name), h("span.cell-sub.mono", m.id)),
              billingLabel(m.billing.mode),
              h(
                "div",
                unitLabel(m.billing.mode, m.billing.credits),
                Object.keys(m.billing.resolution_credits).length
                  ? h("span.cell-sub", Object.entries(m.billing.resolution_credits).map(([k, v]) => `${k}: ${v}`).join(" · "))
                  : null,
              ),
              h(
                "span.cell-sub",
                [m.capabilities.types.join(" / "), m.capabilities.resolutions.join(" / "), `${m.capabilities.durations.join("/")}s`, m.capabilities.aspect_ratios.join(" ")].join(" · "),
              ),
              m.routes.length
                ? h("div", m.routes.map((r) => h("div.mono", `${r.provider} → ${r.upstream_model} (p${r.priority}, w${r.weight})`)))
                : h("span.badge.badge-bad", t("admin.models.no_routes")),
              h("span.badge", { class: m.enabled ? "badge-ok" : "badge-bad" }, m.enabled ? t("enabled") : t("disabled")),
              h(
                "div.page-actions",
                h("button.btn.btn-small", { type: "button", onclick: () => edit(m) }, t("edit")),
                h("button.btn.btn-small.btn-ghost", { type: "button", onclick: () => toggle(m) }, m.enabled ? t("disable") : t("enable")),
              ),
            ]),
            { empty: t("models.empty") },
          ),
        );
      } catch (e) {
        clear(body, errorBox(e, load));
      }
    }
    await load();
  },
};
