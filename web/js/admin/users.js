// Operator: users — search, create, disable/enable, credits ± with a note, pricing group.
import { get, post, patch, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, fmtNumber, pageHeader, formDialog, field, toast, copyButton } from "../ui.js";

export default {
  async render(main, { session }) {
    const q = h("input#users-q", { type: "search", placeholder: t("admin.users.search"), "aria-label": t("admin.users.search") });
    const list = h("div#users-list", loading());
    const note = h("div#users-note");
    let groups = [];
    clear(
      main,
      pageHeader(
        t("nav.admin.users"),
        t("admin.users.subtitle"),
        h("button.btn.btn-primary#user-create", { type: "button", onclick: () => create() }, t("admin.users.create")),
      ),
      note,
      h("section.card", h("div.filters", field(t("search"), q)), list),
    );

    async function create() {
      const group = h("select", { name: "pricing_group" }, h("option", { value: "" }, t("admin.users.list_price")), groups.map((g) => h("option", { value: g.name }, g.name)));
      const created = await formDialog({
        title: t("admin.users.create"),
        submitLabel: t("create"),
        fields: [
          field(t("login.username"), h("input#new-username", { name: "username", required: true, autocomplete: "off" })),
          field(t("login.password"), h("input#new-password", { name: "password", type: "text", autocomplete: "off" }), { hint: t("admin.users.password_hint") }),
          field(t("admin.users.start_credits"), h("input#new-credits", { name: "credits", type: "number", min: 0, step: 1, value: 0 })),
          field(t("col.group"), group),
          h("label.check", h("input", { type: "checkbox", name: "is_admin" }), t("admin.users.is_admin")),
        ],
        submit: (d) =>
          post("/console/api/admin/users", {
            username: d.username.trim(),
            password: d.password || null,
            credits: Number(d.credits || 0),
            is_admin: d.is_admin === "on",
            pricing_group: d.pricing_group || null,
          }),
      });
      if (!created) return;
      if (created.generated_password) {
        clear(
          note,
          h(
            "div.secret-once",
            { role: "alert" },
            h("strong", t("admin.users.generated", { name: created.user.username })),
            h("code", created.generated_password),
            copyButton(created.generated_password),
          ),
        );
      }
      toast(t("admin.users.created", { name: created.user.username }));
      await load();
    }

    async function adjust(u) {
      const res = await formDialog({
        title: t("admin.users.adjust_title", { name: u.username }),
        submitLabel: t("save"),
        fields: [
          h("p.hint", t("admin.users.balance", { n: fmtNumber(u.credits) })),
          field(t("admin.users.amount"), h("input#adjust-amount", { name: "amount", type: "number", step: 1, required: true }), { hint: t("admin.users.amount_hint") }),
          field(t("admin.users.note"), h("input#adjust-note", { name: "note", maxlength: 200 })),
        ],
        submit: (d) => post(`/console/api/admin/users/${u.id}/credits`, { amount: Number(d.amount), note: d.note || null }),
      });
      if (res) {
        toast(t("admin.users.adjusted", { name: u.username, n: fmtNumber(res.credits) }));
        await load();
      }
    }

    // The account's own limits across all its keys (the values in force are shown; empty
    // = no own value, so the pricing group's default applies).
    async function limits(u) {
      let cur;
      try {
        cur = await get(`/console/api/admin/users/${u.id}/limits`);
      } catch (e) {
        toast(e.message, "error");
        return;
      }
      const l = cur.limits;
      const num = (name, v) => h(`input#ulimit-${name}`, { name, type: "number", inputmode: "numeric", value: v ?? "" });
      const res = await formDialog({
        title: t("admin.users.limits_title", { name: u.username }),
        fields: [
          h(
            "p.hint#ulimit-usage",
            t("admin.users.limits_usage", {
              spent: fmtNumber(cur.usage.spent_this_period),
              running: cur.usage.running_tasks,
              queued: cur.usage.queued_tasks,
            }),
          ),
          field(t("keys.limits.budget"), num("budget", l.budget)),
          field(
            t("keys.limits.budget_period"),
            h(
              "select#ulimit-budget_period",
              { name: "budget_period" },
              ["total", "daily", "monthly"].map((p) => h("option", { value: p, selected: l.budget_period === p }, t(`keys.period.${p}`))),
            ),
          ),
          field(t("keys.limits.max_concurrency"), num("max_concurrency", l.max_concurrency)),
          field(t("keys.limits.max_queued"), num("max_queued", l.max_queued)),
          field(t("keys.limits.rpm"), num("rpm", l.rpm)),
        ],
        submit: (d) => {
          const int = (v) => (v === undefined || String(v).trim() === "" ? null : Number(v));
          return put(`/console/api/admin/users/${u.id}/limits`, {
            budget: int(d.budget),
            budget_period: d.budget_period,
            max_concurrency: int(d.max_concurrency),
            max_queued: int(d.max_queued),
            rpm: int(d.rpm),
          });
        },
      });
      if (res) toast(t("admin.users.limits_saved", { name: u.username }));
    }

    async function resetPassword(u) {
      const res = await formDialog({
        title: t("admin.users.reset_title", { name: u.username }),
        fields: [field(t("password.new"), h("input", { name: "password", type: "text", minlength: 8, required: true, autocomplete: "off" }), { hint: t("password.rules") })],
        submit: (d) => patch(`/console/api/admin/users/${u.id}`, { password: d.password }),
      });
      if (res) toast(t("admin.users.reset_done"));
    }

    async function setField(u, body, done) {
      try {
        await patch(`/console/api/admin/users/${u.id}`, body);
        toast(done);
        await load();
      } catch (e) {
        toast(e.message, "error");
        await load();
      }
    }

    async function load() {
      try {
        const [users, gs] = await Promise.all([
          get(`/console/api/admin/users?q=${encodeURIComponent(q.value.trim())}`),
          get("/console/api/admin/pricing-groups"),
        ]);
        groups = gs;
        clear(
          list,
          table(
            ["ID", t("login.username"), t("col.role"), t("col.status"), t("credits"), t("col.group"), t("col.created"), ""],
            users.map((u) => {
              const self = session.me && session.me.id === u.id;
              const groupSel = h(
                "select",
                {
                  "aria-label": t("admin.users.group_of", { name: u.username }),
                  onchange: () => setField(u, { pricing_group: groupSel.value || null }, t("admin.users.group_set")),
                },
                h("option", { value: "" }, t("admin.users.list_price")),
                groups.map((g) => h("option", { value: g.name, selected: u.pricing_group === g.name }, g.name)),
              );
              return [
                u.id,
                h("strong", { dataset: { user: u.username } }, u.username),
                u.is_admin ? h("span.badge.badge-admin", t("role.admin")) : t("role.user"),
                h("span.badge", { class: u.disabled ? "badge-bad" : "badge-ok" }, u.disabled ? t("user.disabled") : t("user.active")),
                h("strong.mono", { dataset: { credits: u.username } }, fmtNumber(u.credits)),
                groupSel,
                fmtTime(u.created_at_ms),
                h(
                  "div.page-actions",
                  h("button.btn.btn-small", { type: "button", "aria-label": t("admin.users.adjust_title", { name: u.username }), onclick: () => adjust(u) }, t("admin.users.adjust")),
                  self
                    ? null
                    : h(
                        "button.btn.btn-small",
                        {
                          type: "button",
                          class: u.disabled ? "" : "btn-danger",
                          onclick: () => setField(u, { disabled: !u.disabled }, u.disabled ? t("admin.users.enabled") : t("admin.users.disabled")),
                        },
                        u.disabled ? t("admin.users.enable") : t("admin.users.disable"),
                      ),
                  h("button.btn.btn-small", { type: "button", "aria-label": t("admin.users.limits_title", { name: u.username }), onclick: () => limits(u) }, t("admin.users.limits")),
                  h("button.btn.btn-small.btn-ghost", { type: "button", onclick: () => resetPassword(u) }, t("admin.users.reset")),
                ),
              ];
            }),
            { empty: t("admin.users.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, load));
      }
    }
    let debounce;
    q.addEventListener("input", () => {
      clearTimeout(debounce);
      debounce = setTimeout(load, 250);
    });
    await load();
    return () => clearTimeout(debounce);
  },
};
