// One language at a time: every check here runs in Chinese and in English, in a browser
// whose own locale (de-DE) is neither, so anything that follows the browser shows up.
// Its users are its own; the server is the one run.sh started (E2E_BASE).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { BASE, DOT_PNG_B64, WORK, api, estimateReady, login, loginAdmin, operatorApi, useBrowser, waitForTask } from "./common.mjs";

const PASSWORD = "lang-password-1";
const LANGS = ["zh", "en"];
// Users of this file are new on every run (the file can run again against the same server).
const RUN = Date.now().toString(36).slice(-5);
const rich = (l) => `rich-${l}-${RUN}`;
const poor = (l) => `poor-${l}-${RUN}`;

const { freshPage } = useBrowser("lang", { locale: "de-DE", timezoneId: "UTC" });

before(async () => {
  // Users of this file: one rich (12 345 credits), one poor (50), one per language.
  const admin = await operatorApi();
  for (const l of LANGS) {
    await admin("POST", "/console/api/admin/users", { username: rich(l), password: PASSWORD, credits: 12345 });
    await admin("POST", "/console/api/admin/users", { username: poor(l), password: PASSWORD, credits: 50 });
  }
});

const text = async (page, sel) => (await page.textContent(sel)).trim();

for (const l of LANGS) {
  const zh = l === "zh";

  test(`[${l}] errors come from their code in the UI language, with the field named`, async () => {
    const page = await freshPage(l);
    await page.fill("#login-username", rich(l));
    await page.fill("#login-password", "wrong-password");
    await page.click("#login-submit");
    const err = page.locator("#login-error:not(:empty)");
    await err.waitFor();
    assert.equal((await err.textContent()).trim(), zh ? "用户名或密码错误" : "Wrong username or password");

    await login(page, rich(l), PASSWORD);
    await page.goto(`${BASE}/#/generate`);
    await page.waitForSelector("#gen-prompt");
    await page.selectOption("#gen-model", "video-2.0-mini-text-to-video");
    await page.fill("#gen-prompt", "@Image3 walks along the beach");
    await page.click("#gen-submit");
    await page.waitForSelector('[data-field="prompt"].has-error');
    const msg = await text(page, '[data-field="prompt"] .field-error');
    assert.equal(msg, zh ? "提示词引用了不存在的素材 @Image3" : "The prompt references @Image3, which was not given");
    // A field error the server words in English: the code is translated, the field named.
    const shown = await page.evaluate(async () => {
      const { ApiError } = await import("/js/api.js");
      const e = new ApiError(422, { error: { code: "invalid_field", param: "duration", message: "duration must be one of 5, 10" } });
      const unknown = new ApiError(409, { error: { code: "some_new_code", message: "an English fallback" } });
      const typo = new ApiError(422, { error: { code: "unknown_field", param: "resolutoin", message: 'unknown field "resolutoin" — did you mean "resolution"?' } });
      return [e.message, unknown.message, typo.message];
    });
    assert.deepEqual(shown, [
      zh ? "「时长」的值不合法" : "Invalid value for Duration",
      "an English fallback",
      zh ? "未知字段 resolutoin，是否想写 resolution？" : "Unknown field resolutoin: did you mean resolution?",
    ]);
    await page.close();
  });

  test(`[${l}] ready only when the form can be submitted, else the reason`, async () => {
    const page = await freshPage(l);
    await login(page, poor(l), PASSWORD);
    await page.goto(`${BASE}/#/generate`);
    await page.waitForSelector("#gen-status");
    // 50 credits, the cheapest estimate is 100: never ready, whatever is typed.
    await page.selectOption("#gen-model", "video-2.0-mini-text-to-video");
    await page.fill("#gen-prompt", "a lighthouse at dusk");
    // The price comes from the server; until it is known the page does not say ready.
    await estimateReady(page);
    assert.equal(await text(page, "#gen-status"), zh ? "积分不足" : "Insufficient credits");
    assert.ok(await page.isDisabled("#gen-submit"));
    assert.ok(!(await page.textContent("aside")).includes(zh ? "就绪" : "Ready"), "no ready beside insufficient credits");
    await page.close();

    const full = await freshPage(l);
    await login(full, rich(l), PASSWORD);
    await full.goto(`${BASE}/#/generate`);
    await full.waitForSelector("#gen-status");
    assert.equal(await text(full, "#gen-status"), zh ? "请填写提示词" : "Enter a prompt");
    assert.equal(await full.getAttribute("#gen-status", "data-reason"), "prompt");
    await full.fill("#gen-prompt", "a lighthouse at dusk");
    await estimateReady(full);
    assert.equal(await text(full, "#gen-status"), zh ? "就绪" : "Ready");
    await full.fill("#gen-prompt", "   ");
    assert.equal(await text(full, "#gen-status"), zh ? "请填写提示词" : "Enter a prompt");
    await full.close();
  });

  test(`[${l}] a failed task: translated badge and error, UI-locale dates and numbers, ledger reasons, operator notes as typed`, async () => {
    const page = await freshPage(l);
    await login(page, rich(l), PASSWORD);
    // Created through the console API and awaited there (the page itself would only look
    // again at the model's poll interval).
    const created = (await api(page, "POST", "/console/api/generations", { model: "video-2.0-mini-text-to-video", prompt: "a storm demo:fail" })).body;
    assert.match(created.task_id || "", /^vidgen_/, JSON.stringify(created));
    // The demo task fails within 30 s.
    await waitForTask(page, created.task_id, "failed", 30_000);
    await page.goto(`${BASE}/#/generate`);
    const row = '#gen-tasks tr[data-status="failed"]';
    await page.waitForSelector(row);
    assert.equal(await text(page, `${row} .badge`), zh ? "失败" : "Failed");
    assert.equal(
      await text(page, `${row} .task-error`),
      zh ? "演示渠道按提示词中的 demo:fail 模拟失败，积分已返还" : "The demo channel failed on purpose (demo:fail in the prompt); credits were refunded",
    );
    await page.goto(`${BASE}/#/overview`);
    await page.waitForSelector("#stat-latest .badge");
    assert.equal(await text(page, "#stat-latest .badge"), zh ? "失败" : "Failed");
    // Dates and numbers in the UI language, not the browser's (de-DE): "12,345", never
    // "12.345"; "2026/12/1 15:04:05" or "12/1/26, 3:04:05 PM", never "01.12.26, 15:04:05".
    assert.match(await text(page, "#header-credits"), /^12,\d{3}$/);
    assert.match(await text(page, "#stat-credits"), /^12,\d{3}$/);
    const when = await text(page, "main tbody .cell-sub");
    if (zh) assert.match(when, /^\d{4}\/\d{1,2}\/\d{1,2} \d{2}:\d{2}:\d{2}$/, when);
    else assert.match(when, /^\d{1,2}\/\d{1,2}\/\d{2}, \d{1,2}:\d{2}:\d{2}\s[AP]M$/, when);
    await page.goto(`${BASE}/#/keys`);
    await page.fill("#key-name", "lang");
    await page.click("#key-create");
    await page.waitForSelector("td .badge-ok");
    assert.equal(await text(page, "td .badge-ok"), zh ? "正常" : "Active");
    await page.close();

    // The operator's ledger: system entries by reason code, the operator's note verbatim.
    const admin = await operatorApi();
    const users = await admin("GET", `/console/api/admin/users?q=${rich(l)}`);
    await admin("POST", `/console/api/admin/users/${users[0].id}/credits`, { amount: 5, note: "goodwill 补偿 #42" });
    const ops = await freshPage(l);
    await loginAdmin(ops);
    await ops.goto(`${BASE}/#/admin/ledger?user=${rich(l)}`);
    await ops.waitForSelector("td:has-text('goodwill')");
    const notes = await ops.$$eval("main tbody tr", (rows) => rows.map((r) => r.lastElementChild.textContent.trim()));
    assert.deepEqual(
      notes,
      zh
        ? ["goodwill 补偿 #42", "任务失败返还：演示渠道按提示词中的 demo:fail 模拟失败，积分已返还", "任务预扣", "初始积分"]
        : [
            "goodwill 补偿 #42",
            "Refund for a failed task: The demo channel failed on purpose (demo:fail in the prompt); credits were refunded",
            "Reserved for a task",
            "Starting credits",
          ],
    );
    const kinds = await ops.$$eval("main tbody tr td:nth-child(3)", (cells) => cells.map((c) => c.textContent.trim()));
    assert.deepEqual(kinds, zh ? ["充值", "返还", "预扣", "充值"] : ["Top-up", "Refund", "Reserve", "Top-up"]);
    // The status filter of all tasks speaks the language too.
    await ops.goto(`${BASE}/#/admin/tasks`);
    const options = await ops.$$eval("#tasks-status option", (os) => os.map((o) => o.textContent));
    assert.deepEqual(options.slice(1), zh ? ["排队中", "生成中", "已完成", "失败"] : ["Pending", "Processing", "Completed", "Failed"]);
    // A channel test answers with a code the console renders in the UI language.
    const shown = await ops.evaluate(async () => {
      const r = await fetch("/console/api/admin/providers/demo/test", { method: "POST", headers: { "X-Requested-With": "videoapi", "Content-Type": "application/json" }, body: "{}" });
      const body = await r.json();
      const { channelTestText } = await import("/js/ui.js");
      return [body.code, channelTestText(body), channelTestText({ code: "refused", detail: "401: bad key", message: "x" })];
    });
    assert.deepEqual(
      shown,
      zh ? ["ok", "连接正常", "渠道拒绝了凭据或账户 (401: bad key)"] : ["ok", "Connection works", "The channel refused the credentials or account (401: bad key)"],
    );
    await ops.close();
  });

  test(`[${l}] switching language keeps the typed prompt, chosen options, assets and pasted key`, async () => {
    const page = await freshPage(l);
    await login(page, rich(l), PASSWORD);
    await page.goto(`${BASE}/#/generate`);
    await page.waitForSelector("#gen-prompt");
    const img = path.join(WORK, `dot-${l}.png`);
    fs.writeFileSync(img, Buffer.from(DOT_PNG_B64, "base64"));
    await page.setInputFiles("#gen-files", [img]);
    await page.waitForFunction(() => document.querySelector("#gen-assets .asset-name")?.textContent.endsWith(".png"));
    await page.fill("#gen-prompt", "让 @Image1 慢慢转身");
    await page.selectOption("#gen-resolution", "480p");
    await page.selectOption("#gen-duration", "10");
    // The estimate comes from the server: wait for the answer for this form.
    await estimateReady(page);
    const before = {
      model: await page.inputValue("#gen-model"),
      type: await page.inputValue("#gen-type"),
      estimate: await text(page, "#gen-estimate"),
    };
    await page.click("#lang-switch");
    await page.waitForSelector(`html[lang="${zh ? "en" : "zh-CN"}"] main:not([aria-busy])`);
    await page.waitForSelector("#gen-prompt");
    assert.equal(await page.inputValue("#gen-prompt"), "让 @Image1 慢慢转身");
    assert.equal(await page.inputValue("#gen-model"), before.model);
    assert.equal(await page.inputValue("#gen-type"), before.type);
    assert.equal(await page.inputValue("#gen-resolution"), "480p");
    assert.equal(await page.inputValue("#gen-duration"), "10");
    assert.deepEqual(await page.$$eval("#gen-assets .asset-label", (e) => e.map((x) => x.textContent)), ["@Image1"]);
    await estimateReady(page);
    assert.equal(await text(page, "#gen-status"), zh ? "Ready" : "就绪");
    assert.equal((await text(page, "#gen-estimate")).replace(/\D/g, ""), before.estimate.replace(/\D/g, ""));
    // The asset is still submitted with its URL after the switch.
    await page.click("#gen-submit");
    await page.waitForSelector("#gen-tasks tbody tr[data-task]");
    await page.click("#lang-switch");
    await page.waitForSelector(`html[lang="${zh ? "zh-CN" : "en"}"] main:not([aria-busy])`);

    await page.goto(`${BASE}/#/quickstart`);
    await page.waitForSelector("#qs-key");
    await page.fill("#qs-key", "vga_pastedkeyforthelanguagetest0");
    await page.click("#lang-switch");
    await page.waitForSelector(`html[lang="${zh ? "en" : "zh-CN"}"] main:not([aria-busy])`);
    await page.waitForSelector("#qs-key");
    assert.equal(await page.inputValue("#qs-key"), "vga_pastedkeyforthelanguagetest0");
    assert.ok((await page.textContent("main")).includes("Bearer vga_pastedkeyforthelanguagetest0"), "the examples use the key");
    await page.close();
  });

  test(`[${l}] no focus ring on main after login and reload`, async () => {
    const page = await freshPage(l);
    await login(page, rich(l), PASSWORD);
    for (const step of ["login", "reload"]) {
      if (step === "reload") await page.reload();
      await page.waitForSelector("main h1");
      await page.waitForFunction(() => document.activeElement === document.getElementById("main"));
      const ring = await page.evaluate(() => {
        const s = getComputedStyle(document.getElementById("main"));
        return { style: s.outlineStyle, width: s.outlineWidth, visible: document.getElementById("main").matches(":focus-visible") };
      });
      assert.ok(ring.style === "none" || ring.width === "0px", `${step}: ${JSON.stringify(ring)}`);
    }
    // Keyboard focus elsewhere still shows its ring.
    await page.keyboard.press("Tab");
    const other = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(other, "none");

    // A click on the language switch leaves no ring anywhere; from the keyboard, focus
    // stays on the switch.
    const other_lang = zh ? "en" : "zh-CN";
    await page.click("#lang-switch");
    await page.waitForSelector(`html[lang="${other_lang}"] main:not([aria-busy])`);
    const after = await page.evaluate(() => ({ id: document.activeElement.id, style: getComputedStyle(document.activeElement).outlineStyle }));
    assert.deepEqual(after, { id: "main", style: "none" });
    for (let i = 0; i < 40 && (await page.evaluate(() => document.activeElement.id)) !== "lang-switch"; i++) await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.waitForSelector(`html[lang="${zh ? "zh-CN" : "en"}"] main:not([aria-busy])`);
    assert.equal(await page.evaluate(() => document.activeElement.id), "lang-switch");
    await page.close();
  });
}

test("[en] no page of the console shows Chinese (the data aside)", async () => {
  const page = await freshPage("en");
  await loginAdmin(page);
  const found = [];
  for (const p of ["overview", "generate", "keys", "models", "quickstart", "password", "admin/users", "admin/groups", "admin/tasks"]) {
    await page.goto(`${BASE}/#/${p}`);
    await page.waitForSelector("main h1");
    await page.waitForFunction(() => !document.querySelector("main .loading"));
    const texts = await page.evaluate(() => {
      const out = [];
      const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement;
        if (el.closest("pre, code, textarea, .skip-link, #lang-switch") || !el.checkVisibility()) continue;
        if (/[\u4e00-\u9fff]/.test(n.textContent)) out.push(n.textContent.trim());
      }
      for (const el of document.querySelectorAll("[placeholder], [aria-label], [title]")) {
        for (const a of ["placeholder", "aria-label", "title"]) {
          const v = el.getAttribute(a);
          if (v && /[\u4e00-\u9fff]/.test(v)) out.push(`${a}=${v}`);
        }
      }
      return out;
    });
    for (const x of texts) found.push(`${p}: ${x}`);
  }
  assert.deepEqual(found, []);
  await page.close();
});
