"""Figures the reliability suite adds up and prints at the end of the run (see tests/conftest.py)."""

from collections import Counter

FIGURES: Counter[str] = Counter()
ORDER = [
    "kills survived", "mentions lost", "duplicate alerts", "hostile strings tried (X)", "hostile strings tried (Bluesky)",
    "hostile strings tried (Mastodon)", "secrets found",
]
