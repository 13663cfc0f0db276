// The console shell: session, navigation, hash routes, language switch.
import { get, post, setUnauthorizedHandler } from "./api.js";
import { t, lang, setLang, onLangChange } from "./i18n.js";
import { h, clear, fmtNumber, errorBox, icon } from "./ui.js";

import overview from "./pages/overview.js";
import generate from "./pages/generate.js";
import keys from "./pages/keys.js";
import models from "./pages/models.js";
import quickstart from "./pages/quickstart.js";
import login from "./pages/login.js";
import password from "./pages/password.js";
import adminOverview from "./admin/overview.js";
import adminUsers from "./admin/users.js";
import adminGroups from "./admin/groups.js";
import adminProviders from "./admin/providers.js";
import adminModels from "./admin/models.js";
import adminTasks from "./admin/tasks.js";
import adminLedger from "./admin/ledger.js";
import adminStorage from "./admin/storage.js";
import redeem from "./pages/redeem.js";
import topup from "./pages/topup.js";
import { register, verify, forgot, reset } from "./pages/register.js";
import adminCodes from "./admin/codes.js";
import adminSignup from "./admin/signup.js";
import adminPayments from "./admin/payments.js";

const ROUTES = {
  "/overview": { page: overview, auth: true, icon: "overview" },
  "/generate": { page: generate, auth: true, icon: "generate" },
  "/keys": { page: keys, auth: true, icon: "keys" },
  "/redeem": { page: redeem, auth: true, icon: "ledger" },
  "/topup": { page: topup, auth: true, icon: "ledger" },
  "/models": { page: models, icon: "models" },
  "/quickstart": { page: quickstart, icon: "quickstart" },
  "/password": { page: password, auth: true, hidden: true },
  "/login": { page: login, bare: true, hidden: true },
  "/register": { page: register, bare: true, hidden: true },
  "/verify": { page: verify, bare: true, hidden: true },
  "/forgot": { page: forgot, bare: true, hidden: true },
  "/reset": { page: reset, bare: true, hidden: true },
  "/admin/overview": { page: adminOverview, auth: true, admin: true, icon: "overview" },
  "/admin/users": { page: adminUsers, auth: true, admin: true, icon: "users" },
  "/admin/groups": { page: adminGroups, auth: true, admin: true, icon: "groups" },
  "/admin/providers": { page: adminProviders, auth: true, admin: true, icon: "providers" },
  "/admin/models": { page: adminModels, auth: true, admin: true, icon: "adminModels" },
  "/admin/tasks": { page: adminTasks, auth: true, admin: true, icon: "tasks" },
  "/admin/ledger": { page: adminLedger, auth: true, admin: true, icon: "ledger" },
  "/admin/storage": { page: adminStorage, auth: true, admin: true, icon: "storage" },
  "/admin/codes": { page: adminCodes, auth: true, admin: true, icon: "keys" },
  "/admin/payments": { page: adminPayments, auth: true, admin: true, icon: "ledger" },
  "/admin/signup": { page: adminSignup, auth: true, admin: true, icon: "users" },
};

export const session = {
  me: null,
  async refresh() {
    try {
      session.me = await get("/console/api/me");
    } catch (e) {
      if (e.status === 401) session.me = null;
      else throw e;
    }
    renderChrome();
    return session.me;
  },
};

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = `#${path}`;
}

let cleanup = null;
// The path shown before this one (null on the first route): a landing on the customer
// overview right after boot or login takes an operator to the operator overview instead.
let lastPath = null;

/** Where a signed-in user lands: operators on their overview, customers on theirs. */
export function homePath() {
  return session.me && session.me.is_admin ? "/admin/overview" : "/overview";
}
let nav;
let topbar;
let main;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { path, params: new URLSearchParams(query || "") };
}

function navLink(path, label, iconName) {
  const { path: current } = parseHash();
  return h(
    "a.nav-link",
    { href: `#${path}`, class: current === path ? "active" : "", "aria-current": current === path ? "page" : false },
    h("span.nav-icon", icon(iconName)),
    h("span", label),
  );
}

function renderChrome() {
  const me = session.me;
  const items = Object.entries(ROUTES).filter(
    ([, r]) => !r.hidden && !r.admin && (!r.auth || me),
  );
  const adminItems = me && me.is_admin ? Object.entries(ROUTES).filter(([, r]) => r.admin) : [];
  clear(
    nav,
    h("a.brand", { href: `#${me ? homePath() : "/overview"}` }, h("span.brand-mark", { "aria-hidden": "true" }, "▶"), "VideoApi"),
    h("p.nav-section", me ? t("nav.workspace") : t("nav.public")),
    items.map(([p, r]) => navLink(p, t(`nav${p.replace(/\//g, ".")}`), r.icon)),
    adminItems.length ? h("p.nav-section", t("nav.operator")) : null,
    adminItems.map(([p, r]) => navLink(p, t(`nav${p.replace(/\//g, ".")}`), r.icon)),
    me ? h("div.nav-phone-only", h("p.nav-section", me.username), navLink("/password", t("nav.password"), "keys")) : null,
  );
  const langBtn = h(
    "button.btn.btn-ghost.btn-small#lang-switch",
    {
      type: "button",
      "aria-label": t("lang.switch"),
      onclick: () => setLang(lang() === "zh" ? "en" : "zh"),
    },
    lang() === "zh" ? "English" : "中文",
  );
  const menuBtn = h(
    "button.btn.btn-ghost.btn-small.menu-toggle",
    {
      type: "button",
      "aria-label": t("nav.menu"),
      "aria-expanded": document.body.classList.contains("nav-open") ? "true" : "false",
      onclick: () => {
        document.body.classList.toggle("nav-open");
        menuBtn.setAttribute("aria-expanded", document.body.classList.contains("nav-open"));
      },
    },
    icon("menu"),
  );
  clear(
    topbar,
    menuBtn,
    h("div.topbar-spacer"),
    me
      ? [
          h(
            "span.credits-pill#credits-pill",
            { title: t("credits") },
            h("span.muted", t("credits")),
            " ",
            h("strong#header-credits", fmtNumber(me.credits)),
          ),
          h("span.user-name", me.username, me.is_admin ? h("span.badge.badge-admin", t("role.admin")) : null),
          h("a.btn.btn-ghost.btn-small.pw-link", { href: "#/password" }, t("nav.password")),
          h(
            "button.btn.btn-ghost.btn-small#logout",
            {
              type: "button",
              onclick: async () => {
                try {
                  await post("/console/api/logout");
                } finally {
                  session.me = null;
                  navigate("/login");
                }
              },
            },
            t("logout"),
          ),
        ]
      : h("a.btn.btn-primary.btn-small", { href: "#/login" }, t("login")),
    langBtn,
  );
}

