// Operator: pricing groups — a percentage of list price plus per-model overrides.
import { get, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, formDialog, field, toast } from "../ui.js";

function parseOverrides(text) {
  const out = {};
  for (const line of text.split(/\n|,/).map((l) => l.trim()).filter(Boolean)) {
    const [k, v] = line.split("=").map((s) => (s || "").trim());
    if (!k || v === "" || Number.isNaN(Number(v))) throw new Error(t("admin.groups.bad_override", { line }));
    out[k] = Number(v);
  }
  return out;
}

export default {
  async render(main) {
    const list = h("div", loading());
    clear(
      main,
      pageHeader(t("nav.admin.groups"), t("admin.groups.subtitle"), h("button.btn.btn-primary", { type: "button", onclick: () => edit(null) }, t("admin.groups.create"))),
      h("section.card", list),
    );

    async function edit(g) {
      const res = await formDialog({
        title: g ? t("admin.groups.edit", { name: g.name }) : t("admin.groups.create"),
        fields: [
          field(t("col.name"), h("input", { name: "name", required: true, value: g ? g.name : "", readonly: Boolean(g) })),
          field(t("admin.groups.percent"), h("input", { name: "percent", type: "number", min: 1, max: 10000, required: true, value: g ? g.percent : 100 }), { hint: t("admin.groups.percent_hint") }),
          field(
            t("admin.groups.overrides"),
            h("textarea", { name: "overrides" }, g ? Object.entries(g.overrides).map(([k, v]) => `${k}=${v}`).join("\n") : ""),
            { hint: t("admin.groups.overrides_hint") },
          ),
        ],
        submit: (d) => put(`/console/api/admin/pricing-groups/${encodeURIComponent(d.name.trim())}`, { percent: Number(d.percent), overrides: parseOverrides(d.overrides || "") }),
      });
      if (res) {
        toast(t("saved"));
        await load();
      }
    }

    async function load() {
      try {
        const groups = await get("/console/api/admin/pricing-groups");
        clear(
          list,
          table(
            [t("col.name"), t("admin.groups.percent"), t("admin.groups.overrides"), t("admin.groups.users"), ""],
            groups.map((g) => [
              h("strong", g.name),
              `${g.percent}%`,
              Object.keys(g.overrides).length
                ? h("div.chips", Object.entries(g.overrides).map(([k, v]) => h("span.chip", `${k} = ${v}`)))
                : h("span.muted", "—"),
              g.users,
              h("button.btn.btn-small", { type: "button", onclick: () => edit(g) }, t("edit")),
            ]),
            { empty: t("admin.groups.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, load));
      }
    }
    await load();
  },
};
