// The official `openai` npm package against a live VideoApi (/v1/videos), unchanged.
// Env: VIDEOAPI_BASE, VIDEOAPI_KEY (a user with credits), VIDEOAPI_POOR_KEY (no credits).
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI, { APIError, NotFoundError, UnprocessableEntityError, toFile } from "openai";

const BASE = process.env.VIDEOAPI_BASE;
const KEY = process.env.VIDEOAPI_KEY;
const REF_MODEL = "video-2.0-mini-reference-to-video";
const TEXT_MODEL = "video-2.0-mini-text-to-video";
const client = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: KEY, maxRetries: 0, timeout: 30_000 });
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de" +
    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082",
  "hex",
);

async function api(path, key = KEY) {
  const r = await fetch(`${BASE}${path}`, { headers: { Authorization: `Bearer ${key}` } });
  return r.json();
}
const balance = async () => (await api("/v1/account")).credits;

// Poll with retrieve until finished (bounded: 20 s); the progress figures seen.
async function finish(video) {
  const seen = [video.progress];
  const deadline = Date.now() + 20_000;
  while (video.status === "queued" || video.status === "in_progress") {
    assert.ok(Date.now() < deadline, `timed out: ${JSON.stringify(video)}`);
    await new Promise((r) => setTimeout(r, 100));
    video = await client.videos.retrieve(video.id);
    seen.push(video.progress);
  }
  return { video, seen };
}

test("create, retrieve until completed, download the mirrored bytes", async () => {
  const before = await balance();
  const created = await client.videos.create({
    model: REF_MODEL,
    prompt: "a lighthouse in the rain",
    seconds: "8",
    size: "720x1280",
  });
  assert.equal(created.object, "video");
  assert.equal(created.status, "queued");
  const { video, seen } = await finish(created);
  assert.equal(video.status, "completed");
  assert.equal(video.progress, 100);
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "progress never goes down");
  assert.equal(video.size, "720x1280");
  assert.equal(video.seconds, "8");
  assert.equal(video.error, null);
  assert.equal(await balance(), before - 8 * 36);

  const content = await client.videos.downloadContent(video.id);
  const bytes = Buffer.from(await content.arrayBuffer());
  const task = await api(`/v1/video/generations/${video.id}`);
  const mirrored = Buffer.from(await (await fetch(task.url)).arrayBuffer());
  assert.ok(mirrored.length > 1000);
  assert.ok(bytes.equals(mirrored));

  await assert.rejects(client.videos.downloadContent(video.id, { variant: "thumbnail" }), NotFoundError);
});

test("an image file is the first frame", async () => {
  const created = await client.videos.create({
    model: REF_MODEL,
    prompt: "@Image1 smiles",
    input_reference: await toFile(PNG, "me.png", { type: "image/png" }),
    size: "1280x720",
    seconds: "4",
  });
  const { video } = await finish(created);
  assert.equal(video.status, "completed");
  assert.equal(video.size, "1280x720");
});

test("a failed video carries its error and is refunded", async () => {
  const before = await balance();
  const { video } = await finish(await client.videos.create({ model: TEXT_MODEL, prompt: "demo:fail" }));
  assert.equal(video.status, "failed");
  assert.equal(video.error.code, "demo_failure");
  assert.equal(await balance(), before);
});

test("no credits is a 402 APIError with our code", async () => {
  const poor = new OpenAI({ baseURL: `${BASE}/v1`, apiKey: process.env.VIDEOAPI_POOR_KEY, maxRetries: 0 });
  await assert.rejects(poor.videos.create({ model: TEXT_MODEL, prompt: "a cat" }), (e) => {
    assert.ok(e instanceof APIError);
    assert.equal(e.status, 402);
    assert.equal(e.code, "insufficient_credits");
    return true;
  });
});

test("a size the model cannot make is a 422 naming it", async () => {
  await assert.rejects(client.videos.create({ model: REF_MODEL, prompt: "x", size: "1792x1024" }), (e) => {
    assert.ok(e instanceof UnprocessableEntityError);
    assert.equal(e.param, "size");
    return true;
  });
});

test("list pages with after, both orders", async () => {
  const ids = [];
  for (let i = 0; i < 5; i++) {
    ids.push((await client.videos.create({ model: TEXT_MODEL, prompt: `js page ${i}` })).id);
  }
  const collect = async (query) => {
    const out = [];
    for await (const v of client.videos.list(query)) if (ids.includes(v.id)) out.push(v.id);
    return out;
  };
  assert.deepEqual(await collect({ limit: 2 }), [...ids].reverse());
  assert.deepEqual(await collect({ limit: 2, order: "asc" }), ids);
  for (const id of ids) await finish(await client.videos.retrieve(id));
});

test("delete removes a finished video's file and keeps the ledger", async () => {
  const { video } = await finish(await client.videos.create({ model: TEXT_MODEL, prompt: "js delete" }));
  const before = await balance();
  const deleted = await client.videos.delete(video.id);
  assert.deepEqual(deleted, { id: video.id, object: "video.deleted", deleted: true });
  assert.equal(await balance(), before);
  await assert.rejects(client.videos.downloadContent(video.id), NotFoundError);
});

test("remix where the model takes a video", async () => {
  const { video } = await finish(await client.videos.create({ model: REF_MODEL, prompt: "js fox", seconds: "4" }));
  const remix = await client.videos.remix(video.id, { prompt: "@Video1 in snow" });
  assert.notEqual(remix.id, video.id);
  assert.equal((await finish(remix)).video.status, "completed");
});
