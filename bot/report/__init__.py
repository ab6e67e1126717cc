"""The engagement report: how many people talked to the watched accounts, how many got an answer and how fast,
and what collection cost."""
