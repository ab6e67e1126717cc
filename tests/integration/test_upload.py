"""Uploading the report's chart: slack_sdk's files_upload_v2 against the Slack stand-in. The file stays private
(no channel) until a message's image block shows it, and every failure comes out as a bot.errors class."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bot.errors import AuthFailed, RateLimited, Rejected, ServiceError, Unavailable
from bot.model import SlackMessage
from bot.slack.client import SlackClient
from bot.standins.http import Reply
from tests.standins.slack_api import UPLOAD_PATH, FakeSlack

TOKEN = "xoxb-1111-2222-uploadsecret"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40  # not a picture, but bytes that show any damage


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack(token=TOKEN)
    yield fake
    fake.close()


@pytest.fixture
def client(slack: FakeSlack) -> SlackClient:
    return SlackClient(token=TOKEN, base_url=slack.url, timeout=5)


def showing(file_id: str) -> SlackMessage:
    return SlackMessage(
        text="Weekly report",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Weekly report*"}},
            {"type": "image", "slack_file": {"id": file_id}, "alt_text": "Mentions per day, answered and not"},
        ],
    )


def upload(client: SlackClient) -> str:
    return client.upload("report-2025-06-23.png", PNG, "Week of 23 June", "Mentions per day, answered and not")


def test_the_file_arrives_byte_for_byte_with_its_title_and_stays_private(client: SlackClient, slack: FakeSlack) -> None:
    file_id = upload(client)
    [file] = slack.files()
    assert file_id == file.id and file_id.startswith("F")
    assert file.content == PNG
    assert (file.filename, file.title, file.alt_txt) == ("report-2025-06-23.png", "Week of 23 June", "Mentions per day, answered and not")
    assert file.completed
    assert file.channels == [] and slack.messages == [], "shared nowhere: no file message of its own"
    [complete] = [r.form() for r in slack.http.calls("files.completeUploadExternal")]
    assert not complete.get("channel_id") and not complete.get("channels")


def test_a_message_naming_the_file_is_accepted(client: SlackClient, slack: FakeSlack) -> None:
    file_id = upload(client)
    channel, ts = client.post("C0ALERTS", showing(file_id), tag="report:2025-06-23")
    assert [m.ts for m in slack.messages_with_image(file_id)] == [ts] and channel == "C0ALERTS"
    client.update(channel, ts, showing(file_id))  # an edit that keeps the image
    assert len(slack.messages_with_image(file_id)) == 1


def test_a_message_naming_an_unknown_or_unfinished_file_is_refused(client: SlackClient, slack: FakeSlack) -> None:
    with pytest.raises(Rejected, match="invalid_blocks"):
        client.post("C0ALERTS", showing("F0NOSUCH"), tag="report:x")
    slack.http.fail("files.completeUploadExternal", Reply(500, {"ok": False, "error": "internal_error"}))
    with pytest.raises(Unavailable, match="files.completeUploadExternal"):
        upload(client)
    [unfinished] = slack.files()
    assert unfinished.content == PNG and not unfinished.completed
    with pytest.raises(Rejected, match="invalid_blocks"):
        client.post("C0ALERTS", showing(unfinished.id), tag="report:x")
    channel, ts = client.post("C0ALERTS", SlackMessage("text only", []), tag="report:y")
    with pytest.raises(Rejected, match="invalid_blocks"):
        client.update(channel, ts, showing("F0NOSUCH"))
    assert slack.messages_with_image("F0NOSUCH") == [] and len(slack.messages) == 1


def test_completing_an_unknown_file_is_refused(slack: FakeSlack) -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    web = WebClient(token=TOKEN, base_url=slack.url, retry_handlers=[])
    with pytest.raises(SlackApiError) as caught:
        web.files_completeUploadExternal(files=[{"id": "F0NOSUCH", "title": "x"}])
    assert caught.value.response["error"] == "file_not_found"


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed", "missing_scope"])
def test_a_refused_token_is_auth_failed_and_the_token_is_not_in_the_message(slack: FakeSlack, code: str) -> None:
    client = SlackClient(token=TOKEN, base_url=slack.url, timeout=5)
    slack.http.fail("files.getUploadURLExternal", Reply(200, {"ok": False, "error": code, "needed": "files:write"}))
    with pytest.raises(AuthFailed, match=code) as caught:
        upload(client)
    assert TOKEN not in str(caught.value)
    assert slack.files() == []


def test_a_wrong_token_is_auth_failed(slack: FakeSlack) -> None:
    wrong = "xoxb-9999-8888-wrongsecret"
    with pytest.raises(AuthFailed, match="invalid_auth") as caught:
        upload(SlackClient(token=wrong, base_url=slack.url, timeout=5))
    assert wrong not in str(caught.value)


def test_a_server_echoing_the_token_does_not_put_it_in_the_error(client: SlackClient, slack: FakeSlack) -> None:
    slack.http.fail("files.completeUploadExternal", Reply(200, {"ok": False, "error": f"proxy: bad header Bearer {TOKEN}"}))
    with pytest.raises(Rejected) as caught:
        upload(client)
    assert TOKEN not in str(caught.value) and "files.completeUploadExternal" in str(caught.value)


@pytest.mark.parametrize("path", ["files.getUploadURLExternal", UPLOAD_PATH])
def test_a_429_is_rate_limited_with_retry_after(client: SlackClient, slack: FakeSlack, path: str) -> None:
    slack.http.fail(path, Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        upload(client)
    assert caught.value.retry_after == timedelta(seconds=7)


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        pytest.param({"reply": Reply(500, raw=b"upstream error")}, Unavailable, id="the upload URL answers 500"),
        pytest.param({"reply": Reply(403, raw=b"expired")}, Unavailable, id="the upload URL has expired"),
        pytest.param({"drop": True}, Unavailable, id="the bytes arrive, the answer is lost"),
        pytest.param({"reply": None}, Unavailable, id="the connection closes unanswered"),
    ],
)
def test_a_failed_upload_is_classified_and_the_next_one_works(
    client: SlackClient, slack: FakeSlack, fault: dict, kind: type[ServiceError]
) -> None:
    slack.http.fail(UPLOAD_PATH, **fault)
    with pytest.raises(kind):
        upload(client)
    assert not any(f.completed for f in slack.files())
    file_id = upload(client)
    assert slack.files()[-1].id == file_id and slack.files()[-1].completed and len(slack.files()) == 2


def test_a_held_upload_times_out_and_finishes_nothing(slack: FakeSlack) -> None:
    client = SlackClient(token=TOKEN, base_url=slack.url, timeout=1)
    slack.hold_uploads()
    failures: list[Exception] = []

    def run() -> None:
        try:
            upload(client)
        except ServiceError as exc:
            failures.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert slack.upload_held.wait(5), "the upload reached the upload URL and waits there"
    assert client.auth_test()["ok"], "other calls go on while an upload is held"
    worker.join(10)
    assert not worker.is_alive() and len(failures) == 1 and isinstance(failures[0], Unavailable)
    [file] = slack.files()
    assert file.content is None and not file.completed
    slack.release_uploads()
    assert upload(client) != file.id
    assert [f.completed for f in slack.files()] == [False, True]
