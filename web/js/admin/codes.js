// Operator: redemption codes — make a batch (shown once, with a CSV to save), list and
// filter, see who redeemed a code, disable a code or a whole batch.
import { get, post } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, fmtTime, fmtNumber, pageHeader, field, confirmDialog, copyButton, toast } from "../ui.js";

const STATUSES = ["unused", "partly_used", "used", "expired", "disabled"];

export default {
  async render(main, { params }) {
    const count = h("input#codes-count", { type: "number", min: 1, max: 1000, value: "10", required: true });
    const credits = h("input#codes-credits", { type: "number", min: 1, value: "1000", required: true });
    const maxUses = h("input#codes-max-uses", { type: "number", min: 1, value: "1", required: true });
    const expires = h("input#codes-expires", { type: "date" });
    const prefix = h("input#codes-prefix", { maxlength: 12, autocapitalize: "characters" });
    const note = h("input#codes-note", { maxlength: 200 });
    const made = h("div#codes-made");
    const err = h("p.field-error#codes-error", { role: "alert" });
    const fBatch = h("input#codes-filter-batch", { type: "search", value: params.get("batch") || "" });
    const fStatus = h("select#codes-filter-status", h("option", { value: "" }, t("all")), STATUSES.map((s) => h("option", { value: s }, t(`code.status.${s}`))));
    const fNote = h("input#codes-filter-note", { type: "search" });
    const list = h("div", loading());
    clear(
      main,
      pageHeader(t("nav.admin.codes"), t("admin.codes.subtitle")),
      h(
        "section.card",
        h("h2", t("admin.codes.new")),
        h(
          "form.filters#codes-form",
          {
            onsubmit: async (e) => {
              e.preventDefault();
              err.textContent = "";
              const body = { count: Number(count.value), credits: Number(credits.value), max_uses: Number(maxUses.value) };
              if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59`).getTime();
              if (prefix.value.trim()) body.prefix = prefix.value.trim();
              if (note.value.trim()) body.note = note.value.trim();
              try {
                const r = await post("/console/api/admin/redemption-codes", body);
                const csvUrl = URL.createObjectURL(new Blob([r.csv], { type: "text/csv" }));
                clear(
                  made,
                  h(
                    "div.alert.alert-ok",
                    { role: "status" },
                    h("p", t("admin.codes.made", { n: r.codes.length, batch: r.batch })),
                    h("pre.code-list#codes-list", r.codes.map((c) => c.code).join("\n")),
                    h("a.btn#codes-csv", { href: csvUrl, download: `codes-${r.batch}.csv` }, t("admin.codes.csv")),
                    " ",
                    copyButton(() => r.codes.map((c) => c.code).join("\n")),
                  ),
                );
                toast(t("admin.codes.made", { n: r.codes.length, batch: r.batch }));
                fBatch.value = r.batch;
                load();
              } catch (ex) {
                err.textContent = ex.message;
              }
            },
          },
          field(t("admin.codes.count"), count),
          field(t("admin.codes.credits"), credits),
          field(t("admin.codes.max_uses"), maxUses),
          field(t("admin.codes.expires"), expires),
          field(t("admin.codes.prefix"), prefix),
          field(t("admin.users.note"), note),
          h("button.btn.btn-primary#codes-create", { type: "submit" }, t("admin.codes.create")),
        ),
        err,
        made,
      ),
      h(
        "section.card",
        h(
          "form.filters",
          { onsubmit: (e) => { e.preventDefault(); load(); } },
          field(t("admin.codes.batch"), fBatch),
          field(t("col.status"), fStatus),
          field(t("admin.users.note"), fNote),
          h("button.btn.btn-primary", { type: "submit" }, t("filter")),
        ),
        list,
      ),
    );
    async function showUses(c) {
      try {
        const uses = await get(`/console/api/admin/redemption-codes/${c.id}/uses`);
        await confirmDialog({
          title: t("admin.codes.uses_title", { hint: c.hint }),
          message: uses.length ? uses.map((u) => `${u.username} · ${fmtTime(u.at_ms)}`).join("\n") : t("admin.codes.no_uses"),
        });
      } catch (e) {
        toast(e.message, "error");
      }
    }
    async function disable(path, what) {
      if (!(await confirmDialog({ title: t("admin.codes.disable"), message: what, confirm: t("admin.codes.disable"), danger: true }))) return;
      try {
        const r = await post(path, {});
        toast(t("admin.codes.disabled", { n: r.disabled }));
        load();
      } catch (e) {
        toast(e.message, "error");
      }
    }
    async function load() {
      const qs = new URLSearchParams({ limit: "200" });
      if (fBatch.value.trim()) qs.set("batch", fBatch.value.trim());
      if (fStatus.value) qs.set("status", fStatus.value);
      if (fNote.value.trim()) qs.set("note", fNote.value.trim());
      clear(list, loading());
      try {
        const rows = await get(`/console/api/admin/redemption-codes?${qs}`);
        const batch = fBatch.value.trim();
        clear(
          list,
          batch && rows.length
            ? h("p", h("button.btn.btn-danger.btn-small#codes-disable-batch", { type: "button", onclick: () => disable(`/console/api/admin/redemption-batches/${encodeURIComponent(batch)}/disable`, t("admin.codes.disable_batch", { batch })) }, t("admin.codes.disable_batch", { batch })))
            : null,
          table(
            [t("admin.codes.code"), t("admin.codes.batch"), t("admin.codes.credits"), t("admin.codes.uses"), t("col.status"), t("admin.codes.expires"), t("admin.users.note"), ""],
            rows.map((c) => [
              h("span.mono", c.hint),
              h("span.mono", c.batch),
              fmtNumber(c.credits),
              `${c.uses} / ${c.max_uses}`,
              h("span.badge", t(`code.status.${c.status}`)),
              c.expires_at ? fmtTime(c.expires_at) : "—",
              c.note || "—",
              h(
                "span.row-actions",
                h("button.btn.btn-small", { type: "button", onclick: () => showUses(c) }, t("admin.codes.uses")),
                c.status === "disabled" ? null : h("button.btn.btn-small.btn-danger", { type: "button", onclick: () => disable(`/console/api/admin/redemption-codes/${c.id}/disable`, c.hint) }, t("admin.codes.disable")),
              ),
            ]),
            { empty: t("admin.codes.empty") },
          ),
        );
      } catch (e) {
        clear(list, errorBox(e, () => load()));
      }
    }
    await load();
  },
};
