from bot.cli import entry_point

entry_point()
