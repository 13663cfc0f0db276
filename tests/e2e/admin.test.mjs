// The operator's console pages in real headless Chromium, in both languages: landing on
// the operator overview, the channel dialog per kind, the structured model dialog.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { BASE, SHOTS, api, loginAdmin, useBrowser, waitForTask } from "./common.mjs";

const { freshPage } = useBrowser("admin", { locale: "zh-CN" });

const statValue = async (page, id) => Number((await page.textContent(`#${id}`)).replace(/[^\d-]/g, ""));

for (const [lang, title, soldLabel] of [
  ["zh", "运营总览", "今日售出积分"],
  ["en", "Operator overview", "Credits sold today"],
]) {
  test(`an operator lands on the operator overview (${lang})`, async () => {
    const page = await freshPage(lang);
    await loginAdmin(page);
    await page.waitForSelector("#admin-overview");
    assert.equal(new URL(page.url()).hash, "#/admin/overview");
    assert.equal((await page.textContent("main h1")).trim(), title);
    await page.waitForSelector("#stat-sold");
    assert.match(await page.textContent('[data-testid="stat-sold"]'), new RegExp(soldLabel));
    const users = await statValue(page, "stat-users");
    const before = await statValue(page, "stat-sold");

    // A new customer with starting credits is a user more and credits sold today.
    const name = `ops-${lang}-${Date.now() % 100000}`;
    const created = await api(page, "POST", "/console/api/admin/users", { username: name, credits: 250 });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    let added = 250;
    if (lang === "zh") {
      // The operator's own failed task (credits topped up first): it shows as a recent
      // failure with its user, model and error code.
      const me = (await api(page, "GET", "/console/api/me")).body;
      assert.equal((await api(page, "POST", `/console/api/admin/users/${me.id}/credits`, { amount: 200 })).status, 200);
      added += 200;
      const task = await api(page, "POST", "/console/api/generations", { model: "video-2.0-mini-text-to-video", prompt: "demo:fail an e2e failure" });
      assert.equal(task.status, 200, JSON.stringify(task.body));
      assert.equal((await waitForTask(page, task.body.task_id, "failed", 20_000)).status, "failed");
    }
    await page.reload();
    await page.waitForSelector("#stat-sold");
    assert.equal(await statValue(page, "stat-users"), users + 1);
    assert.equal(await statValue(page, "stat-sold"), before + added);
    await page.waitForSelector('main td:has-text("demo_failure")');
    // The built-in channel is listed with its health.
    await page.waitForSelector('main td:has-text("demo")');
    assert.ok(await page.locator('[data-health="healthy"]').count() >= 1);
    if (SHOTS && lang === "zh") await page.screenshot({ path: path.join(SHOTS, "console-operator-overview.png"), fullPage: true });

    // The customer overview is still one click away.
    await page.click('a.nav-link[href="#/overview"]');
    await page.waitForSelector("#overview-credits");
    await page.close();
  });
}

