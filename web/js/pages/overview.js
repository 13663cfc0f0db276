// 总览: credits, connection status, key and task counts, latest status, storage used,
// recent tasks.
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, statusBadge, shortId, fmtBytes, fmtNumber, fmtTime, taskErrorText } from "../ui.js";

export function videoCell(task, { small } = {}) {
  if (task.status === "completed" && task.url) {
    return h(
      "a.thumb-link",
      { href: task.url, target: "_blank", rel: "noopener", title: t("video.open") },
      h("video", {
        src: `${task.url}#t=0.1`,
        muted: true,
        preload: "metadata",
        playsinline: true,
        class: small ? "" : "thumb",
        "aria-label": t("video.open"),
      }),
    );
  }
  if (task.status === "failed") {
    return h("span.task-error", taskErrorText(task.error));
  }
  return h("span.muted", "—");
}

export default {
  async render(main, { session, showCredits }) {
    const conn = h("span.conn#conn-status", t("disconnected"));
    const credits = h("div.hero-credits#overview-credits", "-");
    const stats = h("div.stats");
    const recent = h("div", loading());
    clear(
      main,
      h(
        "section.card.hero",
        h("div", h("h1", t("nav.overview")), h("p.subtitle", t("overview.subtitle"))),
        h(
          "div.hero-side",
          h("div", h("div.hero-label", t("credits")), credits),
          conn,
          h("span.hero-label", t("nav.workspace")),
        ),
      ),
      stats,
      h(
        "section.card",
        h(
          "div.card-head",
          h("h2", t("overview.recent")),
          h("a.btn.btn-primary.btn-small", { href: "#/generate" }, t("nav.generate")),
        ),
        recent,
      ),
    );
    const stat = (label, value, id) =>
      h("div.stat", h("div.stat-label", label), h("div.stat-value", { id }, value));
    // Everything stored (uploads and videos), and the upload quota it counts against.
    const storageStat = (s) => {
      const limit = (v, fmt) => (v === null || v === undefined ? t("overview.unlimited") : fmt(v));
      return h(
        "div.stat",
        h("div.stat-label", t("overview.storage")),
        h("div.stat-value", { id: "stat-storage" }, fmtBytes(s.bytes)),
        h("div.cell-sub", t("overview.storage_files", { n: fmtNumber(s.files) })),
        h(
          "div.cell-sub#stat-storage-quota",
          t("overview.storage_quota", { bytes: `${fmtBytes(s.upload_bytes)} / ${limit(s.quota_bytes, fmtBytes)}`, files: `${fmtNumber(s.upload_files)} / ${limit(s.quota_files, fmtNumber)}` }),
        ),
      );
    };
    const load = async () => {
      try {
        const o = await get("/console/api/overview");
        conn.classList.add("ok");
        conn.textContent = t("connected");
        credits.textContent = fmtNumber(o.credits);
        clear(
          stats,
          stat(t("credits"), fmtNumber(o.credits), "stat-credits"),
          stat("API Key", fmtNumber(o.api_key_count), "stat-keys"),
          stat(t("tasks"), fmtNumber(o.task_count), "stat-tasks"),
          stat(t("latest_status"), o.latest_status ? statusBadge(o.latest_status) : "-", "stat-latest"),
          storageStat(o.storage),
        );
        clear(
          recent,
          table(
            [t("col.task"), t("col.model"), t("col.status"), t("col.video")],
            o.recent_tasks.map((task) => [
              h("span", h("span.mono", { title: task.task_id }, shortId(task.task_id)), h("span.cell-sub", fmtTime(task.created_at_ms))),
              task.model_name,
              statusBadge(task.status),
              videoCell(task, { small: true }),
            ]),
            { empty: t("overview.empty") },
          ),
        );
        if (session.me) showCredits(o.credits);
      } catch (e) {
        conn.classList.remove("ok");
        conn.textContent = t("disconnected");
        clear(recent, errorBox(e, load));
      }
    };
    await load();
  },
};
