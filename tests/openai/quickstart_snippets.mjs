// The console Quick start's "OpenAI SDK" examples, made by the page's own code for this
// server, key and a demo model, written out so run.sh runs them as a customer would copy them.
// Usage: node quickstart_snippets.mjs BASE KEY OUT_DIR → OUT_DIR/quickstart.py, ./.quickstart-snippet.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { examples } from "../../web/js/pages/quickstart.js";

const [base, key, out] = process.argv.slice(2);
const models = (await (await fetch(`${base}/v1/models`)).json()).data;
const m = models.find((x) => x.id === "video-2.0-mini-text-to-video");
const ex = examples(m, base, key);
fs.writeFileSync(path.join(out, "quickstart.py"), ex.openaiPy + "\n");
const here = path.dirname(fileURLToPath(import.meta.url));
fs.writeFileSync(path.join(here, ".quickstart-snippet.mjs"), ex.openaiJs + "\n");
