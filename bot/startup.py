"""What a start of the bot reuses from the ones before: the folder it keeps things in, and the
compiled methods of its record classes.

`dataclasses` writes each record class's methods (`__init__`, `__repr__`, `__eq__`, `__hash__`,
and a frozen one's `__setattr__` and `__delattr__`) as Python text and compiles that text at every
start: some 340 functions for a lab trace, 45-52 ms of its 0.39 s, the largest single cost of a
start (issue 24; `compile` of each text, measured 7 Dec 2026). The compiled code depends on nothing
but that text and the Python that compiled it, so it is kept by its text, in one file of the user's
cache per bytecode version, and read back in about 2 ms: `dataclasses` runs what it always does,
with the code it would have compiled.

The file is written by the process that compiled something new (the console script as it ends,
the Slack bot once started), whole, by rename. As with Python's own `__pycache__`, what is read
there runs; so a file that is not the user's own, or that others may write, is not read.
"""

from __future__ import annotations

import builtins
import dataclasses
import marshal
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import CodeType
from typing import Any

# One file per bytecode version: a Python that cannot read another's code never opens its file.
_FILE = f"record-methods-{sys.implementation.cache_tag}.marshal"
_MOST = 4000  # texts kept: past this (many versions of the bot), a file holds the last start's only

_kept: dict[str, CodeType] | None = None  # read at the first record class, not at import
_used: dict[str, CodeType] = {}
_new = 0


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where the bot keeps what it computed once: $MAILBOT_CACHE_DIR, else $XDG_CACHE_HOME/mailbot,
    else ~/.cache/mailbot; None without a home."""
    environ = os.environ if environ is None else environ
    if environ.get("MAILBOT_CACHE_DIR"):
        return Path(environ["MAILBOT_CACHE_DIR"])
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "mailbot"
    try:
        return Path.home() / ".cache" / "mailbot"
    except (RuntimeError, KeyError):
        return None


def reuse_compiled_records() -> None:
    """From now on, `dataclasses` runs kept code for the texts it has compiled before."""
    dataclasses.exec = _exec  # type: ignore[attr-defined]  # its module's name, found before the builtin


def _exec(source: Any, namespace: dict[str, Any] | None = None, names: Mapping[str, Any] | None = None) -> None:
    if isinstance(source, str):
        source = _compiled(source)
    builtins.exec(source, namespace, names)  # noqa: S102  # what dataclasses itself does


def _compiled(text: str) -> CodeType:
    global _kept, _new
    if _kept is None:
        _kept = _read()
    code = _kept.get(text)
    if code is None:
        code = compile(text, "<string>", "exec")  # the name exec(text) would have given it
        _new += 1
    _used[text] = code
    return code


def _read() -> dict[str, CodeType]:
    folder = cache_dir()
    if folder is None:
        return {}
    try:
        with (folder / _FILE).open("rb") as kept:
            mine = os.fstat(kept.fileno())
            if mine.st_uid != os.geteuid() or mine.st_mode & 0o022:
                return {}
            header, body = kept.read(len(_magic())), kept.read()
        if header != _magic():
            return {}
        texts = marshal.loads(body)  # noqa: S302  # the user's own file, as __pycache__ is
    except (OSError, ValueError, EOFError, TypeError):  # absent, unreadable or damaged: compile
        return {}
    if not isinstance(texts, dict):
        return {}
    return {text: code for text, code in texts.items() if isinstance(text, str) and isinstance(code, CodeType)}


def _magic() -> bytes:
    from importlib.util import MAGIC_NUMBER  # the bytecode version, as __pycache__ checks it

    return MAGIC_NUMBER


def keep() -> None:
    """Write what this process compiled beside what was kept, if it compiled anything; a folder that
    cannot be written is skipped (the next start compiles again)."""
    global _new
    folder = cache_dir()
    if not _new or folder is None:
        return
    texts = {**(_kept or {}), **_used}
    if len(texts) > _MOST:
        texts = dict(_used)
    import tempfile  # here: a start that compiled nothing new writes nothing

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{_FILE}.", delete=False) as out:
            temporary = Path(out.name)
            try:
                out.write(_magic() + marshal.dumps(texts))
            except (OSError, ValueError):
                temporary.unlink(missing_ok=True)
                raise
        temporary.replace(folder / _FILE)  # 0600, as NamedTemporaryFile made it
    except (OSError, ValueError):
        return
    _new = 0
