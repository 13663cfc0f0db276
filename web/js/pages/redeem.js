// Redeem a code: the credits arrive at once, as one ledger entry naming the code.
import { post } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, field, pageHeader, fmtNumber, toast } from "../ui.js";

export default {
  async render(main, { showCredits }) {
    const code = h("input#redeem-code", { name: "code", autocomplete: "off", autocapitalize: "characters", spellcheck: "false", required: true, placeholder: "XXXXX-XXXXX-XXXXX-XXXXX" });
    const f = field(t("redeem.code"), code, { hint: t("redeem.hint") });
    const result = h("div#redeem-result");
    const btn = h("button.btn.btn-primary#redeem-submit", { type: "submit" }, t("redeem.submit"));
    clear(
      main,
      pageHeader(t("nav.redeem"), t("redeem.subtitle")),
      result,
      h(
        "section.card",
        h(
          "form.dialog-form#redeem-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              clear(result);
              f.classList.remove("has-error");
              f.querySelector(".field-error").textContent = "";
              btn.disabled = true;
              try {
                const r = await post("/console/api/redeem", { code: code.value });
                code.value = "";
                showCredits(r.credits);
                const msg = t("redeem.done", { n: fmtNumber(r.credits_added), balance: fmtNumber(r.credits) });
                clear(result, h("div.alert.alert-ok", { role: "status" }, msg));
                toast(msg);
              } catch (ex) {
                f.classList.add("has-error");
                f.querySelector(".field-error").textContent = ex.message;
              } finally {
                btn.disabled = false;
              }
            },
          },
          f,
          h("div.form-actions", btn),
        ),
      ),
    );
    code.focus();
  },
};
