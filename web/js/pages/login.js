// Login page.
import { get, post } from "../api.js";
import { t, lang, setLang } from "../i18n.js";
import { h, clear, field } from "../ui.js";

export default {
  async render(main, { params, session, navigate }) {
    if (session.me) {
      navigate("/overview");
      return;
    }
    const user = h("input#login-username", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
    const pass = h("input#login-password", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const err = h("p.field-error#login-error", { role: "alert" });
    const btn = h("button.btn.btn-primary#login-submit", { type: "submit" }, t("login"));
    clear(
      main,
      h(
        "div.login-wrap",
        h(
          "section.card.login-card",
          h("div.brand", h("span.brand-mark", { "aria-hidden": "true" }, "▶"), "VideoApi"),
          h("h1", t("login.title")),
          h("p.subtitle", t("login.subtitle")),
          h(
            "form",
            {
              onsubmit: async (e) => {
                e.preventDefault();
                err.textContent = "";
                btn.disabled = true;
                try {
                  await post("/console/api/login", { username: user.value.trim(), password: pass.value });
                  await session.refresh();
                  const next = params.get("next");
                  navigate(next && next.startsWith("/") && next !== "/login" ? next : "/overview");
                } catch (ex) {
                  err.textContent = ex.message;
                  pass.select();
                } finally {
                  btn.disabled = false;
                }
              },
            },
            field(t("login.username"), user),
            field(t("login.password"), pass),
            err,
            btn,
          ),
          h(
            "p.hint",
            h("a", { href: "#/models" }, t("nav.models")),
            " · ",
            h("a", { href: "#/quickstart" }, t("nav.quickstart")),
            " · ",
            h("button.btn-link", { type: "button", onclick: () => setLang(lang() === "zh" ? "en" : "zh") }, lang() === "zh" ? "English" : "中文"),
          ),
        ),
      ),
    );
    user.focus();
    // "Create an account" and "forgot password" when the server offers them.
    try {
      const info = await get("/console/api/registration");
      const links = [];
      if (info.registration !== "closed") links.push(h("a#signup-link", { href: "#/register" }, t("signup.link")));
      if (info.password_reset) links.push(h("a#forgot-link", { href: "#/forgot" }, t("forgot.link")));
      if (links.length) {
        err.before(h("p.hint.signup-links", links.flatMap((l, i) => (i ? [" · ", l] : [l]))));
      }
    } catch {
      // the login form works without it
    }
  },
};
