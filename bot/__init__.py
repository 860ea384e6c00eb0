"""mailbot: a Slack bot and CLI that answers 'what happened to this mail?' on a BlueMind platform."""

from bot.startup import reuse_compiled_records

__version__ = "0.1.0"

reuse_compiled_records()  # before the first record class of the package is made
