"""What a start of the bot reuses from the ones before: the folder it keeps things in, the
compiled methods of its record classes, and its configuration file as YAML read it.

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

The configuration file's YAML (`parsed_before`, `keep_parsed`): PyYAML's import costs a command
12-18 ms, most of it compiling the patterns of its pure-Python reader, which the bot never uses,
and reading the lab's file 2 ms more. What YAML made of a file's text is kept by that text's hash
once the configuration was accepted (the file holds no secret: tokens and passwords come from the
environment, and `config.py` refuses a URL with a password), as plain values only, a few files.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import marshal
import os
import sys
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from types import CodeType
from typing import Any

# One file per bytecode version: a Python that cannot read another's code never opens its file.
_FILE = f"record-methods-{sys.implementation.cache_tag}.marshal"
_MOST = 4000  # texts kept: past this (many versions of the bot), a file holds the last start's only
_PARSED_KEPT = 8  # configuration files' YAML kept (a lab's, a production's, their versions)

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
    """From now on, `dataclasses` runs kept code for the texts it has compiled before (a Python that
    keeps no bytecode, `cache_tag` None, compiles as it always does)."""
    if sys.implementation.cache_tag is not None:
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
    texts = _load(_FILE, _magic())
    if not isinstance(texts, dict):
        return {}
    return {text: code for text, code in texts.items() if isinstance(text, str) and isinstance(code, CodeType)}


def _load(name: str, header: bytes) -> Any:
    """What a kept file holds, or None: absent, damaged, of another version, or not the user's own."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        with (folder / name).open("rb") as kept:
            mine = os.fstat(kept.fileno())
            if mine.st_uid != os.geteuid() or mine.st_mode & 0o022:
                return None
            if kept.read(len(header)) != header:
                return None
            return marshal.loads(kept.read())  # noqa: S302  # the user's own file, as __pycache__ is
    except (OSError, ValueError, EOFError, TypeError):
        return None


def write_whole(folder: Path, name: str, content: bytes, mode: int = 0o600) -> bool:
    """Write a kept file whole (a reader sees the old file or the new one, never half of it), in a
    folder made 0700; False if the folder cannot be written (the next start computes again)."""
    import tempfile  # here: a start that has nothing new to keep writes nothing

    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{name}.", delete=False) as out:
            temporary = Path(out.name)
            try:
                out.write(content)
                temporary.chmod(mode)
            except OSError:
                temporary.unlink(missing_ok=True)
                raise
        temporary.replace(folder / name)
    except OSError:
        return False
    return True


def _magic() -> bytes:
    from importlib.util import MAGIC_NUMBER  # the bytecode version, as __pycache__ checks it

    return MAGIC_NUMBER


def keep() -> None:
    """Write what this process compiled beside what was kept, if it compiled anything; a folder that
    cannot be written is skipped (the next start compiles again)."""
    global _new
    if not _new:
        return
    folder = cache_dir()
    texts = {**(_kept or {}), **_used}
    if len(texts) > _MOST:
        texts = dict(_used)
    if folder is not None and write_whole(folder, _FILE, _magic() + marshal.dumps(texts)):
        _new = 0


# --- the configuration file, as YAML read it ---------------------------------------------------

_PARSED_HEADER = b"mailbot-parsed-1\n"


def _parsed_name(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"parsed-{sys.implementation.cache_tag}-{digest}.marshal"


def parsed_before(text: str) -> tuple[Any] | None:
    """What `keep_parsed` kept for this very text, in a tuple (a YAML document may be None)."""
    kept = _load(_parsed_name(text), _PARSED_HEADER)
    if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == text and _plain(kept[1]):
        return (kept[1],)
    return None


def keep_parsed(text: str, document: Any) -> None:
    """Keep what YAML made of `text`, if it is plain values only (not a date, bytes or a set, which
    marshal would not give back as YAML made them); the oldest kept files go past a few."""
    folder = cache_dir()
    content = _PARSED_HEADER + marshal.dumps((text, document)) if _plain(document) else None
    if folder is None or content is None or not write_whole(folder, _parsed_name(text), content):
        return
    with suppress(OSError):
        kept = sorted(folder.glob("parsed-*.marshal"), key=lambda path: path.stat().st_mtime, reverse=True)
        for old in kept[_PARSED_KEPT:]:
            old.unlink(missing_ok=True)


def _plain(document: Any) -> bool:
    if document is None or type(document) in (str, int, float, bool):
        return True
    if type(document) is list:
        return all(_plain(item) for item in document)
    if type(document) is dict:
        return all(_plain(key) and _plain(value) for key, value in document.items())
    return False
