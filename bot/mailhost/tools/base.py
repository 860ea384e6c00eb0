"""What every tool on a host shares: the host's config and connection, and how a failed run reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bot.errors import RemoteCommandFailed
from bot.i18n import _
from bot.mailhost.ssh import CommandResult, HostConnection

if TYPE_CHECKING:  # annotations only: the config (and YAML) is not read to parse a command line
    from bot.config import HostConfig

Parsed = TypeVar("Parsed")


class OnHost:
    """One host's config and SSH connection, as a tool (or the host as a whole) runs commands there."""

    def __init__(self, config: HostConfig, connection: HostConnection) -> None:
        self.config = config
        self.connection = connection

    @property
    def name(self) -> str:
        return self.config.name

    def require_success(self, result: CommandResult, what: str) -> None:
        """A failed run as one sentence: the tool missing, Postfix down, or the tool's own first line."""
        if result.exit_status == 0:
            return
        stderr = result.stderr_text
        if result.exit_status == 127 or "not found" in stderr:
            raise RemoteCommandFailed(
                self.name,
                _("{what} is not installed on {name} ({first_line}).").format(
                    what=what, name=self.name, first_line=first_line(stderr)
                ),
            )
        if "mail system is down" in stderr:
            raise RemoteCommandFailed(
                self.name,
                _("Postfix is not running on {name}: {first_line}. Start it, then retry.").format(
                    name=self.name, first_line=first_line(stderr)
                ),
            )
        raise RemoteCommandFailed(
            self.name,
            _("{what} failed on {name} (exit {exit_status}): {value}.").format(
                what=what, name=self.name, exit_status=result.exit_status, value=first_line(stderr) or _("no message")
            ),
        )

    def parsed(self, parse: Callable[[str], Parsed], text: str, what: str, malformed: type[Exception]) -> Parsed:
        """What `parse` reads in `what`'s answer: an answer it does not recognise (`malformed`) is the
        host's failure, in one sentence, not a traceback."""
        try:
            return parse(text)
        except malformed as exc:
            raise RemoteCommandFailed(
                self.name,
                _("{what} on {name} printed something else: {exc}.").format(what=what, name=self.name, exc=exc),
            ) from None

    def require_sudo(self, result: CommandResult, what: str, run_as: str) -> None:
        """A tool run through `sudo -n`: a refused sudo rule reads differently from a failed tool."""
        stderr = result.stderr_text
        if result.exit_status != 0 and ("a password is required" in stderr or "not allowed" in stderr):
            raise RemoteCommandFailed(
                self.name,
                _(
                    "The bot's account on {name} may not run {what} as {run_as}: add the sudo rule for it "
                    "(exact tool, absolute path; see lab/README.md)."
                ).format(name=self.name, what=what, run_as=run_as),
            )
        if result.exit_status != 0 and "can't read mailboxes file" in stderr:
            raise RemoteCommandFailed(
                self.name,
                _("{what} on {name} did not run as the cyrus user: {stderr}.").format(
                    what=what, name=self.name, stderr=stderr
                ),
            )
        self.require_success(result, what)


def first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""
