"""The only commands the bot ever runs on a mail host, as argument-list templates.

A template is a fixed tuple of words; placeholders are filled only with validated values
(`Address`, `QueueId`, numbers) or with paths from the operator's config, and every word
is quoted with `shlex.quote` when the line is built. No f-string ever builds a shell line
from user text. The same table will feed the host-side guard, so the two never drift.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from pathlib import PurePosixPath

from bot.mailhost import grammar
from bot.mailhost.values import (
    INBOX,
    Address,
    Folder,
    Mailbox,
    MessageId,
    QueueId,
    SearchQuery,
    SpoolPath,
    Uid,
)

POSTQUEUE = "/usr/sbin/postqueue"
POSTCONF = "/usr/sbin/postconf"
REGEN_LOCK = ".mailbot-regen-maps.lock"  # in the account's home, where sshd starts commands


def script(name: str, fill: Mapping[str, str] | None = None) -> str:
    """A program the bot sends to the hosts, from its file in `scripts/`, where shellcheck and ruff
    read it, with each `@NAME@` replaced by `fill[NAME]`. The file's opening comments and its
    `# shellcheck` directives are for its readers and linters: they are not sent (the guard allows
    the text as sent, word for word)."""
    text = files("bot.mailhost").joinpath("scripts").joinpath(name).read_text(encoding="utf-8")
    lines = text.strip().splitlines()
    while lines and lines[0].startswith("#") and not lines[0].startswith("#!"):
        lines.pop(0)
    program = "\n".join(line for line in lines if not line.lstrip().startswith("# shellcheck ")).strip()
    for key, value in (fill or {}).items():
        program = program.replace(f"@{key}@", value)
    if left := re.findall(r"@[A-Z_]+@", program):
        raise ValueError(f"scripts/{name} has placeholders no value fills: {', '.join(sorted(set(left)))}")
    return program


# The log search, run on the host in one go: scripts/trace.sh says how it works and what it prints.
# Its awk tells a queue id by the pieces of the grammar's.
TRACE_SCRIPT = script("trace.sh", grammar.TRACE_AWK_FILL)


@dataclass(frozen=True)
class RemoteCommand:
    """A command ready to run: the template it came from and its exact words."""

    template: str
    argv: tuple[str, ...]

    def shell_line(self) -> str:
        return " ".join(shlex.quote(word) for word in self.argv)

    def __str__(self) -> str:
        """What an approver or a log reads: the script body elided, the arguments shown."""
        words = [("<trace script>" if word == TRACE_SCRIPT else shlex.quote(word)) for word in self.argv]
        return " ".join(words)


def _log_paths(maillogs: tuple[str, ...]) -> tuple[str, ...]:
    for path in maillogs:
        if not PurePosixPath(path).is_absolute() or "\n" in path or "\0" in path:
            raise ValueError(f"maillog path {path!r} is not an absolute path")
    return maillogs


def _search_logs(mode: str, needle: str, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    if since_epoch < 0:
        raise ValueError("since_epoch must be >= 0")
    return RemoteCommand(
        "search_logs",
        ("/bin/sh", "-c", TRACE_SCRIPT, "mailbot-trace", mode, needle, str(since_epoch), *_log_paths(maillogs)),
    )


def trace_logs(address: Address, since_epoch: int, maillogs: tuple[str, ...]) -> RemoteCommand:
    """Every message naming `<address>` (as from=, to= or orig_to=), any case."""
    return _search_logs("anycase", f"<{address.value}>", since_epoch, maillogs)


def message_logs(message: QueueId | MessageId, maillogs: tuple[str, ...]) -> RemoteCommand:
    """One message by queue id (its lines, and the hop or notice that names it) or by Message-ID."""
    needle = f"message-id=<{message.value}>" if isinstance(message, MessageId) else message.value
    return _search_logs("exact", needle, 0, maillogs)


# The Postfix tools act on the default instance, or with `-c DIR` on the instance whose config
# directory the host entry names (`postfix_config`, e.g. an edge relay's /etc/postfix-edge, made
# by postmulti). postqueue accepts it from an unprivileged user only when the default instance
# lists it in multi_instance_directories or alternate_config_directories.
def _instance(config_dir: str | None) -> tuple[str, ...]:
    if config_dir is None:
        return ()
    if not PurePosixPath(config_dir).is_absolute() or any(c.isspace() or c == "\0" for c in config_dir):
        raise ValueError(f"Postfix config directory {config_dir!r} is not an absolute path")
    return ("-c", config_dir)


def queue_json(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("queue_json", (POSTQUEUE, *_instance(config_dir), "-j"))


def queue_text(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("queue_text", (POSTQUEUE, *_instance(config_dir), "-p"))


def flush_queue(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("flush_queue", ("sudo", "-n", POSTQUEUE, *_instance(config_dir), "-f"))


def flush_message(queue_id: QueueId, config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("flush_message", ("sudo", "-n", POSTQUEUE, *_instance(config_dir), "-i", queue_id.value))


def postfix_version(config_dir: str | None = None) -> RemoteCommand:
    return RemoteCommand("postfix_version", (POSTCONF, *_instance(config_dir), "-h", "mail_version"))


def queue_lifetime(config_dir: str | None = None) -> RemoteCommand:
    """How long Postfix keeps a deferred message before returning it (`maximal_queue_lifetime`)."""
    return RemoteCommand("queue_lifetime", (POSTCONF, *_instance(config_dir), "-h", "maximal_queue_lifetime"))


def regen_maps(steps: tuple[tuple[str, ...], ...]) -> RemoteCommand:
    """The host's map rebuild (operator-configured words, each quoted), one at a time per host:
    `flock -n` makes a second rebuild started meanwhile, by any bot or admin, fail at once."""
    if not steps:
        raise ValueError("no map rebuild command configured")
    chain = " && ".join(" ".join(shlex.quote(word) for word in step) for step in steps)
    return RemoteCommand("regen_maps", ("flock", "-n", "-E", "75", REGEN_LOCK, "/bin/sh", "-c", chain))


# `check` probes: what each configured log and tool looks like, read-only.
PROBE_SCRIPT = script("probe.sh")


def probe_host(maillogs: tuple[str, ...]) -> RemoteCommand:
    return RemoteCommand("probe_host", ("/bin/sh", "-c", PROBE_SCRIPT, "mailbot-probe", *_log_paths(maillogs)))


# --- deleted mail (issue 5): Cyrus tools (BlueMind 4) and bm-cli ----------------------------
# Cyrus tools run as the cyrus user (else "can't read mailboxes file", rc 75), by absolute path,
# through `sudo -n`, with a mailbox name built from a validated `Mailbox` and `Folder`.
# bm-cli is BlueMind's Java CLI; it needs root (it reads the admin token), so it runs through
# `sudo -n` too, at the path the host entry gives (`bm_cli`, default /usr/bin/bm-cli).

CYRUS_BIN = "/usr/lib/cyrus/bin"
UNEXPUNGE = f"{CYRUS_BIN}/unexpunge"
MBPATH = f"{CYRUS_BIN}/mbpath"
MBEXAMINE = f"{CYRUS_BIN}/mbexamine"
HEAD = "/usr/bin/head"
MAIL_HEAD_BYTES = 65536  # the sudo rule allows exactly this count
AS_CYRUS = ("sudo", "-n", "-u", "cyrus")
BM5_ALL_DAYS = 36500  # `--days N` restores what was deleted in the last N days: all of it

# The host's clock and zone before a listing: Cyrus prints local times without a zone.
CLOCK_SCRIPT = r"""printf '#mailbot host now=%s tz=%s\n' "$(date +%s)" "$(date +%z)"; exec "$@" """.strip()

# The present mails of some folders, reduced on the host to what tells a copy from another
# (UID, date, size, GUID, flags, cached From and Subject): mbexamine dumps much more per mail.
INDEX_SCRIPT = script("index.sh")

# Several BlueMind 5 restores by id: bm-cli takes one --id per run.
BM5_RESTORE_SCRIPT = script("bm5_restore.sh")


def _bm_cli(path: str) -> str:
    if not PurePosixPath(path).is_absolute() or any(c.isspace() for c in path):
        raise ValueError(f"bm-cli path {path!r} is not an absolute path")
    return path


def mailbox_path(mailbox: Mailbox, folder: Folder = INBOX) -> RemoteCommand:
    return RemoteCommand("mailbox_path", (*AS_CYRUS, MBPATH, mailbox.folder_name(folder)))


def list_expunged(mailbox: Mailbox, folder: Folder = INBOX) -> RemoteCommand:
    return RemoteCommand(
        "list_expunged",
        ("/bin/sh", "-c", CLOCK_SCRIPT, "mailbot-clock", *AS_CYRUS, UNEXPUNGE, "-l", mailbox.folder_name(folder)),
    )


def restore_expunged(mailbox: Mailbox, folder: Folder, uids: tuple[Uid, ...]) -> RemoteCommand:
    if not uids:
        raise ValueError("restore_expunged needs at least one UID")
    words = tuple(str(uid.value) for uid in uids)
    return RemoteCommand(
        "restore_expunged", (*AS_CYRUS, UNEXPUNGE, "-u", "-d", "-v", mailbox.folder_name(folder), *words)
    )


def restore_all_expunged(mailbox: Mailbox, folder: Folder) -> RemoteCommand:
    return RemoteCommand("restore_all_expunged", (*AS_CYRUS, UNEXPUNGE, "-a", "-d", "-v", mailbox.folder_name(folder)))


def index_records(mailbox: Mailbox, others: bool = True) -> RemoteCommand:
    """The user's folders (and with `others`, the domain's top-level shared mailboxes)."""
    names = [mailbox.cyrus_name, f"user/{mailbox.login}/*@{mailbox.domain}"]
    if others:
        names.append(f"%@{mailbox.domain}")
    return RemoteCommand("index_records", ("/bin/sh", "-c", INDEX_SCRIPT, "mailbot-index", *names))


def mail_head(path: SpoolPath) -> RemoteCommand:
    return RemoteCommand("mail_head", (*AS_CYRUS, HEAD, "-c", str(MAIL_HEAD_BYTES), "--", path.value))


def _bm(bm_cli: str, *words: str) -> tuple[str, ...]:
    """bm-cli as root (it reads the admin token), at the host's path."""
    return ("sudo", "-n", _bm_cli(bm_cli), *words)


