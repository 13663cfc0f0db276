// Operator: models — public id, name, features, billing with a per-resolution price table,
// capabilities as checkboxes and number fields (checked before saving, messages next to
// the field), routes to channels with upstream model names, enable.
import { get, post, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, formDialog, field, toast } from "../ui.js";
import { billingLabel, unitLabel } from "../pages/generate.js";

const list = (s) => (s || "").split(",").map((x) => x.trim()).filter(Boolean);

// The choices offered as checkboxes; a model's own values outside them are kept and shown.
const TYPES = ["text-to-video", "image-to-video", "reference-to-video"];
const RESOLUTIONS = ["360p", "480p", "540p", "720p", "1080p", "4k"];
const RATIOS = ["auto", "16:9", "9:16", "1:1", "4:3", "3:4", "21:9"];
const union = (known, own) => known.concat((own || []).filter((v) => !known.includes(v)));

/** A whole number in [min, max] from an input's text, or null. */
function whole(text, min, max = 1e9) {
  const s = String(text ?? "").trim();
  if (!/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return n >= min && n <= max ? n : null;
}

/** A group of checkboxes that reads back as the checked values. */
function checkGroup(name, values, checked) {
  const el = h(
    "div.check-group",
    { role: "group", "data-group": name },
    values.map((v) => h("label.check", h("input", { type: "checkbox", value: v, "data-check": name, checked: checked.includes(v) }), v)),
  );
  el.values = () => [...el.querySelectorAll("input:checked")].map((i) => i.value);
  return el;
}

/** Whole-second durations as number fields, with add and remove. */
function durationList(durations) {
  const items = h("div.duration-list#model-durations");
  const add = (v) => {
    const input = h("input", { type: "number", min: 1, max: 600, step: 1, value: v ?? "", "data-duration": "", "aria-label": t("admin.models.duration_value") });
    const row = h("span.duration-item", input, h("button.btn.btn-small.btn-ghost", { type: "button", "aria-label": t("admin.models.remove_duration"), onclick: () => row.remove() }, "×"));
    items.append(row);
    return input;
  };
  durations.forEach((d) => add(d));
  const el = h("div", items, h("button.btn.btn-small#model-add-duration", { type: "button", onclick: () => add("").focus() }, t("admin.models.add_duration")));
  el.inputs = () => [...items.querySelectorAll("input[data-duration]")];
  return el;
}

export default {
  async render(main) {
    const body = h("div", loading());
    let providers = [];
    clear(
      main,
      pageHeader(t("nav.admin.models"), t("admin.models.subtitle"), h("button.btn.btn-primary#model-create", { type: "button", onclick: () => edit(null) }, t("admin.models.create"))),
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
      // The channel's cost (set in the config file or the API) is kept as it is.
      if (r && r.cost) row.dataset.cost = JSON.stringify(r.cost);
      return row;
    }

    async function edit(m) {
      const c = m ? m.capabilities : { types: ["text-to-video"], resolutions: ["720p"], durations: [5], default_duration: 5, aspect_ratios: ["16:9"], max_images: 0, max_videos: 0, max_audios: 0, supports_audio: false, default_generate_audio: false };
      const billing = m ? m.billing : { mode: "per_task", credits: 100, resolution_credits: {} };
      const routes = h("div.routes", (m ? m.routes : []).map(routeRow));
      const num = (name, value, min) => h("input", { name, type: "number", min, step: 1, value, inputmode: "numeric" });

      const types = checkGroup("types", union(TYPES, c.types), c.types);
      const resolutions = checkGroup("resolutions", union(RESOLUTIONS, c.resolutions.concat(Object.keys(billing.resolution_credits))), c.resolutions);
      const ratios = checkGroup("aspect_ratios", union(RATIOS, c.aspect_ratios), c.aspect_ratios);
      const durations = durationList(c.durations);
      // Duration buckets are edited in the config file or the API; a model that has them
      // keeps its mode and buckets here.
      const modes = billing.mode === "per_duration" ? ["per_task", "per_second", "per_duration"] : ["per_task", "per_second"];
      const mode = h("select#model-mode", { name: "mode" }, modes.map((v) => h("option", { value: v, selected: billing.mode === v }, billingLabel(v))));
      const audioPercent = h("input#model-audio-percent", { name: "audio_percent", type: "number", min: 0, max: 10000, step: 1, inputmode: "numeric", value: billing.audio_percent ?? "", placeholder: "100" });
      const audioCredits = h("input#model-audio-credits", { name: "audio_credits", type: "number", min: 0, step: 1, inputmode: "numeric", value: billing.audio_credits || "", placeholder: "0" });
      const videoCredits = h("input#model-video-credits", { name: "video_input_credits", type: "number", min: 0, step: 1, inputmode: "numeric", value: billing.video_input_credits || "", placeholder: "0" });
      const credits = h("input#model-credits", { name: "credits", type: "number", min: 0, step: 1, required: true, value: billing.credits, inputmode: "numeric" });
      const unit = h("p.hint#model-credits-unit");

      // The price table: one row per offered resolution; an empty price uses the base one.
      const priceRows = h("tbody#model-price-rows");
      const prices = { ...billing.resolution_credits };
      function renderPrices() {
        for (const input of priceRows.querySelectorAll("input[data-res]")) prices[input.dataset.res] = input.value;
        const offered = resolutions.values();
        clear(
          priceRows,
          offered.map((r) =>
            h(
              "tr",
              { "data-price-row": r },
              h("th", { scope: "row" }, r),
              h(
                "td",
                h("input", { type: "number", min: 0, step: 1, inputmode: "numeric", value: prices[r] ?? "", placeholder: credits.value, "data-res": r, "aria-label": t("admin.models.price_for", { res: r }), "aria-describedby": `price-err-${r}` }),
                h("p.field-error", { id: `price-err-${r}`, role: "alert" }),
              ),
            ),
          ),
        );
        const base = unitLabel(mode.value, whole(credits.value, 0) ?? 0);
        unit.textContent = t("admin.models.price_unit", { unit: base });
      }
      resolutions.addEventListener("change", renderPrices);
      mode.addEventListener("change", renderPrices);
      credits.addEventListener("input", () => {
        priceRows.querySelectorAll("input[data-res]").forEach((i) => (i.placeholder = credits.value));
        renderPrices();
      });
      renderPrices();
      const priceTable = h(
        "div.table-wrap.price-table#model-price-table",
        h("table", h("thead", h("tr", h("th", { scope: "col" }, t("admin.models.resolution")), h("th", { scope: "col" }, t("admin.models.res_price")))), priceRows),
      );

      const fieldsByName = {};
      const named = (name, label, control, opts = {}) => (fieldsByName[name] = field(label, control, { ...opts, name }));
      const form = [
        h(
          "div.form-grid",
          named("id", t("admin.models.id"), h("input", { name: "id", required: true, value: m ? m.id : "", readonly: Boolean(m) })),
          named("name", t("col.model_name"), h("input", { name: "name", required: true, value: m ? m.name : "" })),
        ),
        field(t("admin.models.description"), h("input", { name: "description", value: m ? m.description : "" })),
        field(t("col.features"), h("input", { name: "features", value: m ? m.features.join(", ") : "" }), { hint: t("admin.models.comma") }),
        h("h3", t("admin.models.pricing")),
        h("div.form-grid", named("mode", t("col.billing"), mode), named("credits", t("admin.models.credits"), credits)),
        unit,
        named("resolution_credits", t("admin.models.res_credits"), priceTable, { hint: t("admin.models.res_credits_hint"), wide: true }),
        h(
          "div.form-grid",
          named("audio_percent", t("admin.models.audio_percent"), audioPercent, { hint: t("admin.models.surcharge_hint") }),
          named("audio_credits", t("admin.models.audio_credits"), audioCredits),
          named("video_input_credits", t("admin.models.video_input_credits"), videoCredits),
        ),
        h("h3", t("admin.models.capabilities")),
        named("types", t("admin.models.types"), types),
        named("resolutions", t("admin.models.resolutions"), resolutions),
        named("aspect_ratios", t("admin.models.aspect_ratios"), ratios),
        h(
          "div.form-grid",
          named("durations", t("admin.models.durations"), durations),
          named("default_duration", t("admin.models.default_duration"), num("default_duration", c.default_duration, 1)),
          named("poll", t("admin.models.poll"), num("poll", m ? m.poll_interval_seconds : 30, 1)),
        ),
        h(
          "div.form-grid",
          named("max_images", t("admin.models.max_images"), num("max_images", c.max_images, 0)),
          named("max_videos", t("admin.models.max_videos"), num("max_videos", c.max_videos, 0)),
          named("max_audios", t("admin.models.max_audios"), num("max_audios", c.max_audios, 0)),
        ),
        named(
          "audio",
          t("admin.models.audio"),
          h(
            "div.check-group",
            h("label.check", h("input", { type: "checkbox", name: "supports_audio", checked: c.supports_audio }), t("admin.models.supports_audio")),
            h("label.check", h("input", { type: "checkbox", name: "default_generate_audio", checked: c.default_generate_audio }), t("admin.models.default_audio")),
          ),
        ),
        h("label.check", h("input", { type: "checkbox", name: "enabled", checked: m ? m.enabled : true }), t("enabled")),
        h("h3", t("admin.models.routes")),
        routes,
        h("button.btn.btn-small", { type: "button", onclick: () => routes.append(routeRow(null)) }, t("admin.models.add_route")),
      ];

      function setError(name, message) {
        const f = fieldsByName[name];
        if (!f) return false;
        const slot = f.querySelector(":scope > .field-error");
        slot.textContent = message;
        f.classList.toggle("invalid", Boolean(message));
        return true;
      }

      // Every check before saving; messages go next to their field. Returns the payload
      // or throws with a summary (the first problem) for the dialog's footer.
      function collect(d) {
        Object.keys(fieldsByName).forEach((k) => setError(k, ""));
        fieldsByName.resolution_credits.classList.remove("invalid");
        priceRows.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
        priceRows.querySelectorAll("input").forEach((i) => i.removeAttribute("aria-invalid"));
        const problems = [];
        const bad = (name, message) => {
          setError(name, message);
          problems.push(message);
        };
        const id = (d.id || "").trim();
        if (!id || /\s/.test(id) || id.length > 128) bad("id", t("admin.models.v.id"));
        if (!(d.name || "").trim()) bad("name", t("admin.models.v.required"));
        const base = whole(d.credits, 0);
        if (base === null) bad("credits", t("admin.models.v.price"));
        const resolutionCredits = {};
        for (const input of priceRows.querySelectorAll("input[data-res]")) {
          if (input.value.trim() === "") continue;
          const v = whole(input.value, 0);
          if (v === null) {
            const message = t("admin.models.v.res_price", { res: input.dataset.res });
            // The message sits in the row itself; the table only turns red.
            document.getElementById(`price-err-${input.dataset.res}`).textContent = message;
            input.setAttribute("aria-invalid", "true");
            fieldsByName.resolution_credits.classList.add("invalid");
            problems.push(message);
          } else resolutionCredits[input.dataset.res] = v;
        }
        const typeList = types.values();
        if (!typeList.length) bad("types", t("admin.models.v.pick_one"));
        if (!resolutions.values().length) bad("resolutions", t("admin.models.v.pick_one"));
        if (!ratios.values().length) bad("aspect_ratios", t("admin.models.v.pick_one"));
        const secs = durations.inputs().map((i) => whole(i.value, 1, 600));
        if (!secs.length) bad("durations", t("admin.models.v.pick_one"));
        else if (secs.some((v) => v === null)) bad("durations", t("admin.models.v.duration"));
        else if (new Set(secs).size !== secs.length) bad("durations", t("admin.models.v.duplicate"));
        const defaultDuration = whole(d.default_duration, 1, 600);
        if (defaultDuration === null) bad("default_duration", t("admin.models.v.duration"));
        const poll = whole(d.poll, 1, 3600);
        if (poll === null) bad("poll", t("admin.models.v.poll"));
        const max = {};
        for (const k of ["max_images", "max_videos", "max_audios"]) {
          max[k] = whole(d[k] === "" || d[k] === undefined ? "0" : d[k], 0, 100);
          if (max[k] === null) bad(k, t("admin.models.v.count"));
        }
        if (typeList.includes("image-to-video") && max.max_images === 0) bad("max_images", t("admin.models.v.i2v_images"));
        if (typeList.includes("reference-to-video") && max.max_images === 0 && max.max_videos === 0) bad("max_images", t("admin.models.v.r2v_assets"));
        const supportsAudio = d.supports_audio === "on";
        if (d.default_generate_audio === "on" && !supportsAudio) bad("audio", t("admin.models.v.audio"));
        for (const row of routes.querySelectorAll(".route-row")) {
          const upstream = row.querySelector('[data-r="upstream_model"]');
          const slot = upstream.parentElement.querySelector(".field-error");
          slot.textContent = upstream.value.trim() ? "" : t("admin.models.v.required");
          if (!upstream.value.trim()) problems.push(slot.textContent);
          const weight = row.querySelector('[data-r="weight"]');
          if (whole(weight.value || "0", 0) === null) {
            weight.parentElement.querySelector(".field-error").textContent = t("admin.models.v.count");
            problems.push(t("admin.models.v.count"));
          }
        }
        if (problems.length) throw new Error(t("admin.models.v.summary", { n: problems.length, first: problems[0] }));
        return {
          id,
          name: d.name.trim(),
          description: d.description || "",
          features: list(d.features),
          enabled: d.enabled === "on",
          billing: {
            ...billing,
            mode: d.mode,
            credits: base,
            resolution_credits: resolutionCredits,
            audio_percent: d.audio_percent === "" || d.audio_percent == null ? null : Number(d.audio_percent),
            audio_credits: Number(d.audio_credits || 0),
            video_input_credits: Number(d.video_input_credits || 0),
          },
          capabilities: {
            types: typeList,
            resolutions: resolutions.values(),
            durations: secs.slice().sort((a, b) => a - b),
            default_duration: defaultDuration,
            aspect_ratios: ratios.values(),
            ...max,
            supports_audio: supportsAudio,
            default_generate_audio: d.default_generate_audio === "on",
          },
          poll_interval_seconds: poll,
          routes: [...routes.querySelectorAll(".route-row")].map((row) => {
            const v = (k) => row.querySelector(`[data-r="${k}"]`).value;
            const r = { provider: v("provider"), upstream_model: v("upstream_model").trim(), priority: Number(v("priority") || 0), weight: Number(v("weight") || 0) };
            if (row.dataset.settings) r.settings = JSON.parse(row.dataset.settings);
            if (row.dataset.cost) r.cost = JSON.parse(row.dataset.cost);
            return r;
          }),
        };
      }

      // The server's own 422 names a field (`billing.credits`, `capabilities`, ...): show it there.
      const SERVER_FIELDS = { id: "id", name: "name", "billing.credits": "credits", billing: "credits", "billing.audio_percent": "audio_percent", capabilities: "types", poll_interval_seconds: "poll" };
      const pending = formDialog({
        title: m ? t("admin.models.edit", { id: m.id }) : t("admin.models.create"),
        fields: form,
        submit: async (d) => {
          const payload = collect(d);
          try {
            return await (m ? put(`/console/api/admin/models/${encodeURIComponent(m.id)}`, payload) : post("/console/api/admin/models", payload));
          } catch (e) {
            // An unpriced combination: the server's text names it (resolution, seconds, audio).
            if (e.param && SERVER_FIELDS[e.param]) setError(SERVER_FIELDS[e.param], e.param === "billing" ? e.serverMessage : e.message);
            throw e;
          }
        },
      });
      const dlg = priceTable.closest("dialog");
      if (dlg) {
        dlg.classList.add("dialog-wide");
        // Our checks (in the UI language, next to the field) replace the browser's bubbles.
        dlg.querySelector("form").noValidate = true;
      }
      const res = await pending;
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
                h("button.btn.btn-small", { type: "button", "data-edit-model": m.id, onclick: () => edit(m) }, t("edit")),
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
