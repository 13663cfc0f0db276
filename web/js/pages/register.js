// Sign-up, email verification, forgotten and reset passwords: the pages a visitor reaches
// from the login page or an emailed link (no session needed).
import { get, post } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, field, loading } from "../ui.js";

/** The login page's card frame, for these pages too. */
function card(main, title, subtitle, ...body) {
  clear(
    main,
    h(
      "div.login-wrap",
      h(
        "section.card.login-card",
        h("div.brand", h("span.brand-mark", { "aria-hidden": "true" }, "▶"), "VideoApi"),
        h("h1", title),
        subtitle ? h("p.subtitle", subtitle) : null,
        body,
        h("p.hint", h("a#back-to-login", { href: "#/login" }, t("signup.back_to_login"))),
      ),
    ),
  );
}

/** Field errors next to their field, anything else under the form. */
function showError(ex, fields, err) {
  const f = ex.param && fields[ex.param];
  if (f) {
    f.classList.add("has-error");
    f.querySelector(".field-error").textContent = ex.message;
  } else {
    err.textContent = ex.message;
  }
}

function resetErrors(fields, err) {
  err.textContent = "";
  for (const f of Object.values(fields)) {
    f.classList.remove("has-error");
    f.querySelector(".field-error").textContent = "";
  }
}

export const register = {
  async render(main, { session, navigate, params }) {
    if (session.me) {
      navigate("/overview");
      return;
    }
    const info = await get("/console/api/registration");
    if (info.registration === "closed") {
      card(main, t("signup.title"), null, h("div.alert.alert-error#signup-closed", { role: "alert" }, t("error.registration_closed")));
      return;
    }
    const user = h("input#signup-username", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
    const pass = h("input#signup-password", { name: "password", type: "password", autocomplete: "new-password", minlength: 10, required: true });
    const email = h("input#signup-email", { name: "email", type: "email", autocomplete: "email", required: info.email_verification });
    const invite = h("input#signup-invite", { name: "invite_code", value: params.get("invite") || "", required: true });
    const fields = {
      username: field(t("login.username"), user, { hint: t("signup.username_rules") }),
      password: field(t("login.password"), pass, { hint: t("signup.password_rules") }),
      email: field(info.email_verification ? t("signup.email") : t("signup.email_optional"), email),
      invite_code: field(t("signup.invite"), invite),
    };
    const err = h("p.field-error#signup-error", { role: "alert" });
    const btn = h("button.btn.btn-primary#signup-submit", { type: "submit" }, t("signup.submit"));
    card(
      main,
      t("signup.title"),
      info.signup_credits > 0 ? t("signup.bonus", { n: info.signup_credits }) : t("signup.subtitle"),
      h(
        "form#signup-form",
        {
          onsubmit: async (e) => {
            e.preventDefault();
            resetErrors(fields, err);
            btn.disabled = true;
            const body = { username: user.value.trim(), password: pass.value };
            if (email.value.trim()) body.email = email.value.trim();
            if (info.registration === "invite") body.invite_code = invite.value.trim();
            try {
              const res = await post("/console/api/register", body);
              if (res && res.verification_sent) {
                card(main, t("signup.check_mail_title"), null, h("div.alert.alert-ok#signup-verify-sent", { role: "status" }, t("signup.check_mail")));
                return;
              }
              await session.refresh();
              navigate("/overview");
            } catch (ex) {
              showError(ex, fields, err);
            } finally {
              btn.disabled = false;
            }
          },
        },
        fields.username,
        fields.password,
        fields.email,
        info.registration === "invite" ? fields.invite_code : null,
        err,
        btn,
      ),
    );
    user.focus();
  },
};

export const verify = {
  async render(main, { params }) {
    const box = h("div#verify-result", loading());
    card(main, t("verify.title"), null, box);
    try {
      await post("/console/api/verify-email", { token: params.get("token") || "" });
      clear(box, h("div.alert.alert-ok", { role: "status" }, t("verify.done")));
    } catch (ex) {
      clear(box, h("div.alert.alert-error", { role: "alert" }, ex.message));
    }
  },
};

export const forgot = {
  async render(main) {
    const email = h("input#forgot-email", { name: "email", type: "email", autocomplete: "email", required: true });
    const fields = { email: field(t("signup.email"), email) };
    const err = h("p.field-error#forgot-error", { role: "alert" });
    const btn = h("button.btn.btn-primary#forgot-submit", { type: "submit" }, t("forgot.submit"));
    const form = h(
      "form#forgot-form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          resetErrors(fields, err);
          btn.disabled = true;
          try {
            await post("/console/api/forgot-password", { email: email.value.trim() });
            clear(form, h("div.alert.alert-ok#forgot-sent", { role: "status" }, t("forgot.sent")));
          } catch (ex) {
            showError(ex, fields, err);
          } finally {
            btn.disabled = false;
          }
        },
      },
      fields.email,
      err,
      btn,
    );
    card(main, t("forgot.title"), t("forgot.subtitle"), form);
    email.focus();
  },
};

export const reset = {
  async render(main, { params }) {
    const pass = h("input#reset-password", { name: "new_password", type: "password", autocomplete: "new-password", minlength: 10, required: true });
    const fields = { new_password: field(t("password.new"), pass, { hint: t("signup.password_rules") }) };
    const err = h("p.field-error#reset-error", { role: "alert" });
    const btn = h("button.btn.btn-primary#reset-submit", { type: "submit" }, t("reset.submit"));
    const form = h(
      "form#reset-form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          resetErrors(fields, err);
          btn.disabled = true;
          try {
            await post("/console/api/reset-password", { token: params.get("token") || "", new_password: pass.value });
            clear(form, h("div.alert.alert-ok#reset-done", { role: "status" }, t("reset.done")));
          } catch (ex) {
            showError(ex, fields, err);
          } finally {
            btn.disabled = false;
          }
        },
      },
      fields.new_password,
      err,
      btn,
    );
    card(main, t("reset.title"), null, form);
  },
};
