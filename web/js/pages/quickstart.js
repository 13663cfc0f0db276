// 快速开始: the source document's API guide, filled with this server's base URL and a
// real model from the live catalog, so every example runs as shown.
import { t } from "../i18n.js";
import { h, clear, loading, errorBox, pageHeader, codeBlock, table, field } from "../ui.js";

const PLACEHOLDER_KEY = "vga_xxxxxxxxxxxxxxxxxxxxxxxx";
const SAMPLE_TASK = "vidgen_1783003830450_081f0558";

/** The request body of the document's example, adapted to what `m` accepts. */
export function exampleBody(m, base) {
  const type = m.types.includes("image-to-video") ? "image-to-video" : m.types[0];
  const withImage = type !== "text-to-video" && m.max_images > 0;
  const body = {
    model: m.id,
    type,
    prompt: withImage ? "让 @Image1 中的人物自然转身,镜头缓慢推进,光影真实" : "一只小猫在窗台上晒太阳,镜头缓慢推进,光影真实",
    // The source document's placeholder: a URL under this server's own /uploads/ that
    // names no file is refused (422 upload_not_found), so the example must not invent one.
    image_urls: withImage ? ["https://your-domain.com/uploads/reference.png"] : [],
    video_urls: [],
    audio_urls: [],
    resolution: m.resolutions.includes("720p") ? "720p" : m.resolutions[0],
    duration: "auto",
    aspect_ratio: m.aspect_ratios.includes("9:16") ? "9:16" : m.aspect_ratios[0],
    generate_audio: Boolean(m.supports_audio),
    end_user_id: "customer_001",
  };
  return body;
}

function price(m, body) {
  const unit = m.billing.resolution_credits?.[body.resolution] ?? m.billing.credits;
  return m.billing.mode === "per_second" ? unit * m.default_duration : unit;
}

function indent(json, spaces) {
  return json.replace(/\n/g, `\n${" ".repeat(spaces)}`);
}

export function examples(m, base, key) {
  const body = exampleBody(m, base);
  const short = { ...body };
  delete short.video_urls;
  delete short.audio_urls;
  delete short.end_user_id;
  if (!short.image_urls.length) delete short.image_urls;
  const jsonBody = JSON.stringify(body, null, 2);
  const jsBody = JSON.stringify(short, null, 2).replace(/"(\w+)":/g, "$1:");
  const pyBody = JSON.stringify(short, null, 4).replace(/: true/g, ": True").replace(/: false/g, ": False");
  return {
    header: `Authorization: Bearer ${key}`,
    models: `curl "${base}/v1/models"`,
    upload: `curl -X POST "${base}/api/upload" \\\n  -H "Authorization: Bearer ${key}" \\\n  -F "files=@/path/to/image.png" \\\n  -F "files=@/path/to/audio.mp3"`,
    uploadResponse: JSON.stringify(
      { data: [{ filename: "image.png", content_type: "image/png", size: 123456, key: "uploads/...", url: `${base}/uploads/.../image.png` }] },
      null,
      2,
    ),
    create: `curl -X POST "${base}/v1/video/generations" \\\n  -H "Authorization: Bearer ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '${jsonBody}'`,
    js:
      `const VIDEOAPI_BASE = "${base}";\nconst VIDEOAPI_KEY = "${key}";\n\n` +
      `const response = await fetch(\`\${VIDEOAPI_BASE}/v1/video/generations\`, {\n  method: "POST",\n  headers: {\n    "Authorization": \`Bearer \${VIDEOAPI_KEY}\`,\n    "Content-Type": "application/json"\n  },\n  body: JSON.stringify(${indent(jsBody, 2)})\n});\nconst task = await response.json();\nconsole.log(task);`,
    python:
      `import requests\n\nVIDEOAPI_BASE = "${base}"\nVIDEOAPI_KEY = "${key}"\n\n` +
      `response = requests.post(\n    f"{VIDEOAPI_BASE}/v1/video/generations",\n    headers={\n        "Authorization": f"Bearer {VIDEOAPI_KEY}",\n        "Content-Type": "application/json",\n    },\n    json=${indent(pyBody, 4)},\n    timeout=30,\n)\ntask = response.json()\nprint(task)`,
    createResponse: JSON.stringify({ task_id: SAMPLE_TASK, status: "pending", poll_interval_seconds: m.poll_interval_seconds }, null, 2),
    get: `curl "${base}/v1/video/generations/${SAMPLE_TASK}" \\\n  -H "Authorization: Bearer ${key}"`,
    openaiPy:
      `from openai import OpenAI\n\nclient = OpenAI(base_url="${base}/v1", api_key="${key}")\n` +
      `video = client.videos.create_and_poll(\n    model="${m.id}",\n    prompt="A paper boat drifts across a calm lake at dawn",\n    seconds="${m.default_duration}",\n)\n` +
      `print(video.status, video.id)\nif video.status == "completed":\n    client.videos.download_content(video.id).write_to_file("video.mp4")`,
    openaiJs:
      `import fs from "node:fs";\nimport OpenAI from "openai";\n\nconst client = new OpenAI({ baseURL: "${base}/v1", apiKey: "${key}" });\n` +
      `let video = await client.videos.create({\n  model: "${m.id}",\n  prompt: "A paper boat drifts across a calm lake at dawn",\n  seconds: "${m.default_duration}",\n});\n` +
      `while (video.status === "queued" || video.status === "in_progress") {\n  await new Promise((resolve) => setTimeout(resolve, 2000));\n  video = await client.videos.retrieve(video.id);\n}\nconsole.log(video.status, video.id);\n` +
      `if (video.status === "completed") {\n  const content = await client.videos.downloadContent(video.id);\n  fs.writeFileSync("video.mp4", Buffer.from(await content.arrayBuffer()));\n}`,
    done: JSON.stringify(
      {
        task_id: SAMPLE_TASK,
        status: "completed",
        url: `${base}/videos/${SAMPLE_TASK}_0.mp4`,
        format: "mp4",
        generated: [`${base}/videos/${SAMPLE_TASK}_0.mp4`],
        outputs: [],
        metadata: { credits_reserved: price(m, body), public_model: m.id, asset_reference_style: "@Image1/@Video1/@Audio1" },
        credits_reserved: price(m, body),
        credits_refunded: false,
        error: null,
        videos: [`${base}/videos/${SAMPLE_TASK}_0.mp4`],
      },
      null,
      2,
    ),
  };
}

