// 快速开始: the source document's API guide, filled with this server's base URL and a
// real model from the live catalog. Every example is the README's flow: upload an image,
// create a task with the returned URL, capture the task id, poll at
// poll_interval_seconds until it is completed or failed (no made-up ids, no placeholders).
import { t } from "../i18n.js";
import { h, clear, loading, errorBox, pageHeader, codeBlock, table, field } from "../ui.js";

const PLACEHOLDER_KEY = "vga_xxxxxxxxxxxxxxxxxxxxxxxx";
// Only in the example *responses*: commands use the id the create call returned.
const SAMPLE_TASK = "vidgen_1783003830450_081f0558";
// Stands for the uploaded image's URL in the body until each language fills it in.
const IMAGE_SLOT = "__IMAGE_URL__";

/** The request body of the document's example, adapted to what `m` accepts. */
export function exampleBody(m, base, imageUrl = `${base}/uploads/.../image.png`) {
  const type = m.types.includes("image-to-video") ? "image-to-video" : m.types[0];
  const withImage = type !== "text-to-video" && m.max_images > 0;
  const body = {
    model: m.id,
    type,
    prompt: withImage ? "让 @Image1 中的人物自然转身,镜头缓慢推进,光影真实" : "一只小猫在窗台上晒太阳,镜头缓慢推进,光影真实",
    image_urls: withImage ? [imageUrl] : [],
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

const PY_FIELD = (path) => `python3 -c 'import json, sys; print(json.load(sys.stdin)${path})'`;

export function examples(m, base, key) {
  const body = exampleBody(m, base, IMAGE_SLOT);
  const withImage = body.image_urls.length > 0;
  const short = { ...body };
  delete short.video_urls;
  delete short.audio_urls;
  delete short.end_user_id;
  if (!withImage) delete short.image_urls;
  const slot = `"${IMAGE_SLOT}"`;
  const jsonBody = JSON.stringify(body, null, 2).replace(slot, `"'"$IMAGE_URL"'"`);
  const jsBody = JSON.stringify(short, null, 2).replace(/"(\w+)":/g, "$1:").replace(slot, "imageUrl");
  const pyBody = JSON.stringify(short, null, 4).replace(/: true/g, ": True").replace(/: false/g, ": False").replace(slot, "image_url");
  const upload =
    `IMAGE_URL=$(curl -s -X POST "${base}/api/upload" \\\n  -H "Authorization: Bearer ${key}" \\\n  -F "files=@image.png" | ${PY_FIELD('["data"][0]["url"]')})\n` +
    `echo "$IMAGE_URL"`;
  const create =
    `TASK=$(curl -s -X POST "${base}/v1/video/generations" \\\n  -H "Authorization: Bearer ${key}" \\\n  -H "Content-Type: application/json" \\\n  -d '${jsonBody}')\n` +
    `echo "$TASK"\n` +
    `TASK_ID=$(echo "$TASK" | ${PY_FIELD('["task_id"]')})\n` +
    `POLL=$(echo "$TASK" | ${PY_FIELD('["poll_interval_seconds"]')})`;
  const get =
    `for i in $(seq 120); do\n  sleep "$POLL"\n` +
    `  RESULT=$(curl -s "${base}/v1/video/generations/$TASK_ID" \\\n    -H "Authorization: Bearer ${key}")\n` +
    `  STATUS=$(echo "$RESULT" | ${PY_FIELD('["status"]')})\n  echo "$STATUS"\n` +
    `  if [ "$STATUS" = completed ] || [ "$STATUS" = failed ]; then break; fi\ndone\necho "$RESULT"`;
  const jsUpload = withImage
    ? `// 1. Upload ./image.png; its URL is @Image1 in the prompt.\n` +
      `const form = new FormData();\n` +
      `form.append("files", new Blob([await readFile("image.png")], { type: "image/png" }), "image.png");\n` +
      `const uploaded = await (await fetch(\`\${VIDEOAPI_BASE}/api/upload\`, { method: "POST", headers: auth, body: form })).json();\n` +
      `const imageUrl = uploaded.data[0].url;\n\n`
    : "";
  const pyUpload = withImage
    ? `# 1. Upload ./image.png; its URL is @Image1 in the prompt.\n` +
      `with open("image.png", "rb") as f:\n    uploaded = requests.post(\n        f"{VIDEOAPI_BASE}/api/upload",\n        headers=headers,\n        files={"files": ("image.png", f, "image/png")},\n        timeout=60,\n    ).json()\n` +
      `image_url = uploaded["data"][0]["url"]\n\n`
    : "";
  return {
    header: `Authorization: Bearer ${key}`,
    models: `curl "${base}/v1/models"`,
    upload,
    uploadResponse: JSON.stringify(
      { data: [{ filename: "image.png", content_type: "image/png", size: 123456, key: "uploads/...", url: `${base}/uploads/.../image.png` }] },
      null,
      2,
    ),
    create,
    // Everything in one block, for a shell in the directory that holds image.png.
    flow: [withImage ? upload : "", create, get].filter(Boolean).join("\n"),
    js:
      (withImage ? `import { readFile } from "node:fs/promises";\n\n` : "") +
      `const VIDEOAPI_BASE = "${base}";\nconst VIDEOAPI_KEY = "${key}";\nconst auth = { Authorization: \`Bearer \${VIDEOAPI_KEY}\` };\n\n` +
      jsUpload +
      `// ${withImage ? "2" : "1"}. Create the task.\n` +
      `const response = await fetch(\`\${VIDEOAPI_BASE}/v1/video/generations\`, {\n  method: "POST",\n  headers: { ...auth, "Content-Type": "application/json" },\n  body: JSON.stringify(${indent(jsBody, 2)})\n});\nconst task = await response.json();\nconsole.log(task);\n\n` +
      `// ${withImage ? "3" : "2"}. Poll every poll_interval_seconds until completed or failed.\n` +
      `let result;\ndo {\n  await new Promise((resolve) => setTimeout(resolve, task.poll_interval_seconds * 1000));\n` +
      `  result = await (await fetch(\`\${VIDEOAPI_BASE}/v1/video/generations/\${task.task_id}\`, { headers: auth })).json();\n` +
      `} while (result.status === "pending" || result.status === "processing");\nconsole.log(result.status, result.url ?? result.error);`,
    python:
      `import time\n\nimport requests\n\nVIDEOAPI_BASE = "${base}"\nVIDEOAPI_KEY = "${key}"\nheaders = {"Authorization": f"Bearer {VIDEOAPI_KEY}"}\n\n` +
      pyUpload +
      `# ${withImage ? "2" : "1"}. Create the task.\n` +
      `response = requests.post(\n    f"{VIDEOAPI_BASE}/v1/video/generations",\n    headers=headers,\n    json=${indent(pyBody, 4)},\n    timeout=30,\n)\ntask = response.json()\nprint(task)\n\n` +
      `# ${withImage ? "3" : "2"}. Poll every poll_interval_seconds until completed or failed.\n` +
      `while True:\n    time.sleep(task["poll_interval_seconds"])\n    result = requests.get(\n        f"{VIDEOAPI_BASE}/v1/video/generations/{task['task_id']}",\n        headers=headers,\n        timeout=30,\n    ).json()\n    if result["status"] in ("completed", "failed"):\n        break\nprint(result["status"], result.get("url") or result.get("error"))`,
    createResponse: JSON.stringify({ task_id: SAMPLE_TASK, status: "pending", poll_interval_seconds: m.poll_interval_seconds }, null, 2),
    get,
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
          "section.card#qs-flow",
          h("h2", t("qs.flow")),
          h("p", t("qs.flow_text")),
          code("qs-flow-script", ex.flow, "shell"),
        ),
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
          h("p.hint", t("qs.flow_hint")),
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
