// Selling credits in real headless Chromium: the operator opens sign-up and makes codes,
// a visitor signs up from the login page, redeems a code and tops up through the Stripe
// simulator's checkout (replaced by a test redirect: pay, signed webhook, return).
import { test } from "node:test";
import assert from "node:assert/strict";
import { headerCredits, loginAdmin, useBrowser } from "./common.mjs";

const VISITOR = { name: "shopper", password: "a sturdy secret 42" };
const { freshPage } = useBrowser("money", { locale: "en-US" });

let code;

test("the operator opens sign-up with a bonus and makes a batch of codes", async () => {
  const page = await freshPage("en");
  assert.equal(await page.$("#signup-link"), null, "no sign-up link while registration is closed");
  await loginAdmin(page);
  await page.click('a[href="#/admin/signup"]');
  await page.selectOption("#signup-mode", "open");
  await page.fill("#signup-credits", "100");
  await page.click("#signup-save");
  await page.waitForSelector(".toast");
  // No [smtp] on this server: the test mail says so in the UI language.
  await page.fill("#test-mail-to", "ops@example.com");
  await page.click("#test-mail-send");
  await page.waitForSelector("#test-mail-result .alert-error");
  assert.match(await page.textContent("#test-mail-result"), /cannot send email/);

  await page.click('a[href="#/admin/codes"]');
  await page.fill("#codes-count", "2");
  await page.fill("#codes-credits", "500");
  await page.fill("#codes-prefix", "E2E");
  await page.fill("#codes-note", "browser test");
  await page.click("#codes-create");
  await page.waitForSelector("#codes-list");
  const codes = (await page.textContent("#codes-list")).trim().split("\n");
  assert.equal(codes.length, 2);
  assert.match(codes[0], /^E2E-[A-Z2-9]{5}-/);
  code = codes[0];
  assert.ok(await page.getAttribute("#codes-csv", "download"));
  // The list shows hints only, never the codes.
  await page.waitForSelector("td .badge");
  assert.ok(!(await page.textContent("main table")).includes(codes[1]), "the list shows hints only");
  await page.close();
});

test("a visitor signs up from the login page, redeems a code and tops up online", async () => {
  const page = await freshPage("en");
  await page.waitForSelector("#signup-link");
  await page.click("#signup-link");
  await page.waitForSelector("#signup-form");
  // A common password is refused next to the field.
  await page.fill("#signup-username", VISITOR.name);
  await page.fill("#signup-password", "password123");
  await page.click("#signup-submit");
  await page.waitForSelector(".field.has-error");
  assert.match(await page.textContent(".field.has-error"), /too weak/i);
  await page.fill("#signup-password", VISITOR.password);
  await page.click("#signup-submit");
  await page.waitForSelector("#header-credits");
  assert.equal(await headerCredits(page), 100, "the sign-up bonus");

  await page.click('a[href="#/redeem"]');
  await page.fill("#redeem-code", code.toLowerCase());
  await page.click("#redeem-submit");
  await page.waitForSelector("#redeem-result .alert-ok");
  assert.equal(await headerCredits(page), 600);
  await page.fill("#redeem-code", code);
  await page.click("#redeem-submit");
  await page.waitForSelector(".field.has-error");
  assert.match(await page.textContent(".field.has-error"), /already been used/);

  await page.click('a[href="#/topup"]');
  await page.waitForSelector('[data-package="1"]');
  await page.click('[data-package="1"]');
  // The simulator's "hosted page" pays, signs the webhook and sends us back.
  await page.waitForSelector("#topup-return");
  assert.match(await page.textContent("#topup-return"), /2,?500 credits added/);
  await page.waitForFunction(() => document.querySelector("#header-credits").textContent.replace(/\D/g, "") === "3100");
  assert.match(await page.textContent("main table"), /Paid/);
  await page.close();
});

test("the operator's ledger filters by source and the payments page lists the top-up", async () => {
  const page = await freshPage("en");
  await loginAdmin(page);
  await page.click('a[href="#/admin/ledger"]');
  await page.selectOption("#ledger-kind", "redeem");
  await page.click("form.filters button[type=submit]");
  await page.waitForFunction(() => document.querySelectorAll("main tbody tr").length === 1);
  assert.match(await page.textContent("main tbody"), /Redemption code/);
  await page.click('a[href="#/admin/payments"]');
  await page.waitForSelector("main tbody tr");
  assert.match(await page.textContent("main tbody"), /Paid/);
  // Close registration again for whatever runs next.
  await page.click('a[href="#/admin/signup"]');
  await page.selectOption("#signup-mode", "closed");
  await page.click("#signup-save");
  await page.waitForSelector(".toast");
  await page.close();
});
