// The console in real headless Chromium: the operator's and the customer's flows end to
// end against a running server (started by run.sh; E2E_BASE points at it).
import { test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { BASE, SHOTS, WORK, estimateReady, headerCredits, login, loginAdmin, useBrowser } from "./common.mjs";

const CUSTOMER = { name: "alice", password: "alice-password-1" };
const PRICE = 180; // the demo model: 36 credits/s x 5 s (auto) at 720p

// No language chosen: the console follows this browser's locale.
const { freshPage } = useBrowser("console", { locale: "zh-CN" });

/** The breakdown lines under the estimate: [item, credits]. */
async function breakdown(page) {
  return page.$$eval("#gen-breakdown li", (lis) => lis.map((li) => [...li.children].map((c) => c.textContent.trim())));
}

/** A real PNG (a colour gradient), written with zlib only. */
function png(width, height, [r0, g0, b0], [r1, g1, b1]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) {
      const f = (x + y) / (width + height);
      row[1 + x * 3] = r0 + (r1 - r0) * f;
      row[2 + x * 3] = g0 + (g1 - g0) * f;
      row[3 + x * 3] = b0 + (b1 - b0) * f;
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

let apiKey;

test("operator creates a customer and tops up credits", async () => {
  const page = await freshPage();
  await loginAdmin(page);
  await page.click('a[href="#/admin/users"]');
  await page.click("#user-create");
  await page.fill("#new-username", CUSTOMER.name);
  await page.fill("#new-password", CUSTOMER.password);
  await page.click('dialog button[type="submit"]');
  await page.waitForSelector(`[data-user="${CUSTOMER.name}"]`);
  assert.equal(await page.textContent(`[data-credits="${CUSTOMER.name}"]`), "0");

  await page.click(`button[aria-label="调整 ${CUSTOMER.name} 的积分"]`);
  await page.fill("#adjust-amount", "1000");
  await page.fill("#adjust-note", "e2e top-up");
  await page.click('dialog button[type="submit"]');
  await page.waitForFunction(
    (name) => document.querySelector(`[data-credits="${name}"]`)?.textContent.replace(/\D/g, "") === "1000",
    CUSTOMER.name,
  );

  // The ledger shows the top-up with its note and the operator who made it.
  await page.click('a[href="#/admin/ledger"]');
  await page.fill("#ledger-user", CUSTOMER.name);
  await page.press("#ledger-user", "Enter");
  await page.waitForSelector("td:has-text('e2e top-up')");
  assert.match(await page.textContent("tbody"), /admin:admin/);
  await page.close();
});

test("a customer cannot open operator pages or call their APIs", async () => {
  const page = await freshPage();
  await login(page, CUSTOMER.name, CUSTOMER.password);
  assert.equal(await page.locator('a[href="#/admin/users"]').count(), 0, "no operator links");
  for (const p of ["users", "providers", "ledger"]) {
    await page.goto(`${BASE}/#/admin/${p}`);
    await page.waitForSelector('[data-testid="forbidden"]');
  }
  const statuses = await page.evaluate(async () => {
    const h = { "X-Requested-With": "videoapi", "Content-Type": "application/json" };
    const a = await fetch("/console/api/admin/users", { headers: h });
    const b = await fetch("/console/api/admin/users/1/credits", {
      method: "POST",
      headers: h,
      body: JSON.stringify({ amount: 5000 }),
    });
    return [a.status, b.status];
  });
  assert.deepEqual(statuses, [403, 403]);
  await page.close();
});

test("a new API key is shown once, then only its prefix", async () => {
  const page = await freshPage();
  await login(page, CUSTOMER.name, CUSTOMER.password);
  await page.click('a[href="#/keys"]');
  await page.fill("#key-name", "laptop");
  await page.click("#key-create");
  apiKey = (await page.textContent("#new-key")).trim();
  assert.match(apiKey, /^vga_[A-Za-z0-9]{32}$/);
  assert.match(await page.textContent(".secret-once"), /只展示一次/);
  assert.equal(await page.locator(".secret-once .copy-btn").count(), 1);

  // The key works on the public API.
  const account = await fetch(`${BASE}/v1/account`, { headers: { Authorization: `Bearer ${apiKey}` } });
  assert.equal(account.status, 200);

  await page.reload();
  await page.waitForSelector("td:has-text('laptop')");
  const text = await page.textContent("main");
  assert.ok(!text.includes(apiKey), "the full key is not shown again");
  assert.ok(text.includes(apiKey.slice(0, 10)), "its prefix is listed");
  await page.close();
});

test("generation center: two images as @Image1/@Image2, estimate, submit, video plays, balance drops", async () => {
  const page = await freshPage();
  await login(page, CUSTOMER.name, CUSTOMER.password);
  assert.equal(await headerCredits(page), 1000);
  await page.click('a[href="#/generate"]');
  await page.waitForSelector("#gen-status");
  // Not ready before there is a prompt: the status says what is missing.
  assert.equal((await page.textContent("#gen-status")).trim(), "请填写提示词");

  const a = path.join(WORK, "sunrise.png");
  const b = path.join(WORK, "ocean.png");
  fs.writeFileSync(a, png(320, 180, [247, 121, 125], [251, 215, 134]));
  fs.writeFileSync(b, png(320, 180, [43, 88, 118], [78, 67, 118]));
  await page.setInputFiles("#gen-files", [a, b]);
  await page.waitForFunction(() => {
    const names = [...document.querySelectorAll("#gen-assets .asset-name")].map((e) => e.textContent);
    return names.length === 2 && names.includes("sunrise.png") && names.includes("ocean.png");
  });
  const labels = await page.$$eval("#gen-assets .asset-label", (els) => els.map((e) => e.textContent));
  assert.deepEqual(labels, ["@Image1", "@Image2"]);
  assert.equal(await page.inputValue("#gen-type"), "image-to-video", "the type follows the assets");

  await page.fill("#gen-prompt", "让");
  await page.click('#gen-assets .asset-label:has-text("@Image1")');
  await page.type("#gen-prompt", "和");
  await page.click('#gen-assets .asset-label:has-text("@Image2")');
  await page.type("#gen-prompt", "中的人物自然转身,镜头缓慢推进");
  const prompt = await page.inputValue("#gen-prompt");
  assert.match(prompt, /@Image1.*@Image2/);

  // Reordering renumbers the labels; put them back.
  await page.click('#gen-assets button[aria-label$="@Image1 后移"]');
  assert.equal(await page.getAttribute("#gen-assets .asset:first-child", "data-label"), "@Image1");
  assert.equal(await page.textContent("#gen-assets .asset:first-child .asset-name"), "ocean.png");
  await page.click('#gen-assets button[aria-label$="@Image2 前移"]');
  assert.equal(await page.textContent("#gen-assets .asset:first-child .asset-name"), "sunrise.png");

  // The estimate follows the options, priced by the server's estimate endpoint (no copy
  // of the formula in the page): 720p x auto (5 s) = 180, 480p x 10 s = 240.
  const estimates = [];
  page.on("request", (r) => {
    if (r.url().endsWith("/console/api/generations/estimate")) estimates.push(r.method());
  });
  await estimateReady(page, `${PRICE} 积分`);
  await page.selectOption("#gen-resolution", "480p");
  await page.selectOption("#gen-duration", "10");
  await estimateReady(page, "240 积分");
  assert.deepEqual(await breakdown(page), [["480p · 10 s × 24 credits/s", "240"]]);
  await page.selectOption("#gen-resolution", "720p");
  await page.selectOption("#gen-duration", "auto");
  await page.selectOption("#gen-aspect", "9:16");
  await estimateReady(page, `${PRICE} 积分`);
  assert.deepEqual(await breakdown(page), [["720p · 5 s × 36 credits/s", "180"]]);
  assert.ok(estimates.length >= 2 && estimates.every((m) => m === "POST"), `${estimates}`);
  assert.equal((await page.textContent("#gen-status")).trim(), "就绪");

  // A field error from the API shows next to its field.
  await page.selectOption("#gen-type", "text-to-video");
  await page.click("#gen-submit");
  await page.waitForSelector('[data-field="type"].has-error');
  await page.selectOption("#gen-type", "image-to-video");

  await page.click("#gen-submit");
  const row = page.locator("#gen-tasks tbody tr").first();
  await row.waitFor();
  await page.waitForFunction(() => document.querySelector("#header-credits")?.textContent.replace(/\D/g, "") === "820");
  assert.equal(await headerCredits(page), 1000 - PRICE);

  // The table refreshes itself until the task completes and shows a player.
  await page.waitForSelector('#gen-tasks tr[data-status="completed"] video[data-testid="task-video"]', { timeout: 30_000 });
  const video = page.locator('#gen-tasks tr[data-status="completed"] video').first();
  const src = await video.getAttribute("src");
  assert.ok(src.startsWith(`${BASE}/videos/`), src);
  const playback = await video.evaluate(
    (v) =>
      new Promise((resolve) => {
        const codec = v.canPlayType('video/mp4; codecs="avc1.4D401E, mp4a.40.2"');
        const done = (event) =>
          resolve({ event, readyState: v.readyState, width: v.videoWidth, error: v.error && v.error.code, codec });
        if (v.readyState >= 1) return done("already");
        v.addEventListener("loadedmetadata", () => done("loadedmetadata"), { once: true });
        v.addEventListener("error", () => done("error"), { once: true });
        setTimeout(() => done("timeout"), 10_000);
      }),
  );
  console.log(`# video playback in this chromium: ${JSON.stringify(playback)}`);
  if (playback.codec) {
    assert.ok(playback.readyState >= 1 && playback.width > 0, `H.264 plays: ${JSON.stringify(playback)}`);
  } else {
    // This build cannot decode H.264: the element still got the gateway's URL and the
    // file is served as a real MP4.
    const resp = await fetch(src);
    assert.equal(resp.status, 200);
    assert.equal(resp.headers.get("content-type"), "video/mp4");
  }
  const details = await page.textContent('#gen-tasks tr[data-status="completed"] [data-testid="credit-detail"]');
  assert.match(details, new RegExp(`预扣 ${PRICE}.*实扣 ${PRICE}`));

  if (SHOTS) {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.evaluate(() => window.scrollTo(0, 0));
    // Let the players show their first frame with no buffering spinner over it (a
    // codec-less build never gets there). Chrome's controls draw the spinner until
    // HAVE_FUTURE_DATA and fade it out over one turn of its animation after that.
    const framed = await page
      .waitForFunction(() => [...document.querySelectorAll("#gen-tasks video")].every((v) => v.readyState >= 3 && !v.seeking), null, { timeout: 10_000 })
      .then(() => true, () => false);
    if (framed) await page.waitForTimeout(1500);
    await page.screenshot({ path: path.join(SHOTS, "console-generate.png"), fullPage: true });
  }
  await page.close();
});

test("a failed demo task shows its refunded credits", async () => {
  const page = await freshPage();
  await login(page, CUSTOMER.name, CUSTOMER.password);
  const start = await headerCredits(page);
  await page.click('a[href="#/generate"]');
  await page.waitForSelector("#gen-prompt");
  await page.selectOption("#gen-model", "video-2.0-mini-text-to-video");
  await page.fill("#gen-prompt", "a lighthouse at dusk demo:fail");
  await estimateReady(page, "100 积分");
  await page.click("#gen-submit");
  await page.waitForSelector('#gen-tasks tr[data-status="failed"]', { timeout: 30_000 });
  const detail = await page.textContent('#gen-tasks tr[data-status="failed"] [data-testid="credit-detail"]');
  assert.match(detail, /预扣 100.*已返还 100/);
  await page.waitForFunction(
    (n) => document.querySelector("#header-credits")?.textContent.replace(/\D/g, "") === String(n),
    start,
  );
  await page.close();
});

test("overview shows credits, connection, counts and recent tasks", async () => {
  const page = await freshPage();
  await login(page, CUSTOMER.name, CUSTOMER.password);
  await page.goto(`${BASE}/#/overview`);
  await page.waitForSelector("#conn-status.ok");
  assert.equal((await page.textContent("#conn-status")).trim(), "已连接");
  assert.equal((await page.textContent("#stat-credits")).trim(), String(1000 - PRICE));
  assert.equal((await page.textContent("#stat-keys")).trim(), "1");
  assert.equal((await page.textContent("#stat-tasks")).trim(), "2");
  assert.equal(await page.locator("main tbody tr").count(), 2);
  await page.waitForFunction(() => [...document.querySelectorAll("main tbody video")].every((v) => v.getAttribute("src")));
  if (SHOTS) {
    // No buffering spinner in the picture: wait for each player's first frame.
    await page
      .waitForFunction(() => [...document.querySelectorAll("main tbody video")].every((v) => v.readyState >= 2 && !v.seeking), null, { timeout: 5_000 })
      .catch(() => {});
    await page.screenshot({ path: path.join(SHOTS, "console-overview.png") });
  }
  await page.close();
});

test("the language switch is remembered", async () => {
  const page = await freshPage();
  await login(page, CUSTOMER.name, CUSTOMER.password);
  await page.goto(`${BASE}/#/generate`);
  await page.waitForSelector("#gen-status");
  await page.click("#lang-switch");
  await page.waitForSelector('a.nav-link:has-text("Generation center")');
  assert.equal((await page.textContent("#gen-status")).trim(), "Enter a prompt");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  await page.reload();
  await page.waitForSelector('a.nav-link:has-text("Generation center")');
  assert.match(await page.textContent("main thead"), /Credit details/);
  await page.click("#lang-switch");
  await page.waitForSelector('a.nav-link:has-text("视频生成中心")');
  await page.close();
});

test("quick start examples run as shown against this server", async () => {
  const page = await freshPage();
  await page.goto(`${BASE}/#/quickstart`);
  await page.waitForSelector('[data-testid="qs-curl-create"]');
  assert.equal((await page.textContent("#qs-base")).trim(), BASE);
  assert.match(await page.textContent("#qs-model-ids"), /video-2\.0-mini-reference-to-video/);
  await page.fill("#qs-key", apiKey);
  // The page's flow, as the README's: upload ./image.png, create with its url, keep the
  // task id, poll until terminal. Run in a directory that holds image.png.
  const dir = fs.mkdtempSync(path.join(WORK, "quickstart-"));
  fs.writeFileSync(path.join(dir, "image.png"), png(64, 64, [43, 88, 118], [247, 121, 125]));
  const run = (cmd, args) => execFileSync(cmd, args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
  const flow = await page.textContent('[data-testid="qs-flow-script"] pre');
  assert.ok(flow.includes(`${BASE}/api/upload`) && flow.includes(apiKey) && !flow.includes("vidgen_17"));
  const flowOut = run("bash", ["-c", flow]);
  assert.match(flowOut, new RegExp(`^${BASE}/uploads/.+\\.png$`, "m"));
  assert.match(flowOut, /"status":"pending"/);
  assert.match(flowOut, /^completed$/m);
  const finished = JSON.parse(flowOut.trim().split("\n").pop());
  assert.equal(finished.status, "completed");
  assert.ok(finished.url.startsWith(`${BASE}/videos/`));
  assert.ok(!(await page.textContent('[data-testid="qs-curl-get"] pre')).includes("vidgen_"), "no fixed task id");

  const js = await page.textContent('[data-testid="qs-js-create"] pre');
  const file = path.join(dir, "example.mjs");
  fs.writeFileSync(file, js);
  const printed = run("node", [file]);
  assert.match(printed, /task_id: 'vidgen_/);
  assert.match(printed, /^completed http/m);

  const py = await page.textContent('[data-testid="qs-py-create"] pre');
  fs.writeFileSync(path.join(dir, "example.py"), py);
  const pyPrinted = run("python3", [path.join(dir, "example.py")]);
  assert.match(pyPrinted, /'task_id': 'vidgen_/);
  assert.match(pyPrinted, /^completed http/m);

  // The OpenAI SDK examples carry this server's /v1 and the key (tests/openai runs them).
  for (const id of ["qs-openai-py", "qs-openai-js"]) {
    const sdk = await page.textContent(`[data-testid="${id}"] pre`);
    assert.ok(sdk.includes(`${BASE}/v1`) && sdk.includes(apiKey), sdk);
  }

  const models = JSON.parse(execFileSync("bash", ["-c", await page.textContent('[data-testid="qs-curl-models"] pre')], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }));
  assert.equal(models.object, "list");
  await page.close();
});

test("the console fits a phone screen", async () => {
  const page = await freshPage();
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page, CUSTOMER.name, CUSTOMER.password);
  for (const p of ["overview", "generate", "keys", "models", "quickstart"]) {
    await page.goto(`${BASE}/#/${p}`);
    await page.waitForSelector("main h1");
    await page.waitForTimeout(150);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${p} overflows by ${overflow}px`);
  }
  // The menu opens from the top bar.
  await page.click(".menu-toggle");
  await page.waitForSelector("body.nav-open");
  await page.click('a[href="#/keys"]');
  await page.waitForSelector("#key-create");
  await page.close();
});
