// API key limits in the console, in real headless Chromium: the key form with its limit
// fields (a message next to the field that is wrong), the list's limits and usage, and
// the edit dialog; the limits hold on the public API (queue position, 429 queue_full).
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, api, login, loginAdmin, useBrowser } from "./common.mjs";

const USER = { name: "keylimits", password: "keylimits-password-1" };
const { freshPage } = useBrowser("keys", { locale: "zh-CN" });

const fieldError = (page, name) => page.textContent(`[data-field="${name}"] .field-error`);

async function publicCreate(key, prompt) {
  const r = await fetch(`${BASE}/v1/video/generations`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model: "video-2.0-mini-text-to-video", prompt }),
  });
  return { status: r.status, body: await r.json() };
}

test("the key form sets limits with a message next to the wrong field; the list shows limits and usage", async () => {
  const admin = await freshPage("zh");
  await loginAdmin(admin);
  const made = await api(admin, "POST", "/console/api/admin/users", { username: USER.name, password: USER.password, credits: 5000 });
  assert.equal(made.status, 200, JSON.stringify(made.body));
  await admin.close();

  const page = await freshPage("zh");
  await login(page, USER.name, USER.password);
  await page.click('a[href="#/keys"]');
  await page.fill("#key-name", "limited");
  await page.click("#key-limits summary");
  await page.fill("#key-budget", "0");
  await page.fill("#key-allowed_ips", "10.0.0.0/99");
  await page.click("#key-create");
  // The first wrong field the server names gets the message, next to it.
  await page.waitForFunction(() => [...document.querySelectorAll("#key-limits .field-error")].some((e) => e.textContent));
  const errors = await page.$$eval("#key-limits [data-field]", (fs) => fs.filter((f) => f.querySelector(".field-error").textContent).map((f) => f.dataset.field));
  assert.equal(errors.length, 1);
  assert.ok(["budget", "allowed_ips"].includes(errors[0]), errors.join());
  assert.match(await fieldError(page, errors[0]), /不合法/);
  assert.equal(await page.locator("#new-key").count(), 0, "nothing created");

  await page.fill("#key-allowed_ips", "");
  await page.fill("#key-budget", "100000");
  await page.selectOption("#key-budget_period", "daily");
  await page.fill("#key-max_concurrency", "1");
  await page.fill("#key-max_queued", "1");
  await page.click("#key-create");
  const key = (await page.textContent("#new-key")).trim();
  assert.match(key, /^vga_/);
  await page.waitForSelector('[data-key-limits="limited"]');
  const limits = await page.textContent('[data-key-limits="limited"]');
  assert.match(limits, /预算 100,000\/天/);
  assert.match(limits, /并发 1/);
  assert.match(limits, /排队 ≤1/);

  // On the public API: one runs, one waits with its position, the next is refused.
  const a = await publicCreate(key, "first");
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const b = await publicCreate(key, "second");
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.equal(b.body.queue_position, 1);
  const c = await publicCreate(key, "third");
  assert.equal(c.status, 429);
  assert.equal(c.body.error.code, "queue_full");

  await page.reload();
  await page.waitForSelector('[data-key-usage="limited"]');
  const usage = await page.textContent('[data-key-usage="limited"]');
  assert.match(usage, /运行 1 · 排队 1/);
  assert.match(usage, /本分钟 3 次/);

  // Edit: a wrong value is shown next to its field and the dialog stays open.
  await page.click('button[aria-label="编辑 Key limited"]');
  await page.waitForSelector("#key-edit");
  await page.fill("#edit-rpm", "0");
  await page.click("#key-edit-save");
  await page.waitForFunction(() => document.querySelector('#key-edit [data-field="rpm"] .field-error')?.textContent);
  assert.match(await page.textContent('#key-edit [data-field="rpm"] .field-error'), /每分钟请求数/);
  await page.fill("#edit-rpm", "30");
  await page.fill("#edit-max_concurrency", "2");
  await page.click("#key-edit-save");
  await page.waitForSelector("#key-edit", { state: "detached" });
  await page.waitForFunction(() => /并发 2/.test(document.querySelector('[data-key-limits="limited"]')?.textContent || ""));
  assert.match(await page.textContent('[data-key-limits="limited"]'), /30 次\/分钟/);
  await page.close();
});

test("the key form in English", async () => {
  const page = await freshPage("en");
  await login(page, USER.name, USER.password);
  await page.click('a[href="#/keys"]');
  await page.waitForSelector('[data-key-limits="limited"]');
  assert.match(await page.textContent('[data-key-limits="limited"]'), /2 at once/);
  await page.click("#key-limits summary");
  await page.fill("#key-max_queued", "-3");
  await page.click("#key-create");
  await page.waitForFunction(() => document.querySelector('[data-field="max_queued"] .field-error')?.textContent);
  assert.match(await fieldError(page, "max_queued"), /Max queued/);
  await page.close();
});

test("an operator sets an account's limits from the users page", async () => {
  const page = await freshPage("zh");
  await loginAdmin(page);
  await page.click('a[href="#/admin/users"]');
  await page.fill("#users-q", USER.name);
  await page.waitForSelector(`[data-user="${USER.name}"]`);
  await page.click(`button[aria-label="${USER.name} 的账号限制"]`);
  await page.waitForSelector("#ulimit-usage");
  assert.match(await page.textContent("#ulimit-usage"), /运行 1 · 排队 1|运行 \d · 排队 \d/);
  await page.fill("#ulimit-max_concurrency", "0");
  await page.click('dialog button[type="submit"]');
  await page.waitForFunction(() => document.querySelector("dialog form > p.field-error")?.textContent);
  assert.match(await page.textContent("dialog form > p.field-error"), /最大并发/);
  await page.fill("#ulimit-max_concurrency", "3");
  await page.fill("#ulimit-rpm", "120");
  await page.click('dialog button[type="submit"]');
  await page.waitForSelector("dialog", { state: "detached" });
  const users = await api(page, "GET", `/console/api/admin/users?q=${USER.name}`);
  const limits = await api(page, "GET", `/console/api/admin/users/${users.body[0].id}/limits`);
  assert.equal(limits.body.limits.max_concurrency, 3);
  assert.equal(limits.body.limits.rpm, 120);
  await page.close();
});