def _bm_unexpunge(bm_cli: str, address: Address, folder: Folder) -> tuple[str, ...]:
    return _bm(bm_cli, "mail", "unexpunge", address.value, "--folder", folder.value)


def bmcli_version(bm_cli: str) -> RemoteCommand:
    return RemoteCommand("bmcli_version", _bm(bm_cli, "--version"))


def bmcli_user(bm_cli: str, address: Address) -> RemoteCommand:
    return RemoteCommand(
        "bmcli_user", _bm(bm_cli, "user", "get", address.value, "--display", "login email", "--no-progress")
    )


def bmcli_history_imap(bm_cli: str, address: Address, uid: Uid, folder: Folder) -> RemoteCommand:
    words = ("--email", address.value, "--imapUid", str(uid.value), "--folderPath", folder.value)
    return RemoteCommand("bmcli_history_imap", _bm(bm_cli, "mail", "history-imap", *words))


def bmcli_history_query(bm_cli: str, address: Address, query: SearchQuery) -> RemoteCommand:
    words = ("--email", address.value, "--query", query.value)
    return RemoteCommand("bmcli_history_query", _bm(bm_cli, "mail", "history-query", *words))


def bmcli_deleted(bm_cli: str, address: Address, folder: Folder) -> RemoteCommand:
    clock = ("/bin/sh", "-c", CLOCK_SCRIPT, "mailbot-clock")
    return RemoteCommand("bmcli_deleted", (*clock, *_bm_unexpunge(bm_cli, address, folder), "--dry"))


