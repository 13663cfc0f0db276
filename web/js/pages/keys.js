// API Key: create (shown once, with copy), list by name/prefix/status/last used, revoke;
// the account's webhook signing secret (copy, rotate).
import { get, post } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, pageHeader, copyButton, confirmDialog, field, toast } from "../ui.js";

// The account's webhook signing secret: shown on demand, copyable, rotatable.
function webhookSecretCard() {
  const body = h("div#webhook-secret", loading());
  async function show(promise) {
    try {
      const { secret } = await promise;
      clear(
        body,
        h("code#webhook-secret-value.mono", secret),
        h(
          "div.form-actions",
          copyButton(secret, t("keys.webhook_copy")),
          h(
            "button.btn.btn-small.btn-danger#webhook-secret-rotate",
            {
              type: "button",
              onclick: async () => {
                const ok = await confirmDialog({
                  title: t("keys.webhook_rotate_title"),
                  message: t("keys.webhook_rotate_message"),
                  confirm: t("keys.webhook_rotate"),
                  danger: true,
                });
                if (!ok) return;
                await show(post("/console/api/webhook-secret/rotate"));
                toast(t("keys.webhook_rotated"));
              },
            },
            t("keys.webhook_rotate"),
          ),
        ),
      );
    } catch (e) {
      clear(body, errorBox(e, () => show(get("/console/api/webhook-secret"))));
    }
  }
  show(get("/console/api/webhook-secret"));
  return h("section.card", h("h2", t("keys.webhook_title")), h("p.muted", t("keys.webhook_help")), body);
}

export default {
  async render(main) {
    const name = h("input#key-name", { name: "name", maxlength: 64, placeholder: t("keys.name_placeholder"), autocomplete: "off" });
    const nameField = field(t("keys.name"), name);
    const once = h("div#key-once");
    const list = h("div#key-list", loading());
    const createBtn = h("button.btn.btn-primary#key-create", { type: "submit" }, t("keys.create"));
    clear(
      main,
      pageHeader("API Key", t("keys.subtitle")),
      once,
      h(
        "section.card",
        h("h2", t("keys.new")),
        h(
          "form.inline-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              createBtn.disabled = true;
              nameField.querySelector(".field-error").textContent = "";
              try {
                const k = await post("/console/api/keys", { name: name.value.trim() || null });
                name.value = "";
                showOnce(k);
                await load();
              } catch (ex) {
                nameField.querySelector(".field-error").textContent = ex.message;
              } finally {
                createBtn.disabled = false;
              }
            },
          },
          nameField,
          createBtn,
        ),
      ),
      h("section.card", h("h2", t("keys.list")), list),
      webhookSecretCard(),
    );

    function showOnce(k) {
      const code = h("code#new-key", k.key);
      clear(
        once,
        h(
          "div.secret-once",
          { role: "alert" },
          h("strong", t("keys.created", { name: k.name })),
          code,
          h("p", t("keys.once_warning")),
          h(
            "div.form-actions",
            copyButton(k.key, t("keys.copy")),
            h("button.btn.btn-small", { type: "button", onclick: () => clear(once) }, t("keys.saved")),
          ),
        ),
      );
    }

    async function load() {
      try {
        const keys = await get("/console/api/keys");
        clear(
          list,
          table(
            [t("col.name"), t("col.prefix"), t("col.status"), t("col.last_used"), ""],
            keys.map((k) => [
              k.name,
              h("span.mono", `${k.prefix}…`),
              h("span.badge", { class: k.status === "active" ? "badge-ok" : "badge-bad" }, t(`key.${k.status}`)),
              k.last_used_ms ? fmtTime(k.last_used_ms) : h("span.muted", t("keys.never")),
              k.status === "active"
                ? h(
                    "button.btn.btn-small.btn-danger",
                    {
                      type: "button",
                      "aria-label": t("keys.revoke_named", { name: k.name }),
                      onclick: async () => {
                        const ok = await confirmDialog({
                          title: t("keys.revoke_title"),
                          message: t("keys.revoke_message", { name: k.name, prefix: k.prefix }),
                          confirm: t("keys.revoke"),
                          danger: true,
                        });
                        if (!ok) return;
                        try {
                          await post(`/console/api/keys/${k.id}/revoke`);
                          toast(t("keys.revoked"));
                          await load();
                        } catch (e) {
                          toast(e.message, "error");
                        }
                      },
                    },
                    t("keys.revoke"),
                  )
                : "",
            ]),
            { empty: t("keys.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, load));
      }
    }
    await load();
  },
};
