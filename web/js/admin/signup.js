// Operator: who may sign up (closed / invite / open), starting credits and group, email
// verification, invite codes, and the test mail that checks the [smtp] settings.
import { get, post, put } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, pageHeader, field, toast, copyButton } from "../ui.js";

export default {
  async render(main) {
    const body = h("div", loading());
    clear(main, pageHeader(t("nav.admin.signup"), t("admin.signup.subtitle")), body);
    let s;
    let groups;
    try {
      [s, groups] = await Promise.all([get("/console/api/admin/signup-settings"), get("/console/api/admin/pricing-groups")]);
    } catch (e) {
      clear(body, errorBox(e));
      return;
    }
    const mode = h("select#signup-mode", ["closed", "invite", "open"].map((m) => h("option", { value: m, selected: s.registration === m }, t(`signup.mode.${m}`))));
    const credits = h("input#signup-credits", { type: "number", min: 0, value: String(s.signup_credits) });
    const group = h("select#signup-group", h("option", { value: "" }, t("admin.users.list_price")), groups.map((g) => h("option", { value: g.name, selected: s.pricing_group === g.name }, g.name)));
    const verify = h("input#signup-verify", { type: "checkbox", checked: s.email_verification, disabled: !s.email_configured });
    const err = h("p.field-error#signup-settings-error", { role: "alert" });
    const invites = h("div", loading());
    const invMax = h("input#invite-max-uses", { type: "number", min: 1, value: "1" });
    const invExpires = h("input#invite-expires", { type: "date" });
    const invNote = h("input#invite-note", { maxlength: 200 });
    const invMade = h("div#invite-made");
    const mailTo = h("input#test-mail-to", { type: "email", required: true });
    const mailResult = h("div#test-mail-result");
    clear(
      body,
      h(
        "section.card",
        h("h2", t("admin.signup.settings")),
        h(
          "form.filters#signup-settings",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              err.textContent = "";
              try {
                await put("/console/api/admin/signup-settings", {
                  registration: mode.value,
                  signup_credits: Number(credits.value || 0),
                  pricing_group: group.value || null,
                  email_verification: verify.checked,
                });
                toast(t("saved"));
              } catch (ex) {
                err.textContent = ex.message;
              }
            },
          },
          field(t("admin.signup.mode"), mode),
          field(t("admin.signup.credits"), credits),
          field(t("col.group"), group),
          field(t("admin.signup.verify"), verify, { hint: s.email_configured ? null : t("admin.signup.no_smtp") }),
          h("button.btn.btn-primary#signup-save", { type: "submit" }, t("save")),
        ),
        err,
      ),
      h(
        "section.card",
        h("h2", t("admin.invites.title")),
        h(
          "form.filters#invite-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              const b = { max_uses: Number(invMax.value || 1) };
              if (invExpires.value) b.expires_at = new Date(`${invExpires.value}T23:59:59`).getTime();
              if (invNote.value.trim()) b.note = invNote.value.trim();
              try {
                const r = await post("/console/api/admin/invites", b);
                const link = `${location.origin}/#/register?invite=${encodeURIComponent(r.code)}`;
                clear(invMade, h("div.alert.alert-ok", { role: "status" }, h("p", t("admin.invites.made")), h("pre.code-list#invite-code", r.code), h("p.mono", link), copyButton(() => link)));
                loadInvites();
              } catch (ex) {
                clear(invMade, h("div.alert.alert-error", { role: "alert" }, ex.message));
              }
            },
          },
          field(t("admin.codes.max_uses"), invMax),
          field(t("admin.codes.expires"), invExpires),
          field(t("admin.users.note"), invNote),
          h("button.btn.btn-primary#invite-create", { type: "submit" }, t("admin.invites.create")),
        ),
        invMade,
        invites,
      ),
      h(
        "section.card",
        h("h2", t("admin.mail.title")),
        h(
          "form.filters#test-mail-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              clear(mailResult);
              try {
                await post("/console/api/admin/test-mail", { to: mailTo.value.trim() });
                clear(mailResult, h("div.alert.alert-ok", { role: "status" }, t("admin.mail.sent")));
              } catch (ex) {
                clear(mailResult, h("div.alert.alert-error", { role: "alert" }, ex.message));
              }
            },
          },
          field(t("admin.mail.to"), mailTo),
          h("button.btn#test-mail-send", { type: "submit" }, t("admin.mail.send")),
        ),
        mailResult,
      ),
    );
    async function loadInvites() {
      try {
        const rows = await get("/console/api/admin/invites");
        clear(
          invites,
          table(
            [t("admin.invites.code"), t("admin.codes.uses"), t("col.status"), t("admin.codes.expires"), t("admin.users.note"), t("col.time"), ""],
            rows.map((i) => [
              h("span.mono", `${i.prefix}…`),
              `${i.uses} / ${i.max_uses}`,
              h("span.badge", i.usable ? t("admin.invites.usable") : t("admin.invites.unusable")),
              i.expires_at ? fmtTime(i.expires_at) : "—",
              i.note || "—",
              fmtTime(i.created_at_ms),
              i.usable ? h("button.btn.btn-small.btn-danger", { type: "button", onclick: async () => { await post(`/console/api/admin/invites/${i.id}/disable`, {}); loadInvites(); } }, t("admin.codes.disable")) : null,
            ]),
            { empty: t("admin.invites.empty") },
          ),
        );
      } catch (e) {
        clear(invites, errorBox(e, () => loadInvites()));
      }
    }
    await loadInvites();
  },
};
