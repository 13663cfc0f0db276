// Online top-up: packages (and a free amount when offered) paid on the processor's
// checkout page, and the history of payments. The return from checkout settles at once.
import { get, post } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, field, pageHeader, fmtNumber, fmtTime, table, errorBox, loading } from "../ui.js";

function money(amount, currency) {
  const c = (currency || "usd").toUpperCase();
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: c }).format(amount / 100);
  } catch {
    return `${(amount / 100).toFixed(2)} ${c}`;
  }
}

export default {
  async render(main, { params, showCredits }) {
    const notice = h("div#topup-notice");
    const body = h("div", loading());
    clear(main, pageHeader(t("nav.topup"), t("topup.subtitle")), notice, body);
    const back = params.get("session_id");
    if (back) {
      try {
        const p = await get(`/console/api/topup/payments/${encodeURIComponent(back)}`);
        const ok = p.status === "paid";
        clear(notice, h(`div.alert.${ok ? "alert-ok" : "alert-error"}#topup-return`, { role: "status" }, ok ? t("topup.paid", { n: fmtNumber(p.credits) }) : t("topup.pending")));
        const me = await get("/console/api/me");
        showCredits(me.credits);
      } catch (e) {
        clear(notice, errorBox(e));
      }
    } else if (params.get("cancelled")) {
      clear(notice, h("div.alert.alert-error#topup-cancelled", { role: "status" }, t("topup.cancelled")));
    }
    let page;
    try {
      page = await get("/console/api/topup");
    } catch (e) {
      clear(body, errorBox(e));
      return;
    }
    const err = h("p.field-error#topup-error", { role: "alert" });
    async function buy(choice, btn) {
      err.textContent = "";
      btn.disabled = true;
      try {
        const r = await post("/console/api/topup/checkout", choice);
        location.assign(r.url);
      } catch (ex) {
        err.textContent = ex.message;
        btn.disabled = false;
      }
    }
    const offers = [];
    if (!page.enabled) {
      offers.push(h("div.alert.alert-error#topup-disabled", { role: "status" }, t("topup.disabled")));
    } else {
      offers.push(
        h(
          "div.package-grid",
          page.packages.map((p) => {
            const btn = h("button.btn.btn-primary", { type: "button", dataset: { package: String(p.index) }, onclick: () => buy({ package: p.index }, btn) }, t("topup.buy"));
            return h("div.card.package", h("h3", t("topup.credits", { n: fmtNumber(p.credits) })), h("p.price", money(p.amount, page.currency)), btn);
          }),
        ),
      );
      if (page.free_amount) {
        const fa = page.free_amount;
        const amount = h("input#topup-amount", { type: "number", min: fa.min_amount / 100, max: fa.max_amount / 100, step: "0.01", required: true });
        const gets = h("p.hint#topup-gets");
        amount.addEventListener("input", () => {
          const cents = Math.round(Number(amount.value) * 100);
          gets.textContent = cents > 0 ? t("topup.credits", { n: fmtNumber(cents * fa.credits_per_unit) }) : "";
        });
        const btn = h("button.btn", { type: "submit" }, t("topup.buy"));
        offers.push(
          h(
            "form.filters#topup-free",
            { onsubmit: (e) => { e.preventDefault(); buy({ amount: Math.round(Number(amount.value) * 100) }, btn); } },
            field(t("topup.amount", { currency: page.currency.toUpperCase() }), amount, { hint: t("topup.range", { min: money(fa.min_amount, page.currency), max: money(fa.max_amount, page.currency) }) }),
            gets,
            btn,
          ),
        );
      }
    }
    clear(
      body,
      h("section.card", offers, err),
      h(
        "section.card",
        h("h2", t("topup.history")),
        table(
          [t("col.time"), t("topup.col.credits"), t("topup.col.amount"), t("col.status"), t("topup.col.id")],
          page.payments.map((p) => [fmtTime(p.created_at_ms), fmtNumber(p.credits), money(p.amount, p.currency), h("span.badge", t(`payment.${p.status}`)), h("span.mono", p.id)]),
          { empty: t("topup.empty") },
        ),
      ),
    );
  },
};