test("the channel dialog shows each kind's fields, default base URL and README row", async () => {
  for (const lang of ["zh", "en"]) {
    const page = await freshPage(lang);
    await loginAdmin(page);
    await page.goto(`${BASE}/#/admin/providers`);
    await page.click("#provider-create");
    await page.waitForSelector("dialog #provider-kind");

    await page.selectOption("#provider-kind", "kling");
    assert.ok(await page.isVisible("#provider-api-secret"), "kling takes a secret key");
    assert.equal(await page.getAttribute("#provider-base-url", "placeholder"), "https://api-singapore.klingai.com");
    const hint = await page.textContent("#provider-base-url-hint");
    assert.match(hint, lang === "zh" ? /默认：https:\/\/api-singapore\.klingai\.com/ : /Default: https:\/\/api-singapore\.klingai\.com/);
    assert.match(await page.textContent('label[for="provider-api-secret"]'), /Secret key \(SK\)|Secret Key（SK）/);
    // Region names read in the UI language.
    assert.match(await page.textContent('#provider-region option[data-region="china"]'), lang === "zh" ? /^中国内地 · / : /^China · /);
    const readme = await page.getAttribute("#provider-kind-readme", "href");
    assert.match(readme, /^\/README\.md#:~:text=%60kling%60$/);
    assert.ok(await page.isVisible("#provider-region"));
    if (SHOTS && lang === "zh") await page.screenshot({ path: path.join(SHOTS, "console-channel-dialog.png") });

    await page.selectOption("#provider-kind", "demo");
    for (const id of ["#provider-api-key", "#provider-api-secret", "#provider-base-url", "#provider-region"]) {
      assert.equal(await page.isVisible(id), false, `demo hides ${id}`);
    }

    await page.selectOption("#provider-kind", "openai-videos");
    assert.equal(await page.isVisible("#provider-api-secret"), false);
    assert.equal(await page.getAttribute("#provider-base-url", "required"), "");
    assert.equal(await page.getAttribute("#provider-base-url", "placeholder"), "https://gateway.example/v1");
    // A gateway without a base URL is refused next to the field, in the UI language.
    await page.fill("#provider-name", "e2e-gateway");
    await page.click('dialog button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('[data-field="base_url"] > .field-error').textContent !== "");
    assert.equal(
      (await page.textContent('[data-field="base_url"] > .field-error')).trim(),
      lang === "zh" ? "此类型必须填写 Base URL" : "This kind needs a base URL",
    );

    await page.selectOption("#provider-kind", "wan");
    await page.selectOption("#provider-region", "https://dashscope-intl.aliyuncs.com/api/v1");
    assert.equal(await page.inputValue("#provider-base-url"), "https://dashscope-intl.aliyuncs.com/api/v1");
    assert.match(await page.textContent("#provider-settings-hint"), /workspace/);
    await page.click('dialog button[type="button"]:not([aria-label])');
    await page.close();
  }
  // The README link resolves on this server, to a text that has the kind's row.
  const r = await fetch(`${BASE}/README.md`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /\| `kling` \|/);
});

test("the model dialog refuses a bad price next to the field and round-trips a price table", async () => {
  const page = await freshPage("zh");
  await loginAdmin(page);
  await page.goto(`${BASE}/#/admin/models`);
  await page.click("#model-create");
  await page.waitForSelector("dialog #model-price-table");
  await page.fill('dialog input[name="id"]', "e2e-structured");
  await page.fill('dialog input[name="name"]', "E2E Structured");
  await page.selectOption("#model-mode", "per_second");
  await page.fill("#model-credits", "30");
  for (const r of ["480p", "1080p"]) await page.check(`[data-group="resolutions"] input[value="${r}"]`);
  await page.check('[data-group="aspect_ratios"] input[value="9:16"]');
  await page.check('[data-group="types"] input[value="image-to-video"]');
  // One row per offered resolution.
  assert.deepEqual(await page.$$eval("[data-price-row]", (rows) => rows.map((r) => r.dataset.priceRow)), ["480p", "720p", "1080p"]);
  await page.click("#model-add-duration");
  await page.fill("#model-durations input[data-duration] >> nth=1", "10");
  await page.fill('[data-res="480p"]', "20");
  await page.fill('[data-res="1080p"]', "-5");
  await page.click('dialog button[type="submit"]');

  // Refused before saving, with messages next to their fields.
  await page.waitForFunction(() => document.getElementById("price-err-1080p").textContent !== "");
  assert.equal((await page.textContent("#price-err-1080p")).trim(), "1080p 的价格须为不小于 0 的整数");
  assert.match(await page.textContent('[data-field="max_images"] .field-error'), /图生视频至少需要 1 张图片/);
  assert.ok(await page.isVisible("dialog"), "the dialog stays open");
  const stored = await api(page, "GET", "/console/api/admin/models");
  assert.equal(stored.body.find((m) => m.id === "e2e-structured"), undefined, "nothing was saved");
  if (SHOTS) await page.screenshot({ path: path.join(SHOTS, "console-model-dialog.png") });

  await page.fill('[data-res="1080p"]', "60");
  await page.fill('dialog input[name="max_images"]', "2");
  // The routes editor still works: an empty upstream model is refused next to it.
  await page.click('dialog .routes + button');
  await page.click('dialog button[type="submit"]');
  await page.waitForFunction(() => document.querySelector('.route-row [data-r="upstream_model"]').parentElement.querySelector(".field-error").textContent !== "");
  await page.fill('.route-row [data-r="upstream_model"]', "e2e-upstream");
  await page.uncheck('dialog input[name="enabled"]');
  await page.click('dialog button[type="submit"]');
  await page.waitForSelector("dialog", { state: "detached" });

  const saved = (await api(page, "GET", "/console/api/admin/models")).body.find((m) => m.id === "e2e-structured");
  assert.ok(saved, "saved");
  assert.deepEqual(saved.billing, {
    mode: "per_second",
    credits: 30,
    resolution_credits: { "480p": 20, "1080p": 60 },
    buckets: [],
    audio_percent: null,
    audio_credits: 0,
    video_input_credits: 0,
  });
  assert.deepEqual(saved.capabilities.resolutions.slice().sort(), ["1080p", "480p", "720p"]);
  assert.deepEqual(saved.capabilities.durations, [5, 10]);
  assert.deepEqual(saved.capabilities.aspect_ratios.slice().sort(), ["16:9", "9:16"]);
  assert.deepEqual(saved.capabilities.types.slice().sort(), ["image-to-video", "text-to-video"]);
  assert.equal(saved.capabilities.max_images, 2);
  assert.equal(saved.enabled, false);
  assert.deepEqual(saved.routes.map((r) => [r.provider, r.upstream_model]), [["demo", "e2e-upstream"]]);

  // Reopened, the dialog shows the same table; in English, a bad price reads in English.
  await page.click("#lang-switch");
  await page.waitForSelector('a.nav-link:has-text("Model settings")');
  await page.click('[data-edit-model="e2e-structured"]');
  await page.waitForSelector("dialog #model-price-table");
  assert.equal(await page.inputValue('[data-res="1080p"]'), "60");
  assert.equal(await page.inputValue('[data-res="480p"]'), "20");
  assert.equal(await page.inputValue('[data-res="720p"]'), "");
  assert.equal(await page.inputValue("#model-mode"), "per_second");
  assert.ok(await page.isChecked('[data-group="aspect_ratios"] input[value="9:16"]'));
  await page.fill('[data-res="720p"]', "2.5");
  await page.click('dialog button[type="submit"]');
  await page.waitForFunction(() => document.getElementById("price-err-720p").textContent !== "");
  assert.equal((await page.textContent("#price-err-720p")).trim(), "The price for 720p must be a whole number, 0 or more");
  await page.fill('[data-res="720p"]', "36");
  await page.click('dialog button[type="submit"]');
  await page.waitForSelector("dialog", { state: "detached" });
  const again = (await api(page, "GET", "/console/api/admin/models")).body.find((m) => m.id === "e2e-structured");
  assert.deepEqual(again.billing.resolution_credits, { "480p": 20, "720p": 36, "1080p": 60 });
  assert.equal(again.routes.length, 1, "the route survived the edit");
  await page.close();
});

test("the tasks page shows charged, channel cost and margin per model, channel and customer", async () => {
  const page = await freshPage("en");
  await loginAdmin(page);
  await page.goto(`${BASE}/#/admin/tasks`);
  await page.waitForSelector('[data-testid="margins-all"]');
  assert.match(await page.textContent('[data-testid="margins-all"]'), /^Charged [\d,]+ · Channel cost [\d,]+ · Margin -?[\d,]+$/);
  const heads = await page.$$eval("#margins h3", (els) => els.map((e) => e.textContent));
  assert.deepEqual(heads, ["Per model", "Per channel", "Per customer"]);
  await page.selectOption("#margins-period", "1");
  await page.waitForSelector('[data-testid="margins-all"]');
  await page.close();
});
