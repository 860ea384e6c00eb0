"""The verbs. Importing this package registers every verb in `registry.VERBS`."""

from bot.actions import (  # noqa: F401
    audit,
    check,
    deleted,
    flush,
    history,
    locate,
    message,
    queue,
    regen_maps,
    restore,
    trace,
    watch,
)
