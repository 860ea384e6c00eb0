"""The failures a user can meet, each carrying the one sentence they will read.

Every layer raises these; only the CLI and the Slack adapter turn them into output.
`exit_code` follows DESIGN.md (`ExitStatus`): 2 for bad input, 1 for a host, tool or config failure.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What a command exits with (DESIGN.md), and what an answer's `exit_code` holds."""

    OK = 0
    FAILED = 1  # a host, a tool, the config, or an answer with a problem in it (a host that did not answer)
    BAD_INPUT = 2  # what was typed, or asked about, does not exist or does not fit: nothing ran
    INTERRUPTED = 130  # Ctrl-C, as shells count it


class MailbotError(Exception):
    """Base of every error that ends a command with a message instead of a traceback."""

    exit_code = ExitStatus.FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadInput(MailbotError):
    """What the user typed does not fit the verb's grammar; nothing ran."""

    exit_code = ExitStatus.BAD_INPUT


class ConfigError(MailbotError):
    """The configuration file is missing, unreadable or inconsistent."""


class HostError(MailbotError):
    """A mail host could not be reached or refused to serve the bot."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(message)
        self.host = host


class HostUnreachable(HostError):
    pass


class HostKeyRejected(HostError):
    """The host's key is unknown or differs from the pinned one: we never add it."""


class AuthenticationFailed(HostError):
    pass


class CommandTimeout(HostError):
    pass


class OutputTooLarge(HostError):
    pass


class RemoteCommandFailed(HostError):
    """A tool on the host ran and failed, or is missing."""


class GuardRefused(HostError):
    """The host's guard (`mailbot guard`) did not recognise one of the bot's own commands."""


class MailboxNotFound(MailbotError):
    """The mailbox, folder or mail asked about does not exist: the answer to a question, not a failure."""

    exit_code = ExitStatus.BAD_INPUT
