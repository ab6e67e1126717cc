"""Verify and wire, the second and third steps from the settings to a running bot: every token and account checked
on its network (bot.app.verify), then the adapters, the store and the services built into one App (bot.app.wire);
`replywatch check` runs both up to the first poll (bot.app.check)."""
