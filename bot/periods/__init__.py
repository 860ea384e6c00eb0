"""What the bot does on its own, each period: the alerts it raises and the watches it settles.

Beside the verbs (they may use them; no verb uses a period): the Slack bot runs them on a timer,
`mailbot watch` on a terminal runs the watches' check in its own loop.
"""
