// Operator: the ledger, newest first, filtered by user.
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, fmtNumber, pageHeader, field, shortId, ledgerNote } from "../ui.js";

export default {
  async render(main, { params }) {
    const user = h("input#ledger-user", { type: "search", value: params.get("user") || "", placeholder: t("admin.filter.user_hint") });
    const KINDS = ["top_up", "adjust", "redeem", "payment", "signup_bonus", "reserve", "refund", "settle"];
    const kind = h("select#ledger-kind", h("option", { value: "" }, t("all")), KINDS.map((k) => h("option", { value: k, selected: params.get("kind") === k }, t(`ledger.${k}`))));
    const body = h("div", loading());
    const more = h("div.load-more");
    clear(
      main,
      pageHeader(t("nav.admin.ledger"), t("admin.ledger.subtitle")),
      h(
        "section.card",
        h(
          "form.filters",
          { onsubmit: (e) => { e.preventDefault(); load(); } },
          field(t("admin.filter.user"), user),
          field(t("admin.ledger.kind"), kind),
          h("button.btn.btn-primary", { type: "submit" }, t("filter")),
        ),
        body,
        more,
      ),
    );
    let rows = [];
    async function load(before) {
      const qs = new URLSearchParams({ limit: "50" });
      if (user.value.trim()) qs.set("user", user.value.trim());
      if (kind.value) qs.set("kind", kind.value);
      if (before) qs.set("before", String(before));
      if (!before) clear(body, loading());
      try {
        const page = await get(`/console/api/admin/ledger?${qs}`);
        rows = before ? rows.concat(page.data) : page.data;
        clear(
          body,
          table(
            [t("col.time"), t("admin.filter.user"), t("admin.ledger.kind"), t("admin.ledger.amount"), t("admin.ledger.balance"), t("col.task"), t("admin.ledger.actor"), t("admin.users.note")],
            rows.map((e) => [
              fmtTime(e.at_ms),
              e.username,
              h("span.badge", t(`ledger.${e.kind}`)),
              h("strong.mono", { class: e.amount < 0 ? "neg" : "pos" }, `${e.amount > 0 ? "+" : ""}${fmtNumber(e.amount)}`),
              fmtNumber(e.balance_after),
              e.task_id ? h("span.mono", { title: e.task_id }, shortId(e.task_id)) : "—",
              h("span.mono", e.actor),
              ledgerNote(e),
            ]),
            { empty: t("admin.ledger.empty") },
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
