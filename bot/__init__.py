"""replywatch: nobody who talks to your company on X, Bluesky or Mastodon goes unanswered."""


def version() -> str:
    """This replywatch's version, as installed ("unknown" in a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("replywatch")
    except PackageNotFoundError:
        return "unknown"
