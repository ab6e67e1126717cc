"""Local HTTP stand-ins of the X, Bluesky and Mastodon APIs, answering in their documented shapes (envelopes,
pagination, rate-limit headers, error bodies): what `replywatch demo` runs against, and what the tests drive the
real tweepy, atproto and Mastodon.py clients with. Never used by `run`."""
