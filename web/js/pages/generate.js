// 视频生成中心: the form (model, type, prompt, assets, options), a live estimate, and a
// task table that refreshes itself at the tasks' poll_interval_seconds.
import { get, post, upload } from "../api.js";
import { t } from "../i18n.js";
import {
  h, clear, field, loading, errorBox, statusBadge, shortId, fmtTime, fmtElapsed, fmtNumber, pageHeader, toast, taskErrorText,
} from "../ui.js";

const KIND_TAG = { image: "Image", video: "Video", audio: "Audio" };
const FIELD_PARAMS = ["model", "type", "prompt", "resolution", "duration", "aspect_ratio", "generate_audio"];

export function billingLabel(mode) {
  if (mode === "per_duration") return t("billing.per_duration");
  return mode === "per_second" ? t("billing.per_second") : t("billing.per_task");
}

export function unitLabel(mode, credits) {
  return mode === "per_second"
    ? t("price.per_second", { n: fmtNumber(credits) })
    : t("price.per_task", { n: fmtNumber(credits) });
}

export function creditDetail(task) {
  const parts = [h("span", t("credits.reserved", { n: fmtNumber(task.credits_reserved) }))];
  if (task.credits_refunded) {
    parts.push(" · ", h("span.refunded", t("credits.refunded", { n: fmtNumber(task.credits_refunded_amount) })));
    // Settled on a shorter video: part came back, the rest was charged.
    if (task.status === "completed") parts.push(" · ", h("span", t("credits.charged", { n: fmtNumber(task.credits_charged) })));
  } else if (task.status === "completed") {
    parts.push(" · ", h("span", t("credits.charged", { n: fmtNumber(task.credits_charged) })));
  }
  const unit =
    task.billing_mode === "per_second"
      ? t("credits.formula_second", { unit: fmtNumber(task.unit_credits), n: task.billed_units })
      : t("credits.formula_task", { unit: fmtNumber(task.unit_credits) });
  return h("div.credit-detail", { "data-testid": "credit-detail" }, parts, h("span.cell-sub", unit));
}

function kindOf(file) {
  const type = (file.type || "").toLowerCase();
  if (type.startsWith("image/")) return "image";
  if (type.startsWith("video/")) return "video";
  if (type.startsWith("audio/")) return "audio";
  return null;
}

function insertAtCursor(ta, text) {
  const start = ta.selectionStart ?? ta.value.length;
  const end = ta.selectionEnd ?? start;
  const before = ta.value.slice(0, start);
  const after = ta.value.slice(end);
  const pad = before && !/\s$/.test(before) ? " " : "";
  const insert = `${pad}${text} `;
  ta.value = before + insert + after;
  const caret = before.length + insert.length;
  ta.focus();
  ta.setSelectionRange(caret, caret);
  ta.dispatchEvent(new Event("input", { bubbles: true }));
}

