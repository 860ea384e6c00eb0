"""The verbs. Importing this package registers every verb in `registry.VERBS`."""

from bot.actions import audit, check, flush, message, queue, trace  # noqa: F401
