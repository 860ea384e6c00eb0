"""Every secret the suite uses, and a watch over everything the suite's runs write.

Tokens, the signing secret and key passphrases must never appear in a log line, an answer,
anything sent to Slack, the audit or a traceback. The watch sees: every log record of the
test process (any level), every test's captured output and failure report, every call each
fake Slack recorded, and every file the suite wrote under its temporary folder (bot logs,
state databases with their audit, configs). The session fixture `no_secret_anywhere`
(tests/conftest.py) scans at the end of the run, whichever tests ran, and fails it on a leak.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path


class SecretWatch:
    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}  # value -> what it is
        self.leaks: list[str] = []
        self.seen = {"log records": 0, "test reports": 0, "Slack calls": 0, "files": 0}

    def add(self, what: str, value: str) -> str:
        """Registers a secret (returns it, so a test can write `secret = WATCH.add(...)`)."""
        if len(value) >= 8:  # shorter strings would match by chance
            self._secrets[value] = what
        return value

    @property
    def watched(self) -> int:
        """How many secrets the watch looks for."""
        return len(self._secrets)

    def scan(self, text: str, where: str) -> None:
        for value, what in self._secrets.items():
            if value in text:
                self.leaks.append(f"the {what} appears in {where}")

    def scan_bytes(self, data: bytes, where: str) -> None:
        for value, what in self._secrets.items():
            if value.encode() in data:
                self.leaks.append(f"the {what} appears in {where}")

    def scan_files(self, folder: Path, skip: Iterable[Path] = ()) -> None:
        skipped = {p.resolve() for p in skip}
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.is_symlink() or path.resolve() in skipped:
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            self.seen["files"] += 1
            self.scan_bytes(data, str(path))


WATCH = SecretWatch()


class LogWatch(logging.Handler):
    """Scans every record of the test process as it is emitted, with its traceback if any."""

    def __init__(self, watch: SecretWatch = WATCH, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        self.watch.seen["log records"] += 1
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted: scan its parts
            text = f"{record.msg!r} {record.args!r}"
        self.watch.scan(text, f"a log record of {record.name}")
