"""The shape STYLE.md asks for, held: services know no network's adapter and no Slack layout, and no module grows
past what one reading takes in."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
OUTSIDE = ("bot.slack", "bot.sources", "slack_sdk", "tweepy", "atproto", "mastodon", "sqlalchemy")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((BOT / "services").glob("*.py")), ids=lambda p: p.name)
def test_a_service_imports_no_adapter_and_no_layout(path: Path) -> None:
    bad = sorted(m for m in _imports(path) if m.startswith(OUTSIDE))
    assert bad == [], f"{path.name} imports {bad}: services talk to ports, the sink lays messages out"


def test_rules_and_the_model_import_nothing_of_the_outside() -> None:
    # bot.sources itself is the registry of the networks' specs: data, no SDK (see test_a_spec_is_data below); the
    # model reads a network's label there
    for name in ("rules.py", "model.py", "messages.py", "backoff.py"):
        assert not [m for m in _imports(BOT / name) if m.startswith(OUTSIDE) and m != "bot.sources"], name


def test_no_module_is_so_long_that_it_likely_holds_two_jobs() -> None:
    """A smell alarm, not the rule: the rule is one job per module (each module's docstring states it), and a module
    that holds one concept may well be long. Past 600 lines, look again. bot/standins is left out: each is one API's
    stand-in, as long as the shapes of that API it answers in."""
    long = {
        p.relative_to(BOT).as_posix(): n for p in BOT.rglob("*.py")
        if "standins" not in p.parts and (n := len(p.read_text().splitlines())) > 600
    }
    assert long == {}


SINKS = {"slack": "bot.slack", "console": "bot.console"}


def test_a_sink_is_one_folder() -> None:
    """A sink imports nothing of another, and only what builds one (bot/app/, and the demo, which prints to its own
    console) imports a sink: what the sinks share (the cards, what a note says, how text from strangers is shown) is
    sink-neutral. A new sink is a folder and a line in bot/app/verify.py."""
    for path in BOT.rglob("*.py"):
        rel = path.relative_to(BOT)
        if rel.parts[0] in {"app", "demo"}:
            continue
        others = [module for name, module in SINKS.items() if rel.parts[0] != name]
        assert not [m for m in _imports(path) if m.startswith(tuple(others))], rel


def test_nothing_but_the_demo_uses_the_stand_ins() -> None:
    for path in BOT.rglob("*.py"):
        if "standins" not in path.parts and "demo" not in path.parts:
            assert not [m for m in _imports(path) if m.startswith("bot.standins")], path


# --- a network is one folder -------------------------------------------------------------------------------------
# Outside bot/sources/NAME/, no module names the network NAME in code: what the rest needs of it is in its spec
# (bot/sources/NAME/spec.py), read through the registry (bot.sources.SPECS). In code means docstrings, comments and
# English sentences about a network do not count ("asks on Bluesky"); these do:
#   - its member of Network: `Network.MASTODON`;
#   - a string that is its name or its label, as a key, a comparison or a label map: "mastodon", "Mastodon";
#   - a string listing two or more networks, hand-typed: "one of x, bluesky, mastodon", "X, Bluesky and Mastodon";
#   - an import of its folder (bot.sources.mastodon…) or of its SDK (the spec's `sdk`: mastodon, tweepy, atproto…).
# Allowed: the registry's import of each spec (bot/sources/__init__.py), and in bot/model.py the members of Network
# and Mention's default network (X, the only one before there were three). Exempt, as a whole folder (bot/standins/,
# one stand-in of a network's API a module, names none in code and is held to the rule):
EXEMPT = {
    "demo": "an hour's story scripted on the three networks' stand-ins, event by event: it names each network because it"
            " stages a scene on each; it is `replywatch demo` only (the CLI adds the command, nothing else imports it)",
}


def _networks() -> dict[str, tuple[str, str]]:
    """Each network's name → (its label, its SDK), from the registry."""
    from bot.sources import SPECS

    return {name: (s.label, s.sdk) for name, s in SPECS.items()}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _allowed(rel: str, tree: ast.AST) -> set[int]:
    """The nodes that may name a network: the registry's imports of the specs, Network's members, Mention's default."""
    keep: set[int] = set()
    for node in ast.walk(tree):
        if rel == "sources/__init__.py" and isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".spec"):
            keep.add(id(node))
        if rel == "model.py" and isinstance(node, ast.ClassDef) and node.name == "Network":
            keep.update(id(n) for n in ast.walk(node))
        if rel == "model.py" and isinstance(node, ast.ClassDef) and node.name == "Mention":
            keep.update(id(n) for field in node.body if isinstance(field, ast.AnnAssign)
                        and getattr(field.target, "id", "") == "network" for n in ast.walk(field))
    return keep


def _said(word: str, text: str) -> bool:
    """`word` stands in `text` as a word of its own ("x:acme", "on X,"), not inside another (X_ACCOUNT, mastodon.social)."""
    return re.search(rf"(?<![\w.@/-]){re.escape(word)}(?![\w.-])", text) is not None


