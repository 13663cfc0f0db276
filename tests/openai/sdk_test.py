"""The official `openai` Python SDK against a live VideoApi (/v1/videos), unchanged.

Env: VIDEOAPI_BASE, VIDEOAPI_KEY (a user with credits), VIDEOAPI_POOR_KEY (no credits).
Prints one line per check and a closing "N passed, M failed".
"""

import json
import os
import sys
import traceback
import urllib.request

import openai
from openai import OpenAI

BASE = os.environ["VIDEOAPI_BASE"]
KEY = os.environ["VIDEOAPI_KEY"]
POOR = os.environ["VIDEOAPI_POOR_KEY"]
REF_MODEL = "video-2.0-mini-reference-to-video"
TEXT_MODEL = "video-2.0-mini-text-to-video"
POLL_MS = 100

client = OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0, timeout=30)

# A 1x1 PNG: the first frame of an image-to-video request, sent as a file part.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082"
)


def api(path, key=KEY):
    req = urllib.request.Request(f"{BASE}{path}", headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.load(resp)


def balance():
    return api("/v1/account")["credits"]


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def test_create_and_poll_retrieve_and_download_the_mirrored_file():
    before = balance()
    video = client.videos.create_and_poll(
        model=REF_MODEL,
        prompt="a paper boat on a calm lake",
        seconds="8",
        size="720x1280",
        poll_interval_ms=POLL_MS,
    )
    assert video.status == "completed", video
    assert video.object == "video" and video.progress == 100, video
    assert video.seconds == "8" and video.size == "720x1280", video
    assert video.model == REF_MODEL and video.error is None, video
    assert video.completed_at >= video.created_at, video
    assert balance() == before - 8 * 36

    again = client.videos.retrieve(video.id)
    assert again.id == video.id and again.status == "completed"

    content = client.videos.download_content(video.id)
    task = api(f"/v1/video/generations/{video.id}")
    assert task["status"] == "completed", task
    mirrored = fetch(task["url"])
    assert content.content == mirrored and len(mirrored) > 1000

    try:
        client.videos.download_content(video.id, variant="thumbnail")
        raise AssertionError("a thumbnail was served")
    except openai.NotFoundError as e:
        assert e.status_code == 404 and e.body["code"] == "not_found", e.body


def test_an_image_file_is_the_first_frame_and_extra_body_passes_unified_fields():
    video = client.videos.create_and_poll(
        model=REF_MODEL,
        prompt="@Image1 turns around",
        input_reference=("me.png", PNG, "image/png"),
        size="1280x720",
        seconds="4",
        extra_body={"generate_audio": False, "end_user_id": "sdk-user"},
        poll_interval_ms=POLL_MS,
    )
    assert video.status == "completed", video
    assert video.size == "1280x720" and video.seconds == "4", video


def test_a_failed_video_has_its_error_and_is_refunded():
    before = balance()
    video = client.videos.create_and_poll(
        model=TEXT_MODEL, prompt="demo:fail please", poll_interval_ms=POLL_MS
    )
    assert video.status == "failed", video
    assert video.error is not None and video.error.code == "demo_failure", video
    assert video.error.message, video
    assert balance() == before, "refunded"


def test_no_credits_is_a_402_api_status_error():
    poor = OpenAI(base_url=f"{BASE}/v1", api_key=POOR, max_retries=0)
    try:
        poor.videos.create(model=TEXT_MODEL, prompt="a cat")
        raise AssertionError("created without credits")
    except openai.APIStatusError as e:
        assert e.status_code == 402, e
        assert e.body["code"] == "insufficient_credits", e.body
    assert poor.videos.list().data == []


def test_a_size_the_model_cannot_make_is_a_422_naming_it():
    try:
        client.videos.create(model=REF_MODEL, prompt="x", size="1792x1024")
        raise AssertionError("accepted")
    except openai.UnprocessableEntityError as e:
        assert e.body["param"] == "size", e.body
        assert "1792x1024" in e.body["message"], e.body


def test_list_pages_with_after_both_orders():
    ids = [client.videos.create(model=TEXT_MODEL, prompt=f"page {i}").id for i in range(5)]
    newest_first = [v.id for v in client.videos.list(limit=2)]
    assert [i for i in newest_first if i in ids] == ids[::-1], newest_first
    oldest_first = [v.id for v in client.videos.list(limit=2, order="asc")]
    assert [i for i in oldest_first if i in ids] == ids, oldest_first
    page = client.videos.list(limit=2)
    assert len(page.data) == 2 and page.has_more and page.last_id == page.data[-1].id
    for i in ids:
        client.videos.poll(i, poll_interval_ms=POLL_MS)


def test_delete_removes_the_file_and_keeps_the_ledger():
    video = client.videos.create_and_poll(
        model=TEXT_MODEL, prompt="to be deleted", poll_interval_ms=POLL_MS
    )
    url = api(f"/v1/video/generations/{video.id}")["url"]
    before = balance()
    deleted = client.videos.delete(video.id)
    assert deleted.id == video.id and deleted.deleted is True, deleted
    assert deleted.object == "video.deleted"
    assert balance() == before
    try:
        fetch(url)
        raise AssertionError("the file is still served")
    except urllib.error.HTTPError as e:
        assert e.code == 404
    try:
        client.videos.download_content(video.id)
        raise AssertionError("content after delete")
    except openai.NotFoundError:
        pass


def test_remix_where_the_model_takes_a_video_and_422_where_not():
    source = client.videos.create_and_poll(
        model=REF_MODEL, prompt="a fox", seconds="4", poll_interval_ms=POLL_MS
    )
    remix = client.videos.remix(source.id, prompt="@Video1 at night")
    assert remix.id != source.id and remix.seconds == "4", remix
    done = client.videos.poll(remix.id, poll_interval_ms=POLL_MS)
    assert done.status == "completed", done
    text = client.videos.create_and_poll(
        model=TEXT_MODEL, prompt="text only", poll_interval_ms=POLL_MS
    )
    try:
        client.videos.remix(text.id, prompt="again")
        raise AssertionError("remixed a text model")
    except openai.UnprocessableEntityError as e:
        assert e.body["code"] == "remix_unsupported", e.body


def main():
    tests = [(n, f) for n, f in globals().items() if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
            passed += 1
            print(f"ok   {name}")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
    print(f"python-openai: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
