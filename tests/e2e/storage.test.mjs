// The storage console in real headless Chromium, in both languages: the operator saves
// retention periods and a pricing group's storage quota on the storage page, and a
// customer sees what it stores (against that quota) on its overview.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BASE, DOT_PNG_B64, api, login, loginAdmin, useBrowser } from "./common.mjs";

const PASSWORD = "storage-password-1";
const { freshPage } = useBrowser("storage");

/** Upload `n` small PNGs from the console with the page's session. */
function uploadPngs(page, n) {
  return page.evaluate(
    async ([b64, n]) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const form = new FormData();
      for (let i = 0; i < n; i++) form.append("files", new Blob([bytes], { type: "image/png" }), `dot${i}.png`);
      const r = await fetch("/console/api/upload", { method: "POST", headers: { "X-Requested-With": "videoapi" }, body: form });
      return { status: r.status, body: await r.json() };
    },
    [DOT_PNG_B64, n],
  );
}

for (const [lang, savedRetention, groupTitle, filesWord, badUploads] of [
  ["zh", "保存期已保存", "分组存储配额", "个文件", "「素材保存期」的值不合法"],
  ["en", "Retention saved", "Storage quotas by pricing group", "files", "Invalid value for Uploads kept"],
]) {
  test(`an operator saves retention and a group quota; the customer sees storage used (${lang})`, async () => {
    const group = `store${lang}`;
    const customer = `storage-${lang}-${Date.now() % 100000}`;
    const admin = await freshPage(lang);
    await loginAdmin(admin);
    assert.equal((await api(admin, "PUT", `/console/api/admin/pricing-groups/${group}`, { percent: 100 })).status, 200);
    const made = await api(admin, "POST", "/console/api/admin/users", { username: customer, password: PASSWORD, credits: 0 });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const users = await api(admin, "GET", `/console/api/admin/users?q=${customer}`);
    const set = await api(admin, "PATCH", `/console/api/admin/users/${users.body[0].id}`, { pricing_group: group });
    assert.equal(set.status, 200, JSON.stringify(set.body));

    // Retention: a bad period is refused in the dialog; a good one is saved and shown.
    await admin.goto(`${BASE}/#/admin/storage`);
    await admin.click("#edit-retention");
    await admin.fill('dialog input[name="uploads"]', "soon");
    await admin.click('dialog button[type="submit"]');
    await admin.waitForSelector(`dialog p.field-error:has-text("${badUploads}")`);
    await admin.fill('dialog input[name="uploads"]', "3d");
    await admin.fill('dialog input[name="videos"]', "12h");
    await admin.click('dialog button[type="submit"]');
    await admin.waitForSelector(`text=${savedRetention}`);
    await admin.waitForSelector('#storage-settings dd:has-text("3d")');
    await admin.waitForSelector('#storage-settings dd:has-text("12h")');
    const settings = (await api(admin, "GET", "/console/api/admin/storage")).body.settings;
    assert.equal(settings.upload_retention_secs, 3 * 86400);
    assert.equal(settings.video_retention_secs, 12 * 3600);

    // The group's quota: 2 MB and 3 files.
    assert.match(await admin.textContent("#storage-groups"), new RegExp(group));
    assert.ok((await admin.textContent("main")).includes(groupTitle));
    await admin.click(`#storage-groups button[data-group="${group}"]`);
    await admin.fill('dialog input[name="mb"]', "2");
    await admin.fill('dialog input[name="files"]', "3");
    await admin.click('dialog button[type="submit"]');
    await admin.waitForSelector("dialog", { state: "detached" });
    const rows = (await api(admin, "GET", "/console/api/admin/storage")).body.group_quotas;
    const row = rows.find((g) => g.group === group);
    assert.deepEqual([row.quota_bytes, row.quota_files, row.source], [2 * 1024 * 1024, 3, "console"]);

    // Put the shared server's retention back for the other tests.
    assert.equal((await api(admin, "PUT", "/console/api/admin/storage/retention", { uploads: "7d", videos: "30d" })).status, 200);
    await admin.close();

    // The customer uploads two files and sees them against the group's quota.
    const page = await freshPage(lang);
    await login(page, customer, PASSWORD);
    const up = await uploadPngs(page, 2);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    await page.goto(`${BASE}/#/overview`);
    await page.reload();
    await page.waitForSelector("#stat-storage");
    const text = await page.textContent(".stats");
    assert.ok(text.includes(`2 ${filesWord}`), text);
    const quota = await page.textContent("#stat-storage-quota");
    assert.ok(quota.includes("2 / 3") && quota.includes("2.0 MiB"), quota);
    await page.close();
  });
}
