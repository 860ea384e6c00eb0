"""The verbs. Importing this package registers every verb in `registry.VERBS`."""

from bot.actions import audit, check, flush, message, queue, regen_maps, trace  # noqa: F401
