// Operator overview: the operator's first page — users, today's credits, tasks in flight,
// channel health and the newest failures.
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, fmtNumber, fmtTime, shortId, statusBadge } from "../ui.js";

// The browser's zone, so "today" is the operator's day, not the server's.
const tzOffset = () => -new Date().getTimezoneOffset();

export default {
  async render(main) {
    const stats = h("div.stats#admin-stats", loading());
    const channels = h("div", loading());
    const failures = h("div", loading());
    const since = h("p.hint#admin-overview-since");
    clear(
      main,
      h("div#admin-overview", pageHeader(t("nav.admin.overview"), t("admin.overview.subtitle"), h("a.btn.btn-small", { href: "#/admin/tasks" }, t("admin.overview.all_tasks")))),
      since,
      stats,
      h("section.card", h("div.card-head", h("h2", t("admin.overview.channels")), h("a.btn.btn-small.btn-ghost", { href: "#/admin/providers" }, t("nav.admin.providers"))), channels),
      h("section.card", h("div.card-head", h("h2", t("admin.overview.failures"))), failures),
    );
    const stat = (label, value, id, sub) =>
      h("div.stat", { "data-testid": id }, h("div.stat-label", label), h("div.stat-value", { id }, value), sub ? h("div.cell-sub", sub) : null);
    const load = async () => {
      try {
        const o = await get(`/console/api/admin/overview?tz_offset_minutes=${tzOffset()}`);
        since.textContent = t("admin.overview.since", { time: fmtTime(o.day_start_ms) });
        const degraded = o.channels.filter((c) => c.enabled && !c.healthy).length;
        clear(
          stats,
          stat(t("admin.overview.users"), fmtNumber(o.users), "stat-users", t("admin.overview.new_today", { n: fmtNumber(o.new_users_today) })),
          stat(t("admin.overview.sold"), fmtNumber(o.credits_sold_today), "stat-sold", t("admin.overview.today")),
          stat(t("admin.overview.spent"), fmtNumber(o.credits_spent_today), "stat-spent", t("admin.overview.spent_detail")),
          stat(
            t("admin.overview.in_flight"),
            fmtNumber(o.tasks_pending + o.tasks_processing),
            "stat-in-flight",
            t("admin.overview.in_flight_detail", { pending: fmtNumber(o.tasks_pending), processing: fmtNumber(o.tasks_processing) }),
          ),
          stat(
            t("admin.overview.channel_health"),
            `${fmtNumber(o.channels.filter((c) => c.enabled && c.healthy).length)} / ${fmtNumber(o.channels.filter((c) => c.enabled).length)}`,
            "stat-channels",
            degraded ? t("admin.overview.degraded_n", { n: fmtNumber(degraded) }) : t("admin.overview.all_healthy"),
          ),
        );
        clear(
          channels,
          table(
            [t("col.name"), t("admin.providers.kind"), t("col.status"), t("admin.overview.health"), t("admin.overview.errors_in_row"), t("admin.overview.errors_hour")],
            o.channels.map((c) => [
              h("strong", c.name),
              h("span.chip", c.kind),
              h("span.badge", { class: c.enabled ? "badge-ok" : "badge-bad" }, c.enabled ? t("enabled") : t("disabled")),
              h("span.badge", { class: c.healthy ? "badge-ok" : "badge-bad", "data-health": c.healthy ? "healthy" : "degraded" }, c.healthy ? t("admin.overview.healthy") : t("admin.overview.degraded")),
              fmtNumber(c.consecutive_errors),
              fmtNumber(c.recent_errors),
            ]),
            { empty: t("admin.providers.empty") },
          ),
        );
        clear(
          failures,
          table(
            [t("col.task"), t("admin.overview.user"), t("col.model"), t("admin.overview.error_code"), t("admin.overview.time")],
            o.recent_failures.map((f) => [
              h("span", h("span.mono", { title: f.task_id }, shortId(f.task_id)), " ", statusBadge("failed")),
              f.username || "—",
              h("span.mono", f.model),
              h("span.mono", { title: f.error_message }, f.error_code || "—"),
              fmtTime(f.finished_at_ms ?? f.created_at_ms),
            ]),
            { empty: t("admin.overview.no_failures") },
          ),
        );
      } catch (e) {
        clear(stats, errorBox(e, load));
        clear(channels);
        clear(failures);
      }
    };
    await load();
  },
};