def names_of_networks(rel: str, text: str) -> list[tuple[str, int, str]]:
    """(network, line, how) for each place the module bot/`rel`, whose source is `text`, names a network in code,
    leaving out the network whose folder it is in."""
    networks = _networks()
    tree = ast.parse(text)
    skip = _docstrings(tree) | _allowed(rel, tree)
    parts = rel.split("/")
    own = parts[1] if parts[0] == "sources" and len(parts) > 2 else None
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            listed = [n for n, (label, _) in networks.items() if _said(n, node.value) or _said(label, node.value)]
        for name, (label, sdk) in networks.items():
            if name == own:
                continue
            how = None
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Network":
                how = f"Network.{node.attr}" if node.attr == name.upper() else None
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if node.value in (name, label):
                    how = repr(node.value)
                elif name in listed and len(listed) > 1:
                    how = f"networks listed by hand: {node.value[:60]!r}"
            elif isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for m in modules:
                    top = m.split(".")[0]
                    if m == f"bot.sources.{name}" or m.startswith(f"bot.sources.{name}.") or top == sdk or top.startswith(f"{sdk}_"):
                        how = f"import {m}"
            if how:
                found.append((name, getattr(node, "lineno", 0), how))
    return found


def _outside() -> list[Path]:
    return sorted(p for p in BOT.rglob("*.py") if p.relative_to(BOT).parts[0] not in EXEMPT)


@pytest.mark.parametrize("path", _outside(), ids=lambda p: p.relative_to(BOT).as_posix())
def test_no_module_outside_a_network_folder_names_the_network(path: Path) -> None:
    rel = path.relative_to(BOT).as_posix()
    found = names_of_networks(rel, path.read_text(encoding="utf-8"))
    assert found == [], f"bot/{rel} names {found}: read the network's spec (bot.sources.SPECS) instead"


@pytest.mark.parametrize("line", [
    "where = Network.MASTODON", 'SESSION = {"bluesky": True}', 'HELP = "one of x, bluesky, mastodon"',
    'HELP = f"on X, Bluesky and {more}"', "import tweepy", "from atproto_client import Client",
    "from bot.sources.mastodon import client",
])
def test_the_rule_sees_a_network_named(line: str) -> None:
    poll = (BOT / "services" / "poll.py").read_text(encoding="utf-8")
    assert names_of_networks("services/poll.py", poll) == []
    assert names_of_networks("services/poll.py", f"{poll}\n{line}\n"), line
    assert names_of_networks("sources/mastodon/client.py", f"{poll}\nwhere = Network.MASTODON\n") == [], "its folder may"
    prose = 'def told() -> None:\n    """On Bluesky or Mastodon, as on X."""  # "mastodon"\n'
    assert names_of_networks("services/poll.py", f"{poll}\n{prose}") == [], "a docstring or a comment may"


def test_every_network_is_a_member_a_spec_and_a_folder() -> None:
    from bot.model import Network
    from bot.sources import SPECS

    assert [n.value for n in Network] == list(SPECS), "a Network member for each line of the registry, in its order"
    for name, spec in SPECS.items():
        folder = BOT / "sources" / name
        assert (folder / "spec.py").is_file() and spec.name == name
        assert any(m.split(".")[0].startswith(spec.sdk) for p in folder.glob("*.py") for m in _imports(p)), (
            f"{name}: its folder imports no {spec.sdk}, the SDK its spec names"
        )


def test_a_spec_is_data_the_registry_loads_no_sdk() -> None:
    """Every command imports bot.model, which reads the registry: that must load no SDK (nor make a circle)."""
    import subprocess
    import sys

    code = ("import sys, bot.model, bot.sources, bot.config.accounts, bot.status; from bot.sources import SPECS; "
            "print(sorted({m.split('.')[0] for m in sys.modules if any(m.split('.')[0].startswith(s.sdk) for s in SPECS.values())}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=BOT.parent, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# --- one direction: load, verify, wire ---------------------------------------------------------------------------
# Every import counts, at the top of a module or inside a function (a lazy import is still a dependency); only those
# under `if TYPE_CHECKING:` do not. The one import allowed to run back up is a network spec's `build`, which imports
# its adapter when the account is built: the specs are data the model reads, and the adapters use the model.


def _module(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in BOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                node.body = []
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                base = node.module if node.level == 0 else None
                if base:
                    found |= {base, *(f"{base}.{alias.name}" for alias in node.names)}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
        back_up = name.startswith("bot.sources.") and name.endswith(".spec")  # its build's lazy import of the adapter
        graph[name] = {m for m in found & modules.keys() if m != name and not (back_up and m.startswith(name.rsplit(".", 1)[0]))}
    return graph


def _circle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of `graph` (as the modules along it), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_no_import_runs_in_a_circle() -> None:
    circle = _circle(_import_graph())
    assert circle == [], " → ".join(circle)


def test_the_circle_check_sees_one() -> None:
    graph = _import_graph()
    graph["bot.app.verify"] = graph["bot.app.verify"] | {"bot.app.wire"}  # what `check` did when it lived in startup.py
    assert "bot.app.wire" in _circle(graph) and "bot.app.verify" in _circle(graph)
