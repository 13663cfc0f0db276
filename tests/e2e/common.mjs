// What every browser test file shares: the server run.sh started (E2E_BASE, the operator's
// password), one headless Chromium per file, fresh pages in a chosen language that collect
// script errors and missing translations, logging in, console API calls, and the waits
// more than one file needs. Each *.test.mjs runs in its own node process, so each gets its
// own browser from `useBrowser`.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";

export const BASE = process.env.E2E_BASE;
export const ADMIN_PASSWORD = process.env.E2E_ADMIN_PASSWORD;
export const WORK = process.env.E2E_WORK || fs.mkdtempSync(path.join(os.tmpdir(), "e2e-"));
/** Where screenshots go (unset: none are taken). */
export const SHOTS = process.env.E2E_SCREENSHOTS;
/** A 1x1 PNG, base64. */
export const DOT_PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

// Headless, and nothing in the background that reaches past loopback (updates, sync).
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-quic",
  "--no-first-run",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches the file's Chromium before its tests (a profile of its own under WORK, named
 * after `name`) and closes it after them, then fails if any page threw or asked for a
 * missing translation. `locale` and `timezoneId` are the browser's own, not the console's.
 * Returns `freshPage`, which opens pages in that browser.
 */
export function useBrowser(name, { locale, timezoneId } = {}) {
  let context;
  const pageErrors = [];

  before(async () => {
    assert.ok(BASE, "E2E_BASE is set by run.sh");
    const profile = fs.mkdtempSync(path.join(WORK, `chromium-${name}-profile-`));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      headless: true,
      args: ARGS,
      viewport: { width: 1360, height: 900 },
      ...(locale ? { locale } : {}),
      ...(timezoneId ? { timezoneId } : {}),
    });
  });

  after(async () => {
    if (context) await context.close();
    assert.deepEqual(pageErrors, [], "no uncaught script errors and no missing translations");
  });

  /**
   * A new page with no session, on the login page. With `lang`, the console starts in that
   * language (what the switch stores), set once per page so that a switch survives reloads;
   * without it the console follows the browser's locale or the last choice in the profile.
   */
  async function freshPage(lang) {
    await context.clearCookies();
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "warning" && m.text().startsWith("i18n:")) pageErrors.push(m.text());
    });
    if (lang) {
      await page.addInitScript((l) => {
        if (!sessionStorage.getItem("lang-set")) {
          localStorage.setItem("videoapi.lang", l);
          sessionStorage.setItem("lang-set", "1");
        }
      }, lang);
    }
    await page.goto(`${BASE}/#/login`);
    await page.waitForSelector("#login-username");
    return page;
  }

  return { freshPage };
}

/** Logs in from the login page (where `freshPage` leaves it) and waits for the console. */
export async function login(page, user, password) {
  await page.fill("#login-username", user);
  await page.fill("#login-password", password);
  await page.click("#login-submit");
  await page.waitForSelector("#header-credits");
}

/** Logs in as the operator. */
export const loginAdmin = (page) => login(page, "admin", ADMIN_PASSWORD);

/** A console API call from the page, with its session cookie and the CSRF header. */
export function api(page, method, url, body) {
  return page.evaluate(
    async ([method, url, body]) => {
      const r = await fetch(url, {
        method,
        headers: { "X-Requested-With": "videoapi", "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    },
    [method, url, body],
  );
}

/**
 * Calls the console API as the operator from node, with a cookie jar of its own (not the
 * browser's); each call must succeed and returns its JSON.
 */
export async function operatorApi() {
  const headers = { "X-Requested-With": "videoapi", "Content-Type": "application/json" };
  const r = await fetch(`${BASE}/console/api/login`, {
    method: "POST",
    headers,
    body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
  });
  assert.equal(r.status, 200);
  const cookie = r.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  return async (method, p, body) => {
    const r = await fetch(`${BASE}${p}`, { method, headers: { ...headers, cookie }, body: body ? JSON.stringify(body) : undefined });
    const json = await r.json().catch(() => null);
    assert.ok(r.ok, `${method} ${p}: ${r.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/** The credits in the header, as a number. */
export async function headerCredits(page) {
  return Number((await page.textContent("#header-credits")).replace(/[^\d-]/g, ""));
}

/**
 * Polls the page's console API until the task reaches `status` (the engine runs on its own
 * clock); fails when it has not within `timeoutMs`. Returns the task.
 */
export async function waitForTask(page, taskId, status, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const task = (await api(page, "GET", `/console/api/tasks/${taskId}`)).body;
    if (task.status === status) return task;
    assert.ok(Date.now() < deadline, `task ${taskId} is ${status} within ${timeoutMs / 1000} s, not ${task.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Waits until the generation form's estimate is the server's answer for the current form,
 * and, given `text`, that it reads `text`.
 */
export async function estimateReady(page, text) {
  await page.waitForFunction(
    (want) => {
      const el = document.querySelector("#gen-estimate");
      return el && el.dataset.state === "ok" && (want === null || el.textContent.trim() === want);
    },
    text ?? null,
    { timeout: 20_000 },
  );
}
