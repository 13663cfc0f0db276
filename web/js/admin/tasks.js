// Operator: every task, filtered by user, model and status.
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, statusBadge, shortId, fmtTime, fmtElapsed, fmtNumber, pageHeader, field } from "../ui.js";
import { creditDetail } from "../pages/generate.js";
import { videoCell } from "../pages/overview.js";

export default {
  async render(main, { params }) {
    const user = h("input#tasks-user", { type: "search", value: params.get("user") || "", placeholder: t("admin.filter.user_hint") });
    const model = h("select#tasks-model", h("option", { value: "" }, t("all")));
    const status = h("select#tasks-status", h("option", { value: "" }, t("all")), ["pending", "processing", "completed", "failed"].map((s) => h("option", { value: s }, t(`task.status.${s}`))));
    const body = h("div", loading());
    const more = h("div.load-more");
    const period = h("select#margins-period", [1, 7, 30, 90].map((n) => h("option", { value: n, selected: n === 30 }, t("admin.margins.days", { n }))));
    const marginsBody = h("div#margins", loading());
    clear(
      main,
      pageHeader(t("nav.admin.tasks"), t("admin.tasks.subtitle")),
      h(
        "section.card",
        h("div.card-head", h("h2", t("admin.margins.title")), field(t("admin.margins.period"), period)),
        h("p.hint", t("admin.margins.hint")),
        marginsBody,
      ),
      h(
        "section.card",
        h(
          "form.filters",
          { onsubmit: (e) => { e.preventDefault(); load(); } },
          field(t("admin.filter.user"), user),
          field(t("col.model"), model),
          field(t("col.status"), status),
          h("button.btn.btn-primary", { type: "submit" }, t("filter")),
        ),
        body,
        more,
      ),
    );
    try {
      const models = await get("/console/api/admin/models");
      model.append(...models.map((m) => h("option", { value: m.id }, m.id)));
    } catch {
      // the filter still works by typing nothing; the table shows the error if any
    }
    // Charged against what the channels cost, per model, channel and customer.
    async function loadMargins() {
      const to = Date.now() + 1;
      const from = to - Number(period.value) * 86_400_000;
      try {
        const r = await get(`/console/api/admin/margins?from_ms=${from}&to_ms=${to}`);
        const cols = (first) => [first, t("admin.margins.tasks"), t("admin.margins.charged"), t("admin.margins.cost"), t("admin.margins.margin")];
        const rows = (list) => list.map((l) => [l.key, fmtNumber(l.tasks), fmtNumber(l.charged), l.costed_tasks ? fmtNumber(l.upstream_cost) : "—", l.costed_tasks ? fmtNumber(l.margin) : "—"]);
        clear(
          marginsBody,
          h("p", { "data-testid": "margins-all" }, `${t("admin.margins.charged")} ${fmtNumber(r.all.charged)} · ${t("admin.margins.cost")} ${fmtNumber(r.all.upstream_cost)} · ${t("admin.margins.margin")} ${fmtNumber(r.all.margin)}`),
          r.truncated ? h("p.field-error", t("admin.margins.truncated")) : null,
          h("h3", t("admin.margins.by_model")),
          table(cols(t("col.model")), rows(r.by_model)),
          h("h3", t("admin.margins.by_channel")),
          table(cols(t("admin.models.channel")), rows(r.by_channel)),
          h("h3", t("admin.margins.by_customer")),
          table(cols(t("admin.filter.user")), rows(r.by_customer)),
        );
      } catch (e) {
        clear(marginsBody, errorBox(e, loadMargins));
      }
    }
    period.addEventListener("change", loadMargins);
    loadMargins();
    model.addEventListener("change", () => load());
    status.addEventListener("change", () => load());
    let rows = [];

    async function load(before) {
      const qs = new URLSearchParams({ limit: "50" });
      if (user.value.trim()) qs.set("user", user.value.trim());
      if (model.value) qs.set("model", model.value);
      if (status.value) qs.set("status", status.value);
      if (before) qs.set("before", before);
      if (!before) clear(body, loading());
      try {
        const page = await get(`/console/api/admin/tasks?${qs}`);
        rows = before ? rows.concat(page.data) : page.data;
        clear(
          body,
          table(
            [t("col.task"), t("admin.filter.user"), t("col.model"), t("col.status"), t("col.video"), t("col.credits"), t("col.elapsed"), t("col.created")],
            rows.map((task) => [
              h("span.mono", { title: task.task_id }, shortId(task.task_id)),
              task.username || "?",
              h("div", task.model_name, h("span.cell-sub", task.source)),
              statusBadge(task.status),
              videoCell(task, { small: true }),
              h(
                "div",
                creditDetail(task),
                task.upstream_cost == null
                  ? null
                  : h("span.cell-sub", { "data-testid": "task-margin" }, t("admin.tasks.cost_margin", { cost: fmtNumber(task.upstream_cost), margin: fmtNumber(task.margin) })),
              ),
              fmtElapsed(task.elapsed_ms),
              fmtTime(task.created_at_ms),
            ]),
            { empty: t("admin.tasks.empty") },
          ),
        );
        clear(more, page.has_more ? h("button.btn", { type: "button", onclick: () => load(page.next_cursor) }, t("load_more")) : null);
      } catch (e) {
        clear(body, errorBox(e, () => load()));
      }
    }
    await load();
  },
};
