// Change password.
import { post } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, field, pageHeader, toast } from "../ui.js";

export default {
  async render(main) {
    const current = h("input#pw-current", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
    const next = h("input#pw-new", { type: "password", name: "new_password", autocomplete: "new-password", minlength: 8, required: true });
    const again = h("input#pw-again", { type: "password", name: "again", autocomplete: "new-password", required: true });
    const fields = {
      current_password: field(t("password.current"), current),
      new_password: field(t("password.new"), next, { hint: t("password.rules") }),
      again: field(t("password.again"), again),
    };
    const done = h("div");
    const btn = h("button.btn.btn-primary", { type: "submit" }, t("password.submit"));
    const setErr = (name, msg) => {
      fields[name].classList.toggle("has-error", Boolean(msg));
      fields[name].querySelector(".field-error").textContent = msg || "";
    };
    clear(
      main,
      pageHeader(t("nav.password"), t("password.subtitle")),
      done,
      h(
        "section.card",
        h(
          "form.dialog-form#password-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              Object.keys(fields).forEach((k) => setErr(k, ""));
              clear(done);
              if (next.value !== again.value) {
                setErr("again", t("password.mismatch"));
                return;
              }
              btn.disabled = true;
              try {
                await post("/console/api/password", { current_password: current.value, new_password: next.value });
                current.value = next.value = again.value = "";
                clear(done, h("div.alert.alert-ok", { role: "status" }, t("password.changed")));
                toast(t("password.changed"));
              } catch (ex) {
                if (!(ex.param && fields[ex.param] && (setErr(ex.param, ex.message), true))) {
                  clear(done, h("div.alert.alert-error", { role: "alert" }, ex.message));
                }
              } finally {
                btn.disabled = false;
              }
            },
          },
          fields.current_password,
          fields.new_password,
          fields.again,
          h("div.form-actions", btn),
        ),
      ),
    );
  },
};
