from __future__ import annotations

import logging

import pytest

from bot import logs


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    def run(fmt: str, secrets: list[str], emit) -> str:  # noqa: ANN001
        logs.configure("DEBUG", fmt, secrets)
        emit(logging.getLogger("tweepy.client"))
        logging.getLogger().handlers.clear()
        return capsys.readouterr().err

    return run


def test_secrets_are_redacted_raw_encoded_and_decoded(captured) -> None:  # noqa: ANN001
    secret = "AAAA%2Fbearer+token=="
    out = captured(
        "text",
        [secret],
        lambda log: log.debug(
            "Headers: {'Authorization': 'Bearer %s'} %s %s", secret, "AAAA%252Fbearer%2Btoken%3D%3D", "AAAA/bearer+token=="
        ),
    )
    assert "bearer" not in out.replace("Bearer", "")
    assert out.count(logs.REDACTED) == 3


def test_the_redactor_takes_a_secret_out_of_any_text_in_every_form() -> None:
    redactor = logs.Redactor(["AAAA%2Fbearer+token==", "abc"])  # "abc": too short to be a secret worth redacting
    forms = {
        "raw": "AAAA%2Fbearer+token==",
        "URL-encoded": "AAAA%252Fbearer%2Btoken%3D%3D",
        "URL-encoded, lower-case hex": "AAAA%252fbearer%2btoken%3d%3d",
        "URL-decoded": "AAAA/bearer+token==",
        "form-decoded": "AAAA/bearer token==",
    }
    for name, form in forms.items():
        assert redactor.redact(f"401: {form}; abc") == f"401: {logs.REDACTED}; abc", name
    assert redactor.redact("wss://x/link?ticket=0123-abcd&app_id=A1") == f"wss://x/link?ticket={logs.REDACTED}&app_id=A1"


def test_each_record_is_one_line_with_control_characters_escaped(captured) -> None:  # noqa: ANN001
    out = captured("text", [], lambda log: log.warning("bad name: %s", "Eve\n2026-01-01 INFO forged\x1b[31m"))
    assert out.count("\n") == 1
    assert "\\n2026-01-01 INFO forged\\x1b[31m" in out


def test_json_format_is_one_object_per_line_and_redacted(captured) -> None:  # noqa: ANN001
    import json

    out = captured("json", ['sec"ret\\1'], lambda log: log.error('token sec"ret\\1 and\nnewline'))
    [line] = out.splitlines()
    entry = json.loads(line)
    assert entry["message"] == f"token {logs.REDACTED} and\nnewline"
    assert entry["level"] == "ERROR" and entry["logger"] == "tweepy.client"


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("offset", range(-2, 24, 3))
def test_a_long_message_is_cut_only_once_its_secrets_are_out(captured, fmt: str, offset: int) -> None:  # noqa: ANN001
    secret = "xoxb-2222-STRADDLING-secret"
    text = "a" * (logs.MAX_MESSAGE - offset) + secret + "b" * 100  # the secret across where the message is cut
    out = captured(fmt, [secret], lambda log: log.error("Slack said: %s", text))
    assert all(secret[:n] not in out for n in range(6, len(secret) + 1)), "no part of the secret is left"
    assert "more characters" in out and len(out) < logs.MAX_MESSAGE + 200, "and the line is cut"
