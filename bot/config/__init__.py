"""Load, the first of the three steps from the settings to a running bot: the settings (the environment and `.env`),
the watched accounts and the on-call file (the TOML file), read once into one typed Config (bot.config.load)."""