export default {
  async render(main, { session, showCredits, carry = {} }) {
    let models = [];
    // Uploaded assets outlive a language switch (the page is re-rendered around them).
    carry.assets = carry.assets || [];
    carry.nextAssetId = carry.nextAssetId || 1;
    const assets = carry.assets;
    let busy = null; // "uploading" | "submitting" | null
    let lastError = null;
    let timers = [];
    let alive = true;

    clear(main, pageHeader(t("nav.generate"), t("generate.subtitle")), loading());
    try {
      models = (await get("/console/api/models")).data;
    } catch (e) {
      clear(main, pageHeader(t("nav.generate"), t("generate.subtitle")), errorBox(e, () => this.render(main, { session, showCredits })));
      return;
    }

    // ---- controls
    const modelSel = h("select#gen-model", { name: "model" });
    const typeSel = h("select#gen-type", { name: "type" });
    const prompt = h("textarea#gen-prompt", { name: "prompt", maxlength: 5000, placeholder: t("generate.prompt_placeholder") });
    const fileInput = h("input.offscreen#gen-files", { type: "file", multiple: true, accept: "image/*,video/*,audio/*", tabindex: "-1", "aria-hidden": "true" });
    const dropzone = h(
      "div.dropzone#gen-dropzone",
      { role: "button", tabindex: "0", "aria-label": t("generate.drop_aria") },
      h("strong", t("generate.drop_choose")),
      " ",
      t("generate.drop_or"),
      h("div.hint", t("generate.drop_hint")),
    );
    const assetGrid = h("div.assets#gen-assets", { "aria-live": "polite" });
    const resSel = h("select#gen-resolution", { name: "resolution" });
    const durSel = h("select#gen-duration", { name: "duration" });
    const ratioSel = h("select#gen-aspect", { name: "aspect_ratio" });
    const audioBox = h("input#gen-audio", { type: "checkbox", name: "generate_audio" });
    const modelMeta = h("div.model-meta#gen-model-meta");
    const estimateValue = h("span.estimate-value#gen-estimate", "-");
    const estimateDetail = h("span.hint#gen-estimate-detail");
    const balanceLine = h("p.hint#gen-balance");
    const statusLine = h("div.status-line#gen-status", { role: "status", "aria-live": "polite" });
    const submitBtn = h("button.btn.btn-primary#gen-submit", { type: "submit", form: "gen-form" }, t("generate.submit"));
    const formError = h("p.field-error#gen-form-error", { role: "alert" });

    const fields = {
      model: field(t("field.model"), modelSel, { name: "model" }),
      type: field(t("field.type"), typeSel, { name: "type" }),
      prompt: field(t("field.prompt"), prompt, {
        name: "prompt",
        wide: true,
        hint: t("generate.ref_help"),
      }),
      assets: h(
        "div.field.field-wide",
        { dataset: { field: "assets" } },
        h("label", { for: "gen-files" }, t("field.assets")),
        dropzone,
        fileInput,
        assetGrid,
        h("p.hint", t("generate.labels_hint")),
        h("p.field-error#gen-assets-err", { role: "alert" }),
      ),
      resolution: field(t("field.resolution"), resSel, { name: "resolution" }),
      duration: field(t("field.duration"), durSel, { name: "duration" }),
      aspect_ratio: field(t("field.aspect_ratio"), ratioSel, { name: "aspect_ratio" }),
      generate_audio: h(
        "div.field",
        { dataset: { field: "generate_audio" } },
        h("span.field-label", h("label", { for: "gen-audio" }, t("field.generate_audio"))),
        h("label.check", audioBox, h("span", t("generate.audio_on"))),
        h("p.field-error", { role: "alert" }),
      ),
    };

    const form = h(
      "form#gen-form",
      { novalidate: true, onsubmit: (e) => { e.preventDefault(); submit(); } },
      h("div.form-grid", fields.model, fields.type),
      modelMeta,
      h("div.form-grid", fields.prompt, fields.assets),
      h("div.form-grid", fields.resolution, fields.duration, fields.aspect_ratio, fields.generate_audio),
    );

    const tasksBody = h("div#gen-tasks", loading());
    clear(
      main,
      pageHeader(t("nav.generate"), t("generate.subtitle")),
      h(
        "div.gen-layout",
        h("section.card", { "aria-labelledby": "gen-title" }, h("div.card-head", h("h2#gen-title", t("generate.title"))), form),
        h(
          "aside.card",
          { "aria-label": t("generate.summary") },
          h("h2", t("generate.estimate")),
          h("div.estimate", estimateValue, estimateDetail),
          balanceLine,
          h("div.form-actions", submitBtn, statusLine),
          formError,
        ),
      ),
      h("section.card", h("div.card-head", h("h2", t("generate.tasks")), h("span.hint#gen-poll-hint")), tasksBody),
    );

    // ---- model-dependent options
    const model = () => models.find((m) => m.id === modelSel.value);
    for (const m of models) modelSel.append(h("option", { value: m.id }, m.name));
    if (!models.length) {
      modelSel.disabled = true;
      submitBtn.disabled = true;
      modelMeta.textContent = t("generate.no_models");
    }

    function fillSelect(sel, values, label, keep) {
      const prev = sel.value;
      clear(sel, values.map((v) => h("option", { value: String(v) }, label ? label(v) : String(v))));
      if (keep && values.map(String).includes(prev)) sel.value = prev;
    }

    function applyModel() {
      const m = model();
      if (!m) return;
      const unit = m.billing.credits;
      clear(
        modelMeta,
        h("span.badge", billingLabel(m.billing.mode)),
        h("span", unitLabel(m.billing.mode, unit)),
        h("span.chips", m.features.map((f) => h("span.chip", f))),
        h("span.mono", m.id),
      );
      fillSelect(typeSel, m.types, (v) => t(`type.${v}`, {}, v), true);
      fillSelect(resSel, m.resolutions, (r) => `${r} · ${unitLabel(m.billing.mode, m.billing.resolution_credits[r] ?? unit)}`, true);
      fillSelect(durSel, ["auto", ...m.durations], (d) =>
        d === "auto" ? t("duration.auto", { n: m.default_duration }) : t("duration.seconds", { n: d }), true);
      fillSelect(ratioSel, m.aspect_ratios, null, true);
      if (!m.aspect_ratios.includes(ratioSel.value)) ratioSel.value = m.aspect_ratios[0];
      audioBox.disabled = !m.supports_audio;
      audioBox.checked = m.supports_audio && (audioBox.dataset.touched ? audioBox.checked : true);
      syncType();
      renderAssets();
      update();
    }

    // Pick a type that fits the assets when the current one cannot take them.
    function syncType() {
      const m = model();
      if (!m) return;
      const hasImages = assets.some((a) => a.kind === "image");
      const hasMedia = assets.length > 0;
      const cur = typeSel.value;
      let want = cur;
      if (hasMedia && cur === "text-to-video") {
        want = hasImages && m.types.includes("image-to-video") ? "image-to-video" : "reference-to-video";
      } else if (!hasMedia && cur !== "text-to-video") {
        want = "text-to-video";
      }
      if (m.types.includes(want)) typeSel.value = want;
    }

    // ---- the create body, as submitted and as estimated
    function requestBody(m, forEstimate) {
      const urls = (kind) => assets.filter((a) => a.kind === kind && a.url).map((a) => a.url);
      return {
        model: m.id,
        type: typeSel.value,
        // The price never depends on the prompt: the estimate does not follow every key
        // typed (references are checked when the task is submitted).
        prompt: forEstimate ? "-" : prompt.value,
        image_urls: urls("image"),
        video_urls: urls("video"),
        audio_urls: urls("audio"),
        resolution: resSel.value,
        duration: durSel.value === "auto" ? "auto" : Number(durSel.value),
        aspect_ratio: ratioSel.value,
        generate_audio: m.supports_audio ? audioBox.checked : false,
      };
    }

    // ---- estimate and status: the server prices the request (no copy of the formula
    // here); the answer for the current form is kept until the form changes.
    let est = null; // { key, credits, breakdown, balance_after } | { key, error }
    let estKey = null;
    let estTimer = null;
    function estimate() {
      return est && est.key === estKey && !est.error ? { total: est.credits } : null;
    }

    function refreshEstimate() {
      const m = model();
      if (!m) return;
      const body = requestBody(m, true);
      const key = JSON.stringify(body);
      if (key === estKey) return;
      estKey = key;
      clearTimeout(estTimer);
      estTimer = setTimeout(async () => {
        let next;
        try {
          const r = await post("/console/api/generations/estimate", body);
          next = { key, credits: r.credits, breakdown: r.breakdown, balance_after: r.balance_after };
        } catch (e) {
          next = { key, error: e };
        }
        if (!alive || key !== estKey) return;
        est = next;
        renderEstimate();
        update();
      }, 120);
    }

    function renderEstimate() {
      const cur = est && est.key === estKey ? est : null;
      estimateValue.textContent = cur && !cur.error ? t("credits.n", { n: fmtNumber(cur.credits) }) : "-";
      estimateValue.dataset.state = cur ? (cur.error ? "error" : "ok") : "pending";
      if (!cur) {
        clear(estimateDetail);
      } else if (cur.error) {
        clear(estimateDetail, h("span.field-error-inline", cur.error.message));
      } else {
        clear(
          estimateDetail,
          h(
            "ul.breakdown#gen-breakdown",
            { "aria-label": t("generate.breakdown") },
            cur.breakdown.map((l) => h("li", h("span", l.item), h("span.mono", fmtNumber(l.credits)))),
          ),
        );
      }
    }

    function setStatus(text, kind) {
      statusLine.textContent = text;
      statusLine.className = `status-line${kind ? ` ${kind}` : ""}`;
    }

    function update() {
      refreshEstimate();
      renderEstimate();
      const est = estimate();
      const balance = session.me ? session.me.credits : null;
      clear(balanceLine, t("generate.balance", { n: fmtNumber(balance) }));
      if (est && balance !== null && balance < est.total) {
        balanceLine.append(" · ", h("strong.field-error-inline", t("generate.short")));
      }
      const uploading = assets.some((a) => !a.url && !a.error);
      busy = busy === "submitting" ? busy : uploading ? "uploading" : null;
      // "Ready" only when a submit would really go through; otherwise the first reason.
      const short = est && balance !== null && balance < est.total;
      const blocker = notReady(short);
      submitBtn.disabled = !models.length || Boolean(busy) || short;
      statusLine.dataset.reason = blocker ? blocker.reason : busy || (lastError ? "error" : "ready");
      if (busy === "uploading") setStatus(t("status.uploading"), "busy");
      else if (busy === "submitting") setStatus(t("status.submitting"), "busy");
      else if (lastError) setStatus(lastError, "error");
      else if (blocker) setStatus(blocker.text, blocker.kind);
      else setStatus(t("ready"), "ok");
    }

    function notReady(short) {
      const m = model();
      if (!models.length) return { reason: "no_models", text: t("generate.no_models"), kind: "error" };
      if (!m) return { reason: "no_model", text: t("generate.choose_model"), kind: "warn" };
      if (short) return { reason: "short", text: t("generate.short"), kind: "error" };
      const over = ["image", "video", "audio"].find((k) => assets.filter((a) => a.kind === k).length > m[`max_${k}s`]);
      if (over) return { reason: "too_many", text: t("generate.too_many", { kind: t(`kind.${over}`), n: m[`max_${over}s`] }), kind: "error" };
      if (assets.some((a) => a.error)) return { reason: "failed_upload", text: t("generate.remove_failed"), kind: "error" };
      if (!prompt.value.trim()) return { reason: "prompt", text: t("generate.prompt_required"), kind: "warn" };
      // Not "ready" before the server priced this form (it may find the balance short).
      if (!est || est.key !== estKey) return { reason: "pricing", text: t("generate.pricing"), kind: "busy" };
      return null;
    }

    function clearErrors() {
      lastError = null;
      formError.textContent = "";
      for (const f of Object.values(fields)) {
        f.classList.remove("has-error");
        const err = f.querySelector(".field-error");
        if (err) err.textContent = "";
      }
    }

    function showFieldError(param, message) {
      const key = /^(image|video|audio)_urls/.test(param || "") ? "assets" : FIELD_PARAMS.includes(param) ? param : null;
      if (!key) return false;
      const f = fields[key];
      f.classList.add("has-error");
      f.querySelector(".field-error").textContent = message;
      return true;
    }

    // ---- assets
    function labels() {
      const counts = { image: 0, video: 0, audio: 0 };
      return assets.map((a) => `@${KIND_TAG[a.kind]}${++counts[a.kind]}`);
    }

    function move(i, dir) {
      const kind = assets[i].kind;
      let j = i + dir;
      while (j >= 0 && j < assets.length && assets[j].kind !== kind) j += dir;
      if (j < 0 || j >= assets.length) return;
      [assets[i], assets[j]] = [assets[j], assets[i]];
      renderAssets();
    }

    function renderAssets() {
      const names = labels();
      const m = model();
      clear(
        assetGrid,
        assets.map((a, i) => {
          const preview =
            a.kind === "image"
              ? h("img", { src: a.preview, alt: a.name })
              : a.kind === "video"
                ? h("video", { src: a.preview, muted: true, preload: "metadata", "aria-label": a.name })
                : h("span.audio-icon", { "aria-hidden": "true" }, "♪");
          const bar = h("span.asset-progress");
          bar.style.width = `${Math.round((a.url ? 1 : a.progress || 0) * 100)}%`;
          return h(
            "div.asset",
            { class: a.error ? "failed" : "", dataset: { kind: a.kind, label: names[i] } },
            h("div.asset-preview", preview, a.url ? null : bar),
            h(
              "div.asset-body",
              h(
                "button.asset-label",
                {
                  type: "button",
                  title: t("generate.insert_label", { label: names[i] }),
                  "aria-label": t("generate.insert_label", { label: names[i] }),
                  onclick: () => insertAtCursor(prompt, names[i]),
                },
                names[i],
              ),
              h("span.asset-name", { title: a.name }, a.error ? a.error : a.url ? a.name : t("status.uploading")),
              h(
                "div.asset-tools",
                h("button", { type: "button", "aria-label": t("generate.move_left", { label: names[i] }), onclick: () => move(i, -1) }, "←"),
                h("button", { type: "button", "aria-label": t("generate.move_right", { label: names[i] }), onclick: () => move(i, 1) }, "→"),
                h(
                  "button",
                  {
                    type: "button",
                    "aria-label": t("generate.remove", { label: names[i] }),
                    onclick: () => {
                      URL.revokeObjectURL(a.preview);
                      assets.splice(i, 1);
                      syncType();
                      renderAssets();
                    },
                  },
                  "×",
                ),
              ),
            ),
          );
        }),
      );
      // Limits of the model, checked here too so the problem shows before submitting.
      const errEl = fields.assets.querySelector(".field-error");
      const over = m
        ? ["image", "video", "audio"].find((k) => assets.filter((a) => a.kind === k).length > m[`max_${k}s`])
        : null;
      if (over) {
        fields.assets.classList.add("has-error");
        errEl.textContent = t("generate.too_many", { kind: t(`kind.${over}`), n: m[`max_${over}s`] });
      } else if (!fields.assets.dataset.apiError) {
        fields.assets.classList.remove("has-error");
        errEl.textContent = "";
      }
      update();
    }

    function addFiles(files) {
      for (const file of files) {
        const kind = kindOf(file);
        if (!kind) {
          toast(t("generate.bad_type", { name: file.name }), "error");
          continue;
        }
        const a = { id: carry.nextAssetId++, kind, name: file.name, preview: URL.createObjectURL(file), url: null, progress: 0, error: null };
        assets.push(a);
        upload(file, (p) => {
          a.progress = p;
          const grid = document.getElementById("gen-assets");
          const el = grid && grid.querySelectorAll(".asset")[assets.indexOf(a)];
          const bar = el && el.querySelector(".asset-progress");
          if (bar) bar.style.width = `${Math.round(p * 100)}%`;
        })
          .then((res) => {
            a.url = res.url;
            // After a language switch the page showing this asset is a newer one.
            if (carry.renderAssets) carry.renderAssets();
          })
          .catch((e) => {
            a.error = e.message;
            if (!carry.renderAssets) return;
            toast(e.message, "error");
            carry.renderAssets();
          });
      }
      syncType();
      renderAssets();
    }

    dropzone.addEventListener("click", () => fileInput.click());
    dropzone.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        fileInput.click();
      }
    });
    fileInput.addEventListener("change", () => {
      addFiles([...fileInput.files]);
      fileInput.value = "";
    });
    for (const ev of ["dragenter", "dragover"]) {
      dropzone.addEventListener(ev, (e) => {
        e.preventDefault();
        dropzone.classList.add("drag");
      });
    }
    for (const ev of ["dragleave", "drop"]) {
      dropzone.addEventListener(ev, (e) => {
        e.preventDefault();
        dropzone.classList.remove("drag");
      });
    }
    dropzone.addEventListener("drop", (e) => addFiles([...(e.dataTransfer?.files || [])]));

    modelSel.addEventListener("change", applyModel);
    for (const el of [resSel, durSel, typeSel, ratioSel]) el.addEventListener("change", update);
    audioBox.addEventListener("change", () => {
      audioBox.dataset.touched = "1";
      update();
    });
    prompt.addEventListener("input", () => {
      update();
      if (fields.prompt.classList.contains("has-error")) {
        fields.prompt.classList.remove("has-error");
        fields.prompt.querySelector(".field-error").textContent = "";
      }
    });

    // ---- submit
    async function submit() {
      if (busy) return;
      clearErrors();
      delete fields.assets.dataset.apiError;
      const m = model();
      if (!prompt.value.trim()) {
        showFieldError("prompt", t("generate.prompt_required"));
        lastError = t("generate.check_fields");
        update();
        prompt.focus();
        return;
      }
      if (assets.some((a) => a.error)) {
        showFieldError("image_urls", t("generate.remove_failed"));
        lastError = t("generate.check_fields");
        update();
        return;
      }
      const body = requestBody(m, false);
      busy = "submitting";
      update();
      try {
        const res = await post("/console/api/generations", body);
        busy = null;
        toast(t("generate.created", { id: res.task_id }));
        const me = await get("/console/api/me").catch(() => null);
        if (me) showCredits(me.credits);
        update();
        await loadTasks();
      } catch (e) {
        busy = null;
        if (!showFieldError(e.param, e.message)) formError.textContent = e.message;
        if (/^(image|video|audio)_urls/.test(e.param || "")) fields.assets.dataset.apiError = "1";
        lastError = e.message;
        update();
      }
    }

    // ---- task table, refreshed at the tasks' own poll interval
    let tasks = [];
    let fetchedAt = Date.now();
    const rows = new Map();
    const known = new Map();

    function elapsedOf(task) {
      const done = task.status === "completed" || task.status === "failed";
      return done ? task.elapsed_ms : task.elapsed_ms + (Date.now() - fetchedAt);
    }

    function taskRow(task) {
      const video =
        task.status === "completed" && task.url
          ? h(
              "div",
              h("video.thumb", { src: `${task.url}#t=0.1`, controls: true, preload: "auto", playsinline: true, "data-testid": "task-video", "aria-label": t("video.of", { id: task.task_id }) }),
              h("a.cell-sub", { href: task.url, target: "_blank", rel: "noopener" }, t("video.open")),
            )
          : task.status === "failed"
            ? h("span.task-error", taskErrorText(task.error))
            : h("span.muted", "—");
      const row = h(
        "tr",
        { dataset: { task: task.task_id, status: task.status } },
        h("td", { "data-label": t("col.task") }, h("span.mono", { title: task.task_id }, shortId(task.task_id)), h("span.cell-sub", fmtTime(task.created_at_ms))),
        h("td", { "data-label": t("col.model") }, task.model_name),
        h("td", { "data-label": t("col.status") }, statusBadge(task.status)),
        h("td", { "data-label": t("col.video") }, video),
        h("td", { "data-label": t("col.credits") }, creditDetail(task)),
        h("td.elapsed", { "data-label": t("col.elapsed") }, fmtElapsed(elapsedOf(task))),
      );
      return row;
    }

    function renderTasks() {
      if (!tasks.length) {
        clear(tasksBody, h("div.table-wrap", h("table", head(), h("tbody", h("tr.empty-row", h("td", { colspan: 6 }, h("div.empty", t("generate.no_tasks"))))))));
        return;
      }
      let tbody = tasksBody.querySelector("tbody[data-live]");
      if (!tbody) {
        tbody = h("tbody", { "data-live": "1" });
        clear(tasksBody, h("div.table-wrap", h("table", head(), tbody)));
      }
      const ordered = tasks.map((task) => {
        const prev = rows.get(task.task_id);
        if (prev && prev.dataset.status === task.status) {
          prev.querySelector(".elapsed").textContent = fmtElapsed(elapsedOf(task));
          return prev;
        }
        const row = taskRow(task);
        rows.set(task.task_id, row);
        return row;
      });
      tbody.replaceChildren(...ordered);
    }

    function head() {
      return h("thead", h("tr", [t("col.task"), t("col.model"), t("col.status"), t("col.video"), t("col.credits"), t("col.elapsed")].map((c) => h("th", { scope: "col" }, c))));
    }

    let pollTimer = null;
    async function loadTasks() {
      clearTimeout(pollTimer);
      try {
        const page = await get("/console/api/tasks?limit=20");
        if (!alive) return;
        fetchedAt = Date.now();
        tasks = page.data;
        let finishedNow = false;
        for (const task of tasks) {
          const before = known.get(task.task_id);
          if (before && before !== task.status && (task.status === "failed" || task.status === "completed")) finishedNow = true;
          known.set(task.task_id, task.status);
        }
        renderTasks();
        if (finishedNow) {
          const me = await get("/console/api/me").catch(() => null);
          if (me) {
            showCredits(me.credits);
            update();
          }
        }
        const open = tasks.filter((x) => x.status === "pending" || x.status === "processing");
        const hint = document.getElementById("gen-poll-hint");
        if (open.length) {
          const secs = Math.max(1, Math.min(...open.map((x) => x.poll_interval_seconds || 5)));
          if (hint) hint.textContent = t("generate.polling", { n: secs });
          pollTimer = setTimeout(loadTasks, secs * 1000);
        } else if (hint) {
          hint.textContent = "";
        }
      } catch (e) {
        if (!alive) return;
        clear(tasksBody, errorBox(e, loadTasks));
      }
    }

    // Elapsed time of unfinished tasks ticks every second between polls.
    timers.push(
      setInterval(() => {
        for (const task of tasks) {
          if (task.status !== "pending" && task.status !== "processing") continue;
          const row = rows.get(task.task_id);
          if (row) row.querySelector(".elapsed").textContent = fmtElapsed(elapsedOf(task));
        }
      }, 1000),
    );

    carry.renderAssets = renderAssets;
    applyModel();
    await loadTasks();

    return ({ keep } = {}) => {
      alive = false;
      clearTimeout(pollTimer);
      timers.forEach(clearInterval);
      if (keep) return;
      carry.renderAssets = null;
      for (const a of assets) URL.revokeObjectURL(a.preview);
    };
  },
};
