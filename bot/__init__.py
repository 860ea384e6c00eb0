"""mailbot: a Slack bot and CLI that answers 'what happened to this mail?' on a BlueMind platform."""

__version__ = "0.1.0"
