// Operator: stored files by user (against each quota), per-user and per-group quotas,
// purge, the retention periods (editable) and the free-space settings in force.
import { get, post, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtBytes, fmtNumber, pageHeader, formDialog, confirmDialog, field, toast } from "../ui.js";

const MB = 1024 * 1024;

function fmtPeriod(secs) {
  if (secs === null || secs === undefined) return t("admin.storage.forever");
  if (secs % 86400 === 0) return `${secs / 86400}d`;
  if (secs % 3600 === 0) return `${secs / 3600}h`;
  return `${secs}s`;
}

// A period as the API takes it back: forever is "0".
function periodInput(secs) {
  return secs === null || secs === undefined ? "0" : fmtPeriod(secs);
}

function limitText(q) {
  const b = q.quota_bytes === null ? "∞" : fmtBytes(q.quota_bytes);
  const f = q.quota_files === null ? "∞" : fmtNumber(q.quota_files);
  return `${b} · ${f}`;
}

function quotaText(s) {
  const b = s.quota_bytes === null ? "∞" : fmtBytes(s.quota_bytes);
  const f = s.quota_files === null ? "∞" : fmtNumber(s.quota_files);
  return `${fmtBytes(s.upload_bytes)} / ${b} · ${fmtNumber(s.upload_files)} / ${f}`;
}

