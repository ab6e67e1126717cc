"""`replywatch demo`: the product on built-in stand-ins, an hour of traffic in a minute, printed as Slack would show it."""
