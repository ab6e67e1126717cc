"""The report in Slack: the period's numbers in a few sections, and the chart (uploaded first, bot.report.chart) named
by its file id."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from bot.humanize import format_age, period
from bot.messages import ReportNote
from bot.model import SlackMessage
from bot.report.model import ERASED, AccountReport, Report
from bot.slack.text import clean, context, escape, link, message, plain, section

LONGEST = 5  # waits named


def report_message(note: ReportNote) -> SlackMessage:
    report = Report.from_json(note.report)
    title = f":bar_chart: *How we answered, {_period(report)}*"
    blocks = [section(f"{title}\n{_summary(report.total, report.hours)}")]
    if len(report.accounts) > 1:
        blocks.append(section("\n".join(f"*{escape(a.name)}*: {_line(a)}" for a in report.accounts)))
    blocks.append(section(_people(report.total)))
    if report.total.longest_waits:
        waits = [
            f"• {link(w.url, '@' + escape(clean(w.author, single_line=True)) if w.author else ERASED)} "
            f"waited {format_age(timedelta(seconds=w.waited))}"
            + ("" if w.state == "answered" else f" ({w.state})")
            for w in report.total.longest_waits[:LONGEST]
        ]
        blocks.append(section("*Waited longest*\n" + "\n".join(waits)))
    if note.chart:
        threshold = format_age(timedelta(seconds=note.alert_after))
        alt = f"Mentions per day, answered and not, and the median time to first reply against {threshold}"
        blocks.append({"type": "image", "slack_file": {"id": note.chart}, "alt_text": alt, "title": plain("Per day")})
    blocks.append(context("Every number, per account and per person: `replywatch report`"))
    return message(f"How we answered, {_period(report)}: {_line(report.total)}", blocks)


def _summary(a: AccountReport, hours: bool) -> str:
    lines = [
        f"{a.received} mentions, {a.needing_reply} needing a reply: *{a.answered} answered* ({_rate(a)}), {a.open} still open"
        + (f", {a.expired} never answered" if a.expired else ""),
        f"*{_share(a.within_target_rate)} answered within target*"
        + (f"; {a.answered_from_slack} answered from Slack" if a.answered_from_slack else ""),
        f"Time to first reply: median {_age(a.reply_median)}, 90 % within {_age(a.reply_p90)}"
        + (f" (in open hours: {_age(a.open_reply_median)}, {_age(a.open_reply_p90)})" if hours else ""),
        f"{a.alerts_sent} alerts, {a.escalations} escalations, {a.breaches} answered late or never after an alert",
        f"Talking with people: {a.replies} replies against {a.originals} posts of our own",
    ]
    if a.period_reads.posts:
        lines.append(f"Read {a.period_reads.posts:,} posts in {a.period_reads.requests:,} requests, about ${a.period_reads.spend:,.2f}")
    return "\n".join(lines)


def _people(a: AccountReport) -> str:
    answered = ", ".join(f"@{escape(clean(r.author, single_line=True))} {r.answered}" for r in a.responders) or "nobody"
    claims, snoozes, closes = (sum(getattr(u, k) for u in a.slack) for k in ("claims", "snoozes", "closes"))
    return f"*Answered by* {answered}\n*In Slack* {claims} claims, {snoozes} snoozes, {closes} closed as needing no reply"


def _line(a: AccountReport) -> str:
    return f"{a.answered} of {a.needing_reply} answered ({_rate(a)}), median {_age(a.reply_median)}, {a.open} open"


def _rate(a: AccountReport) -> str:
    return _share(a.reply_rate)


def _share(rate: float | None) -> str:
    return "–" if rate is None else f"{rate:.0%}"


def _age(seconds: float | None) -> str:
    return "–" if seconds is None else format_age(timedelta(seconds=seconds))


def _period(report: Report) -> str:
    return period(report.start, report.end, ZoneInfo(report.timezone))
