// The translation table: both languages have the same keys, and every key the console
// asks for exists in both, including the open families it builds from API codes (error
// codes from the code table, task statuses, ledger kinds and reasons, channel-test codes).
// Needs only node: no server, no browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const { TABLES, missingKeys } = await import(path.join(ROOT, "web/js/i18n.js"));
const LANGS = Object.keys(TABLES);

function jsFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? jsFiles(p) : p.endsWith(".js") ? [p] : [];
  });
}

const read = (rel) => fs.readFileSync(path.join(ROOT, rel), "utf8");

/** Asserts each key is in every language; returns nothing, fails listing all gaps. */
function assertKeys(keys, what) {
  const gaps = [];
  for (const key of keys) for (const l of LANGS) if (!(key in TABLES[l])) gaps.push(`${l}: ${key}`);
  assert.deepEqual(gaps, [], `${what}: missing translations`);
}

test("both languages have exactly the same keys", () => {
  assert.deepEqual(missingKeys(), []);
  assert.ok(Object.keys(TABLES.zh).length > 300);
});

test("a key defined twice in one language has the same text both times (merges add rows)", () => {
  const src = read("web/js/i18n.js");
  const blocks = { zh: src.slice(src.indexOf("const zh = {"), src.indexOf("const en = {")), en: src.slice(src.indexOf("const en = {"), src.indexOf("const DICTS")) };
  const clashes = [];
  for (const [l, block] of Object.entries(blocks)) {
    const seen = new Map();
    for (const m of block.matchAll(/^\s*"?([\w.]+)"?: ("(?:[^"\\]|\\.)*"),?$/gm)) {
      if (seen.has(m[1]) && seen.get(m[1]) !== m[2]) clashes.push(`${l}: ${m[1]}: ${seen.get(m[1])} vs ${m[2]}`);
      seen.set(m[1], m[2]);
    }
    assert.ok(seen.size > 300, `parsed ${seen.size} ${l} rows`);
  }
  assert.deepEqual(clashes, []);
});

test("no translation is empty and placeholders match across languages", () => {
  const bad = [];
  for (const [key, zh] of Object.entries(TABLES.zh)) {
    const en = TABLES.en[key];
    if (!zh || !en) bad.push(`${key}: empty`);
    const vars = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(",");
    if (vars(zh) !== vars(en)) bad.push(`${key}: {${vars(zh)}} vs {${vars(en)}}`);
  }
  assert.deepEqual(bad, []);
});

test("every literal key the console code asks for is in both languages", () => {
  const used = new Set();
  for (const file of jsFiles(path.join(ROOT, "web/js"))) {
    if (file.endsWith("i18n.js")) continue;
    const src = fs.readFileSync(file, "utf8");
    for (const m of src.matchAll(/\b(?:t|maybe)\(\s*(["'])([^"'`$]+)\1/g)) used.add(m[2]);
  }
  assert.ok(used.size > 200, `found ${used.size} keys in web/js`);
  assertKeys(used, "t('key') in web/js");
});

test("every route of the console has a navigation title", () => {
  const src = read("web/js/app.js");
  const paths = [...src.matchAll(/^\s*"(\/[\w/]+)": \{ page:/gm)].map((m) => m[1]);
  assert.ok(paths.length >= 10);
  assertKeys(paths.map((p) => `nav${p.replace(/\//g, ".")}`), "routes");
});

test("every error code of the server has a translation", () => {
  const codes = new Set();
  for (const rel of ["src/error.rs", "src/http/errors.rs"]) {
    const src = read(rel);
    for (const m of src.matchAll(/code\(\s*\d{3},\s*"\w+",\s*"(\w+)"\)/g)) codes.add(m[1]);
    for (const m of src.matchAll(/"[a-z_]+_error",\s*"([a-z_]+)"/g)) codes.add(m[1]);
  }
  for (const c of ["model_not_found", "invalid_field", "insufficient_credits", "not_found", "bad_request"]) {
    assert.ok(codes.has(c), `the code table parser found ${c}`);
  }
  assertKeys([...codes, "network_error", "http_error"].map((c) => `error.${c}`), "error codes");
});

test("task statuses, ledger kinds and reasons, channel-test codes are translated", () => {
  assertKeys(["pending", "processing", "completed", "failed"].map((s) => `task.status.${s}`), "statuses");
  const kinds = [...read("src/domain/ledger.rs").matchAll(/EntryKind::\w+ => "(\w+)"/g)].map((m) => m[1]);
  assert.ok(kinds.length >= 4);
  assertKeys(kinds.map((k) => `ledger.${k}`), "ledger kinds");
  const views = read("src/http/console/views.rs");
  const reasons = [...views.matchAll(/\(Some\("(\w+)"\), /g)].map((m) => m[1]);
  assert.deepEqual(reasons.sort(), ["code_redeemed", "payment_received", "signup_bonus", "starting_credits", "task_refunded", "task_reserved", "task_settled"]);
  assertKeys(reasons.map((r) => `ledger.reason.${r}`), "ledger reasons");
  const block = views.slice(views.indexOf("impl ConnectionTest"));
  const tests = new Set([...block.matchAll(/code: "(\w+)"\.into\(\)|failed\("(\w+)"/g)].map((m) => m[1] || m[2]));
  assert.ok(tests.size >= 8, [...tests].join());
  assertKeys([...tests].map((c) => `channel.test.${c}`), "channel-test codes");
});

test("task failure codes the engine writes are translated", () => {
  const src =
    read("src/engine/mod.rs") + read("src/service/tasks.rs") + read("src/providers/demo.rs") +
    // Its unit tests make up codes of their own.
    read("src/domain/task.rs").split("#[cfg(test)]")[0];
  const codes = new Set(
    [
      ...src.matchAll(
        /(?:self\.fail\(\s*&?[\w.]+,\s*|fail_and_refund\(txn, &?\w+, |fail\(\s*&mut t,\s*&mut effects,\s*|failed\(Some\(|code: )"([a-z_]+)"/g,
      ),
    ].map((m) => m[1]),
  );
  assert.ok(codes.has("deadline_exceeded") && codes.has("demo_failure"), [...codes].join());
  assertKeys([...codes].map((c) => `taskerr.${c}`), "task error codes");
});
