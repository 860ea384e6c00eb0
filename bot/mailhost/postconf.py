"""`postconf -h` values, from text to typed values. Pure: no I/O.

Postfix time parameters are a number and an optional unit (s, m, h, d, w); without a unit,
each parameter has its own default (days for `maximal_queue_lifetime`). `0` is legal and
means "bounce at the first failure" for the queue lifetime.
"""

from __future__ import annotations

import re
from datetime import timedelta

_TIME = re.compile(r"\s*(?P<count>\d{1,9})(?P<unit>[smhdw]?)\s*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class PostconfFormatError(ValueError):
    """The text is not a Postfix time value: a tool or a guard answered instead."""


def parse_postfix_time(text: str, default_unit: str = "d") -> timedelta:
    """`3d`, `5`, `12h`, `90m` -> a duration; the unit defaults to `default_unit`."""
    match = _TIME.fullmatch(text)
    if not match:
        raise PostconfFormatError(f"{text.strip()[:40]!r} is not a Postfix time value")
    return timedelta(seconds=int(match["count"]) * _UNIT_SECONDS[match["unit"] or default_unit])
