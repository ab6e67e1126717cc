"""One `replywatch run` watching an X, a Bluesky and a Mastodon account, the last two posting to a second channel:
each network's mentions alerted once, in their account's channel, and edited when answered on their own network."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from bot.standins.bluesky_api import FakeBluesky
from bot.standins.http import wait_for
from bot.standins.mastodon_api import FakeMastodon
from bot.standins.x_api import FakeX
from tests.e2e.test_process import Bot
from tests.standins.slack_api import FakeSlack, Message

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
APP_PASSWORD, MASTODON_TOKEN = "bsky-app-pass-7f3a", "masto-token-91c2"


def _shown(message: Message) -> str:
    """Everything a message ever showed: its text and blocks, as posted and as edited."""
    return json.dumps([message.text, message.blocks, message.edits])


def _alerts(slack: FakeSlack, channel: str, network: str) -> list[Message]:
    return [
        m for m in slack.posts()
        if m.channel == channel and m.metadata and m.metadata["event_payload"]["tag"].startswith("mention:")
        and f"on {network}" in json.dumps(m.edits[0]["blocks"] if m.edits else m.blocks)
    ]


def test_one_run_watches_x_bluesky_and_mastodon(env: dict[str, str], fake_x: FakeX, tmp_path: Path) -> None:
    slack = FakeSlack(channels={"C0ALERTS": "alerts", "C0SOCIAL": "social"})
    bsky, masto = FakeBluesky(), FakeMastodon(token=MASTODON_TOKEN)
    try:
        b_acme = bsky.add_user("acme.bsky.social", "Acme", password=APP_PASSWORD)
        b_carol, b_dave, b_gus = (bsky.add_user(f"{n}.bsky.social") for n in ("carol", "dave", "gus"))
        m_acme, m_erin, m_frank = (masto.add_account(n) for n in ("acme", "erin", "frank"))
        (tmp_path / "replywatch.toml").write_text(
            f'[[accounts]]\nnetwork = "x"\nhandle = "acme"\n\n'
            f'[[accounts]]\nnetwork = "bluesky"\nhandle = "acme.bsky.social"\ninstance = "{bsky.url}"\n'
            f'app_password_env = "BLUESKY_APP_PASSWORD"\nchannel = "#social"\n\n'
            f'[[accounts]]\nnetwork = "mastodon"\nhandle = "acme"\ninstance = "{masto.url}"\n'
            f'access_token_env = "MASTODON_TOKEN"\nchannel = "#social"\n'
        )
        settings = {
            **env, "SLACK_API_BASE_URL": slack.url, "SLACK_BOT_TOKEN": slack.token, "ALERT_AFTER": "3s", "POLL_INTERVAL": "1s",
            "REPLYWATCH_CONFIG": str(tmp_path / "replywatch.toml"), "BLUESKY_APP_PASSWORD": APP_PASSWORD,
            "MASTODON_TOKEN": MASTODON_TOKEN,
        }
        fake_x.limit = 100_000
        bot = Bot(settings, tmp_path / "bot.log")
        bot.start()
        try:
            started = lambda: all((fake_x.http.calls("/mentions"), bsky.http.calls("listNotifications"),  # noqa: E731
                                   masto.http.calls("/api/v1/notifications")))
            assert wait_for(started, timeout=30), bot.log_path.read_text()[-3000:]
            x_bob = fake_x.add_user("bob")
            x_question = fake_x.post(x_bob, "@acme where is my refund?")
            own = bsky.post(b_acme, "Our new shop is open")
            b_question = bsky.post(b_carol, "@acme is it open on sundays?", mentions=(b_acme,))
            bsky.like(b_gus, own)
            bsky.repost(b_gus, own)
            bsky.follow(b_gus, b_acme)
            b_other = bsky.post(b_dave, "a thought of my own")
            bsky.post(b_acme, "@dave agreed", reply_to=b_other)  # a reply on Bluesky: it answers no X mention
            masto.post(m_erin, "@acme my card number is 4242 secret", visibility="direct")
            m_html = masto.post(m_frank, "@acme fish & chips <b>now</b>?")
            wait_for(lambda: len(_alerts(slack, "C0SOCIAL", "Bluesky")) + len(_alerts(slack, "C0SOCIAL", "Mastodon")) >= 3
                     and _alerts(slack, "C0ALERTS", "X"), timeout=30)
            bsky.post(b_acme, "@carol yes, 10 to 4", reply_to=b_question)
            masto.post(m_acme, "@frank they are!", reply_to=m_html)
            answered = lambda: all(  # noqa: E731
                any("answered after" in _shown(m) for m in _alerts(slack, "C0SOCIAL", network)) for network in ("Bluesky", "Mastodon")
            )
            assert wait_for(answered, timeout=30), bot.log_path.read_text()[-3000:]
            wait_for(lambda: False, timeout=2)  # two more polls and sweeps: nothing else may be posted
            assert bot.stop(signal.SIGTERM) == 0
        finally:
            if bot.proc and bot.proc.poll() is None:
                bot.proc.kill()

        x_alerts, b_alerts, m_alerts = (_alerts(slack, c, n) for c, n in (("C0ALERTS", "X"), ("C0SOCIAL", "Bluesky"),
                                                                           ("C0SOCIAL", "Mastodon")))
        assert [f"/status/{x_question}" in _shown(m) for m in x_alerts] == [True], "the X mention: one alert, in #alerts"
        assert not any("answered after" in _shown(m) for m in x_alerts), "a reply on Bluesky never answers an X mention"
        assert len(b_alerts) == 1 and "is it open on sundays" in _shown(b_alerts[0]), "one alert; no like, repost or follow"
        assert "answered after" in _shown(b_alerts[0]) and "to @acme.bsky.social on Bluesky" in _shown(b_alerts[0])
        assert len(m_alerts) == 2, "the direct mention and the other one, once each"
        everything = "".join(_shown(m) for m in slack.messages)
        assert "4242" not in everything and "secret" not in everything, "a direct message's text never reaches Slack"
        html = next(m for m in m_alerts if "fish" in _shown(m))
        quoted = html.edits[0]["blocks"][0]["text"]["text"] if html.edits else html.blocks[0]["text"]["text"]
        assert "fish &amp; chips &lt;b&gt;now&lt;/b&gt;?" in quoted, "entities and tags as the person typed them, escaped once"
        assert "<p>" not in everything and "&amp;amp;" not in everything
        assert "answered after" in _shown(html)
        assert len(bsky.http.calls("createSession")) == 1, "one login, kept"
        assert "Traceback" not in bot.log_path.read_text()
    finally:
        for stand_in in (slack, bsky, masto):
            stand_in.close()
