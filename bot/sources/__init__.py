"""The networks replywatch reads, one folder each, each implementing bot.ports.Source."""