function endpoint(method, path) {
  return h("div.endpoint", h("span.method", { class: method === "POST" ? "post" : "" }, method), h("code", path));
}

export default {
  async render(main) {
    const base = location.origin;
    clear(main, pageHeader(t("nav.quickstart"), t("qs.subtitle")), loading());
    let models;
    try {
      const r = await fetch("/v1/models");
      if (!r.ok) throw new Error(t("error.http", { status: r.status }));
      models = (await r.json()).data;
    } catch (e) {
      clear(main, pageHeader(t("nav.quickstart"), t("qs.subtitle")), errorBox(e, () => this.render(main)));
      return;
    }
    const modelSel = h("select#qs-model", models.map((m) => h("option", { value: m.id }, m.id)));
    const preferred = models.find((m) => m.types.includes("image-to-video")) || models[0];
    if (preferred) modelSel.value = preferred.id;
    const keyInput = h("input#qs-key", { type: "text", autocomplete: "off", spellcheck: "false", placeholder: PLACEHOLDER_KEY });
    const docs = h("div#qs-docs");

    const render = () => {
      const m = models.find((x) => x.id === modelSel.value);
      if (!m) {
        clear(docs, h("div.alert.alert-warn", t("models.empty")));
        return;
      }
      const key = keyInput.value.trim() || PLACEHOLDER_KEY;
      const ex = examples(m, base, key);
      const code = (id, text, title) => {
        const block = codeBlock(text, title);
        block.dataset.testid = id;
        return block;
      };
      clear(
        docs,
        h(
          "section.card#qs-auth",
          h("h2", t("qs.auth")),
          h("p", t("qs.auth_text")),
          h("p", t("qs.auth_where")),
          code("qs-header", ex.header, "HTTP Header"),
        ),
        h(
          "section.card#qs-models",
          h("h2", t("nav.models")),
          h("p", t("qs.models_text")),
          endpoint("GET", "/v1/models"),
          code("qs-curl-models", ex.models, "curl"),
        ),
        h(
          "section.card#qs-upload",
          h("h2", t("qs.upload")),
          h("p", t("qs.upload_text")),
          endpoint("POST", "/api/upload"),
          code("qs-curl-upload", ex.upload, "curl"),
          h("h3", t("qs.response")),
          code("qs-upload-response", ex.uploadResponse, "JSON"),
        ),
        h(
          "section.card#qs-create",
          h("h2", t("qs.create")),
          h("p", t("qs.create_text")),
          endpoint("POST", "/v1/video/generations"),
          code("qs-curl-create", ex.create, "curl"),
          code("qs-js-create", ex.js, "JavaScript"),
          code("qs-py-create", ex.python, "Python"),
          h("p.hint", t("qs.replace_image")),
          h("h3", t("qs.response")),
          code("qs-create-response", ex.createResponse, "JSON"),
        ),
        h(
          "section.card#qs-get",
          h("h2", t("qs.get")),
          h("p", t("qs.get_text")),
          endpoint("GET", "/v1/video/generations/{task_id}"),
          code("qs-curl-get", ex.get, "curl"),
          h("h3", t("qs.done")),
          code("qs-done-response", ex.done, "JSON"),
        ),
        h(
          "section.card#qs-openai",
          h("h2", t("qs.openai")),
          h("p", t("qs.openai_text")),
          endpoint("POST", "/v1/videos"),
          code("qs-openai-py", ex.openaiPy, "Python · OpenAI SDK"),
          code("qs-openai-js", ex.openaiJs, "JavaScript · OpenAI SDK"),
        ),
        h(
          "section.card#qs-fields",
          h("h2", t("qs.fields")),
          h("p", t("qs.fields_text")),
          table(
            [t("qs.col.field"), t("qs.col.type"), t("qs.col.required"), t("qs.col.desc")],
            [
              ["model", "string", t("yes"), t("qs.f.model", { id: m.id })],
              ["prompt", "string", t("yes"), t("qs.f.prompt")],
              ["image_urls", "string[]", t("no"), t("qs.f.image_urls")],
              ["video_urls", "string[]", t("no"), t("qs.f.video_urls")],
              ["audio_urls", "string[]", t("no"), t("qs.f.audio_urls")],
              ["resolution", "string", t("no"), t("qs.f.resolution")],
              ["duration", "string | number", t("no"), t("qs.f.duration")],
              ["aspect_ratio", "string", t("no"), t("qs.f.aspect_ratio")],
              ["generate_audio", "boolean", t("no"), t("qs.f.generate_audio")],
              ["end_user_id", "string", t("no"), t("qs.f.end_user_id")],
            ].map(([f, ty, req, desc]) => [h("code", f), ty, req, desc]),
          ),
        ),
        h(
          "section.card#qs-status",
          h("h2", t("qs.status")),
          h("p", t("qs.status_text")),
          h(
            "div.status-list",
            ["pending", "processing", "completed", "failed"].map((s) =>
              h("div", h("span.badge", { class: `status-${s}` }, s), h("span", t(`qs.s.${s}`))),
            ),
          ),
          table(
            [t("qs.col.http"), t("qs.col.reason")],
            ["400", "401", "402", "413", "422"].map((c) => [h("code", c), t(`qs.e.${c}`)]),
          ),
        ),
      );
    };

    clear(
      main,
      pageHeader(t("nav.quickstart"), t("qs.subtitle")),
      h(
        "section.card#qs-intro",
        h(
          "div.qs-grid",
          h("div.qs-item", h("div.qs-title", "Base URL"), h("div.hint", t("qs.base_hint")), h("div.mono#qs-base", base)),
          h("div.qs-item", h("div.qs-title", t("qs.auth_header")), h("div.mono", "Authorization: Bearer vga_xxx")),
          h(
            "div.qs-item",
            h("div.qs-title", t("qs.public_ids")),
            h("div.mono#qs-model-ids", models.map((m) => h("div", m.id))),
          ),
        ),
        h("p.ref-help", t("qs.ref_text")),
        h("p.ref-help", t("qs.adapt_text")),
        h(
          "div.form-grid",
          field(t("qs.example_model"), modelSel),
          field(t("qs.your_key"), keyInput, { hint: t("qs.key_hint") }),
        ),
      ),
      docs,
    );
    modelSel.addEventListener("change", render);
    keyInput.addEventListener("input", render);
    render();
  },
};
