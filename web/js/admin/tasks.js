// Operator: every task, filtered by user, model and status.
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, statusBadge, shortId, fmtTime, fmtElapsed, pageHeader, field } from "../ui.js";
import { creditDetail } from "../pages/generate.js";
import { videoCell } from "../pages/overview.js";

export default {
  async render(main, { params }) {
    const user = h("input#tasks-user", { type: "search", value: params.get("user") || "", placeholder: t("admin.filter.user_hint") });
    const model = h("select#tasks-model", h("option", { value: "" }, t("all")));
    const status = h("select#tasks-status", h("option", { value: "" }, t("all")), ["pending", "processing", "completed", "failed"].map((s) => h("option", { value: s }, t(`task.status.${s}`))));
    const body = h("div", loading());
    const more = h("div.load-more");
    clear(
      main,
      pageHeader(t("nav.admin.tasks"), t("admin.tasks.subtitle")),
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
              creditDetail(task),
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