/** Update the balance shown in the top bar without a full re-render. */
export function showCredits(credits) {
  if (session.me) session.me.credits = credits;
  const el = document.getElementById("header-credits");
  if (el) el.textContent = fmtNumber(credits);
}

// A language switch re-renders the page; what the user typed, chose or pasted must
// survive it. Form controls with an id are saved and restored generically (with the
// events their page listens to); state that is not a control (uploaded assets) lives in
// `carry`, an object a page gets back when it is re-rendered for a language switch.
let carry = {};

function saveForm(root) {
  return [...root.querySelectorAll("input, select, textarea")]
    .filter((el) => el.id && el.type !== "file")
    .map((el) => ({ id: el.id, value: el.value, checked: el.checked }));
}

function restoreForm(root, saved) {
  for (const s of saved) {
    const el = document.getElementById(s.id);
    if (!el || !root.contains(el)) continue;
    if (el.type === "checkbox" || el.type === "radio") {
      if (el.checked === s.checked) continue;
      el.checked = s.checked;
      el.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (el.value !== s.value) {
      if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === s.value)) continue;
      el.value = s.value;
      el.dispatchEvent(new Event(el.tagName === "SELECT" ? "change" : "input", { bubbles: true }));
    }
  }
}

async function route(opts) {
  const keep = Boolean(opts && opts.keep);
  if (cleanup) {
    try {
      cleanup({ keep });
    } catch {
      // a page's cleanup failing must not block navigation
    }
    cleanup = null;
  }
  document.body.classList.remove("nav-open");
  const { path, params } = parseHash();
  const r = ROUTES[path];
  const previous = lastPath;
  lastPath = path;
  if (!r) {
    navigate(session.me ? homePath() : "/login");
    return;
  }
  if (path === "/overview" && session.me && session.me.is_admin && (previous === null || previous === "/login")) {
    location.replace("#/admin/overview");
    return;
  }
  if (r.auth && !session.me) {
    navigate(`/login?next=${encodeURIComponent(path)}`);
    return;
  }
  document.body.classList.toggle("bare", Boolean(r.bare));
  renderChrome();
  const pageKey = `nav${path.replace(/\//g, ".")}`;
  document.title = `${t(pageKey)} · VideoApi`;
  clear(main);
  main.focus({ preventScroll: true });
  if (r.admin && !session.me.is_admin) {
    main.append(
      h(
        "div.forbidden",
        { role: "alert", "data-testid": "forbidden" },
        h("h1", "403"),
        h("p", t("forbidden")),
        h("a.btn.btn-primary", { href: "#/overview" }, t("nav.overview")),
      ),
    );
    return;
  }
  if (!keep) carry = {};
  // Busy until the page is rendered (and, after a language switch, its form restored).
  main.setAttribute("aria-busy", "true");
  try {
    cleanup = (await r.page.render(main, { params, session, navigate, showCredits, carry })) || null;
  } catch (e) {
    main.append(errorBox(e, () => route()));
  } finally {
    if (!keep) main.removeAttribute("aria-busy");
  }
}

async function boot() {
  nav = document.getElementById("nav");
  topbar = document.getElementById("topbar");
  main = document.getElementById("main");
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  setUnauthorizedHandler(() => {
    session.me = null;
    const { path } = parseHash();
    if (ROUTES[path] && ROUTES[path].auth) navigate(`/login?next=${encodeURIComponent(path)}`);
  });
  onLangChange(async () => {
    document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
    const saved = saveForm(main);
    const scroll = window.scrollY;
    // A keyboard user stays on the switch; a click leaves focus on main (no ring drawn).
    const active = document.activeElement;
    const keyboard = Boolean(active && active.id === "lang-switch" && active.matches(":focus-visible"));
    await route({ keep: true });
    restoreForm(main, saved);
    main.removeAttribute("aria-busy");
    window.scrollTo(0, scroll);
    const btn = document.getElementById("lang-switch");
    if (btn && keyboard) btn.focus({ preventScroll: true });
  });
  try {
    await session.refresh();
  } catch (e) {
    // The API is unreachable: public pages still render, with the error shown.
    clear(main, errorBox(e, () => location.reload()));
  }
  window.addEventListener("hashchange", () => route());
  // On phones the menu is a drawer: a tap on the page closes it.
  document.querySelector(".content").addEventListener("click", (e) => {
    if (document.body.classList.contains("nav-open") && !e.target.closest(".menu-toggle")) {
      document.body.classList.remove("nav-open");
    }
  });
  if (!location.hash || location.hash === "#" || location.hash === "#/") {
    navigate(session.me ? homePath() : "/login");
  } else {
    route();
  }
}

boot();
