"""The demo's closing summary: what became of each mention of the hour (alerted, answered, rightly ignored and why,
deleted), whether any message went out twice, and what collection read, held against what the script expects."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

from bot.demo.script import HOUR, Fate, expected
from bot.model import AccountKey, Network, Read, Status
from bot.report.cost import Prices, spend
from bot.report.model import Received


@dataclass
class NetworkReads:
    """What collection asked one network for: requests per endpoint (the adapter's name for it), the posts all the
    answers held (a post read again counts again: what X bills) and what that cost at X's prices."""

    requests: Counter[str] = field(default_factory=Counter)
    posts: int = 0
    spend: float = 0.0


@dataclass
class Summary:
    fates: dict[Fate, int] = field(default_factory=lambda: dict.fromkeys(Fate, 0))
    unexpected: list[str] = field(default_factory=list)  # mentions that ended in no Fate (a bug, if any)
    ignored: Counter[str] = field(default_factory=Counter)  # why → how many
    digests: int = 0
    escalated: int = 0
    duplicates: int = 0
    mentions: Counter[str] = field(default_factory=Counter)  # network's label → mentions stored
    reads: dict[str, NetworkReads] = field(default_factory=dict)  # network's label → what collection read there

    @property
    def ok(self) -> bool:
        """Every mention ended as the script says, and nothing went out twice."""
        return self.fates == expected(HOUR) and not self.unexpected and self.duplicates == 0


def summarize(received: list[Received], printed: list[str], reads: list[tuple[AccountKey, Read]], prices: Prices) -> Summary:
    """The summary of the hour from the store's mentions, the tags the sink printed and the reads counted."""
    found = Summary()
    for m in received:
        found.mentions[Network(m.network).label] += 1
        fate = _fate(m)
        if fate is None:
            found.unexpected.append(f"{m.author} on {m.network}: {m.status}, {'alerted' if m.alerted else 'not alerted'}")
            continue
        found.fates[fate] += 1
        found.escalated += m.escalated
        if fate is Fate.IGNORED:
            found.ignored[m.reason] += 1
    tags = Counter(printed)
    found.duplicates = sum(n - 1 for n in tags.values() if n > 1)
    found.digests = sum(1 for tag in tags if tag.startswith("digest:"))
    for where, read in reads:
        network = found.reads.setdefault(where.network.label, NetworkReads())
        network.requests[read.endpoint] += read.requests
        network.posts += read.posts
        network.spend += spend(where.network, read, prices)
    return found


def _fate(m: Received) -> Fate | None:
    if m.status == Status.ANSWERED:
        return Fate.ANSWERED_LATE if m.alerted else Fate.ANSWERED_IN_TIME
    if m.status == Status.OPEN and m.alerted:
        return Fate.OPEN
    if m.status == Status.IGNORED:
        return Fate.IGNORED
    if m.status == Status.DELETED and not m.alerted:
        return Fate.DELETED
    return None


def render(summary: Summary) -> Group:
    """The summary as a terminal shows it."""
    table = Table(title="What happened in the hour", title_justify="left", show_header=True, header_style="bold")
    table.add_column("mentions", justify="right")
    table.add_column("ended as")
    table.add_column("expected", justify="right")
    want = expected(HOUR)
    for fate in Fate:
        table.add_row(str(summary.fates[fate]), fate.value, str(want[fate]))
    lines = [
        Text(f"{summary.digests} digest(s) for mentions that fell due together; {summary.escalated} mention(s) escalated; "
             f"{summary.duplicates} message(s) sent twice."),
        Text("Rightly ignored: " + ("; ".join(f"{n} {why}" for why, n in sorted(summary.ignored.items())) or "none") + "."),
        Text("Reads: each poll asks for the account's mentions, then for its own posts and its teammates' (for the "
             "replies); look-ups find the accounts at the start and check a post is still there before anyone is pinged."),
        *(Text(f"  {line}") for line in read_lines(summary)),
        *(Text(f"UNEXPECTED: {line}", "bold red") for line in summary.unexpected),
        Text("Every mention ended as it should, and nothing was sent twice." if summary.ok
             else "Something ended otherwise than it should: see above.", "bold green" if summary.ok else "bold red"),
    ]
    return Group(table, *lines)


def read_lines(summary: Summary) -> list[str]:
    """Per network: the mentions stored, and every request it took, by endpoint (most first); on X, what it cost."""
    lines = []
    for network in sorted(summary.mentions.keys() | summary.reads.keys()):
        read = summary.reads.get(network, NetworkReads())
        endpoints = ", ".join(f"{endpoint} {n}" for endpoint, n in sorted(read.requests.items(), key=lambda e: (-e[1], e[0])))
        cost = f"; {read.posts} posts returned, ${read.spend:.3f} at X's prices" if read.spend else ""
        lines.append(f"{network}: {summary.mentions[network]} mentions stored; {read.requests.total()} requests "
                     f"({endpoints or 'none'}){cost}.")
    return lines