def bmcli_restore(bm_cli: str, address: Address, folder: Folder, uids: tuple[Uid, ...]) -> RemoteCommand:
    if not uids:
        raise ValueError("bmcli_restore needs at least one id")
    if len(uids) == 1:
        return RemoteCommand("bmcli_restore", (*_bm_unexpunge(bm_cli, address, folder), "--id", str(uids[0].value)))
    words = tuple(str(uid.value) for uid in uids)
    return RemoteCommand(
        "bmcli_restore",
        ("/bin/sh", "-c", BM5_RESTORE_SCRIPT, "mailbot-restore", _bm_cli(bm_cli), address.value, folder.value, *words),
    )


def bmcli_restore_all(bm_cli: str, address: Address, folder: Folder) -> RemoteCommand:
    return RemoteCommand("bmcli_restore_all", (*_bm_unexpunge(bm_cli, address, folder), "--days", str(BM5_ALL_DAYS)))


def bluemind_probe(bm_cli: str) -> RemoteCommand:
    """Which BlueMind this is: Cyrus's unexpunge (4) or only bm-cli (5)."""
    script = 'for tool do if [ -x "$tool" ]; then echo "present $tool"; else echo "absent $tool"; fi; done'
    return RemoteCommand("bluemind_probe", ("/bin/sh", "-c", script, "mailbot-probe", UNEXPUNGE, _bm_cli(bm_cli)))
