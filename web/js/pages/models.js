// 模型列表: name, billing mode, credits (the user's own price after login), features.
import { get } from "../api.js";
import { t } from "../i18n.js";
import { h, clear, table, loading, errorBox, pageHeader, fmtNumber } from "../ui.js";
import { billingLabel, unitLabel } from "./generate.js";

export default {
  async render(main, { session }) {
    const body = h("div", loading());
    const subtitle = session.me ? t("models.own_price") : t("models.login_hint");
    clear(main, pageHeader(t("nav.models"), subtitle), h("section.card", body));
    const load = async () => {
      try {
        const list = session.me ? await get("/console/api/models") : await fetch("/v1/models").then(async (r) => {
          if (!r.ok) throw new Error(t("error.http", { status: r.status }));
          return r.json();
        });
        clear(
          body,
          table(
            [t("col.model_name"), t("col.billing"), t("col.credits_cost"), t("col.features")],
            list.data.map((m) => {
              const perRes = Object.entries(m.billing.resolution_credits || {});
              return [
                h("div", h("strong", m.name), h("span.cell-sub.mono", m.id), m.description ? h("span.cell-sub", m.description) : null),
                h("span.badge", billingLabel(m.billing.mode)),
                h(
                  "div",
                  h("strong", unitLabel(m.billing.mode, m.billing.credits)),
                  perRes.length > 1
                    ? h("span.cell-sub", perRes.map(([r, c]) => `${r}: ${fmtNumber(c)}`).join(" · "))
                    : null,
                ),
                h(
                  "div",
                  h("div.chips", m.features.map((f) => h("span.chip", f))),
                  h(
                    "span.cell-sub",
                    [
                      m.types.join(" / "),
                      m.resolutions.join(" / "),
                      t("models.durations", { list: m.durations.join("/") }),
                      m.aspect_ratios.join(" "),
                      m.supports_audio ? t("models.audio") : null,
                    ].filter(Boolean).join(" · "),
                  ),
                ),
              ];
            }),
            { empty: t("models.empty") },
          ),
        );
      } catch (e) {
        clear(body, errorBox(e, load));
      }
    };
    await load();
  },
};
