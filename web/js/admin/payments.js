// Operator: every online payment, with the refunds and disputes the processor reported
// (recorded for the operator; nothing is debited automatically).
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, fmtNumber, pageHeader } from "../ui.js";

export default {
  async render(main) {
    const body = h("div", loading());
    clear(main, pageHeader(t("nav.admin.payments"), t("admin.payments.subtitle")), h("section.card", body));
    try {
      const rows = await get("/console/api/admin/payments");
      clear(
        body,
        table(
          [t("col.time"), t("admin.filter.user"), t("topup.col.credits"), t("topup.col.amount"), t("col.status"), t("topup.col.id"), t("admin.payments.notices")],
          rows.map((p) => [
            fmtTime(p.created_at_ms),
            String(p.user_id),
            fmtNumber(p.credits),
            `${(p.amount / 100).toFixed(2)} ${p.currency.toUpperCase()}`,
            h("span.badge", t(`payment.${p.status}`)),
            h("span.mono", p.id),
            p.notices.length ? h("strong.neg", p.notices.join(", ")) : "—",
          ]),
          { empty: t("topup.empty") },
        ),
      );
    } catch (e) {
      clear(body, errorBox(e));
    }
  },
};