export default {
  async render(main) {
    const settings = h("div#storage-settings", loading());
    const groups = h("div#storage-groups", loading());
    const list = h("div#storage-list", loading());
    clear(
      main,
      pageHeader(t("nav.admin.storage"), t("admin.storage.subtitle")),
      h("section.card", settings),
      h("section.card", h("h2", t("admin.storage.group_quotas")), groups),
      h("section.card", list),
    );

    async function load() {
      try {
        const o = await get("/console/api/admin/storage");
        const s = o.settings;
        const models = Object.entries(s.model_retention_secs || {}).map(([m, v]) => `${m}: ${fmtPeriod(v)}`).join(", ");
        clear(
          settings,
          h(
            "dl.kv",
            h("dt", t("admin.storage.retention_uploads")), h("dd", fmtPeriod(s.upload_retention_secs)),
            h("dt", t("admin.storage.retention_videos")), h("dd", fmtPeriod(s.video_retention_secs) + (models ? ` (${models})` : "")),
            h("dt", t("admin.storage.free")), h("dd", `${fmtBytes(s.free_bytes)} (${t("admin.storage.watermarks")}: ${fmtBytes(s.low_watermark_bytes)} / ${fmtBytes(s.critical_watermark_bytes)})`),
          ),
          h("p.hint", t("admin.storage.settings_hint")),
          h("button.btn.btn-small#edit-retention", { type: "button", onclick: () => editRetention(s) }, t("admin.storage.edit_retention")),
        );
        const sources = { console: t("admin.storage.source_console"), config: t("admin.storage.source_config"), default: t("admin.storage.source_default") };
        const source = (q) => sources[q.source] || q.source;
        clear(
          groups,
          table(
            [t("col.group"), t("admin.storage.group_limit"), t("admin.storage.source"), ""],
            [
              [t("admin.storage.default_quota"), limitText(o.default_quota), source(o.default_quota), ""],
              ...o.group_quotas.map((g) => [
                g.group,
                limitText(g),
                source(g),
                h("button.btn.btn-small", { type: "button", dataset: { group: g.group }, onclick: () => editGroupQuota(g) }, t("admin.storage.set_quota")),
              ]),
            ],
          ),
          h("p.hint", t("admin.storage.group_hint")),
        );
        clear(
          list,
          table(
            [t("admin.filter.user"), t("col.group"), t("admin.storage.used"), t("admin.storage.uploads_quota"), t("admin.storage.videos"), ""],
            o.users.map((u) => [
              u.username,
              u.pricing_group || "—",
              `${fmtBytes(u.storage.bytes)} · ${fmtNumber(u.storage.files)}`,
              h("span", quotaText(u.storage), u.own_quota ? h("span.badge", t("admin.storage.own")) : null),
              `${fmtBytes(u.storage.video_bytes)} · ${fmtNumber(u.storage.video_files)}`,
              h(
                "div.page-actions",
                h("button.btn.btn-small", { type: "button", onclick: () => editQuota(u) }, t("admin.storage.set_quota")),
                h("button.btn.btn-small.btn-danger", { type: "button", disabled: u.storage.files === 0, onclick: () => purge(u) }, t("admin.storage.purge")),
              ),
            ]),
            { empty: t("admin.storage.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, load));
      }
    }

    async function editRetention(s) {
      const models = Object.entries(s.model_retention_secs || {}).map(([m, v]) => `${m} = ${periodInput(v)}`).join("\n");
      const res = await formDialog({
        title: t("admin.storage.edit_retention"),
        fields: [
          field(t("admin.storage.retention_uploads"), h("input", { name: "uploads", value: periodInput(s.upload_retention_secs), required: true }), { hint: t("admin.storage.period_hint") }),
          field(t("admin.storage.retention_videos"), h("input", { name: "videos", value: periodInput(s.video_retention_secs), required: true })),
          field(t("admin.storage.retention_models"), h("textarea", { name: "models", rows: 3 }, models), { hint: t("admin.storage.models_hint") }),
        ],
        submit: (d) => {
          const m = {};
          for (const line of (d.models || "").split("\n")) {
            const i = line.indexOf("=");
            if (i > 0) m[line.slice(0, i).trim()] = line.slice(i + 1).trim();
          }
          return put("/console/api/admin/storage/retention", { uploads: d.uploads.trim(), videos: d.videos.trim(), model_retention: m });
        },
      });
      if (res) {
        toast(t("admin.storage.retention_saved"));
        await load();
      }
    }

    // One dialog for a group's quota and a user's own: `quota` holds quota_bytes/quota_files.
    async function quotaDialog({ title, quota, inheritLabel, inherited, url }) {
      const res = await formDialog({
        title,
        fields: [
          field(t("admin.storage.quota_mb"), h("input", { name: "mb", type: "number", min: 0, step: 1, value: quota.quota_bytes === null ? "" : Math.round(quota.quota_bytes / MB) }), { hint: t("admin.storage.blank_unlimited") }),
          field(t("admin.storage.quota_files"), h("input", { name: "files", type: "number", min: 0, step: 1, value: quota.quota_files === null ? "" : quota.quota_files })),
          h("label.check", h("input", { type: "checkbox", name: "inherit", checked: inherited }), inheritLabel),
        ],
        submit: (d) =>
          put(url, {
            inherit: d.inherit === "on",
            quota_bytes: d.mb === "" ? null : Number(d.mb) * MB,
            quota_files: d.files === "" ? null : Number(d.files),
          }),
      });
      if (res) {
        toast(t("admin.storage.saved"));
        await load();
      }
    }

    function editGroupQuota(g) {
      return quotaDialog({
        title: t("admin.storage.group_quota_title", { name: g.group }),
        quota: g,
        inheritLabel: t("admin.storage.group_inherit"),
        inherited: false,
        url: `/console/api/admin/storage/group-quotas/${encodeURIComponent(g.group)}`,
      });
    }

    function editQuota(u) {
      return quotaDialog({
        title: t("admin.storage.quota_title", { name: u.username }),
        quota: u.storage,
        inheritLabel: t("admin.storage.inherit"),
        inherited: !u.own_quota,
        url: `/console/api/admin/users/${u.user_id}/storage-quota`,
      });
    }

    async function purge(u) {
      const ok = await confirmDialog({
        title: t("admin.storage.purge_title", { name: u.username }),
        message: t("admin.storage.purge_message", { n: fmtNumber(u.storage.files), size: fmtBytes(u.storage.bytes) }),
        confirm: t("admin.storage.purge"),
        danger: true,
      });
      if (!ok) return;
      try {
        const r = await post(`/console/api/admin/users/${u.user_id}/storage/purge`);
        toast(t("admin.storage.purged", { n: fmtNumber(r.files), size: fmtBytes(r.bytes) }));
      } catch (e) {
        toast(e.message, "error");
      }
      await load();
    }

    await load();
  },
};
