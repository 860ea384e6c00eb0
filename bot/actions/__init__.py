"""The verbs. Importing this package registers every verb in `registry.VERBS`."""

from bot.actions import check, trace  # noqa: F401
