"""Every verb, listed once: the table the CLI and the Slack adapter build their grammar from.

The list is written out, not filled by registrations at import, so this file is where a verb
comes to exist; its order is the order of the help.
"""

from collections.abc import Mapping

from bot.core.registry import Verb, verb_table
from bot.verbs.audit import AUDIT
from bot.verbs.check import CHECK
from bot.verbs.deleted import DELETED
from bot.verbs.flush import FLUSH
from bot.verbs.history import HISTORY, SEARCH
from bot.verbs.locate import LOCATE
from bot.verbs.message import MESSAGE
from bot.verbs.queue import QUEUE
from bot.verbs.regen_maps import REGEN_MAPS
from bot.verbs.restore import RESTORE
from bot.verbs.trace import TRACE
from bot.verbs.watch import UNWATCH, WATCH

VERBS: Mapping[str, Verb] = verb_table(
    AUDIT,
    CHECK,
    DELETED,
    FLUSH,
    HISTORY,
    SEARCH,
    LOCATE,
    MESSAGE,
    QUEUE,
    REGEN_MAPS,
    RESTORE,
    TRACE,
    WATCH,
    UNWATCH,
)
