"""The only commands the bot ever runs on a mail host, as argument-list templates.

A template is a fixed tuple of words; placeholders are filled only with validated values
(`Address`, `QueueId`, numbers) or with paths from the operator's config, and every word
is quoted with `shlex.quote` when the line is built. No f-string ever builds a shell line
from user text. The same table will feed the host-side guard, so the two never drift.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from bot.mailhost.values import Address, MessageId, QueueId

POSTQUEUE = "/usr/sbin/postqueue"
POSTCONF = "/usr/sbin/postconf"
REGEN_LOCK = ".mailbot-regen-maps.lock"  # in the account's home, where sshd starts commands

# The log search, run on the host in one go (PERFORMANCE.md: filtering on the host costs
# 1-9 % over its own time, copying logs costs 5-6x). Arguments: how to match (`anycase` or
# `exact`), the needle (a fixed string built from a validated value: `<address>` for a
# trace, a queue id or `message-id=<...>` for one message), the oldest time of interest
# (epoch seconds, 0 for all), then the configured log paths; each log's rotated siblings
# (`.1`, `.2.gz`, `-YYYYMMDD[.gz]`) are found here.
# Pass 1: the lines holding the needle (one fixed string, LC_ALL=C so no line is dropped
# for invalid UTF-8). Their queue ids go to a file (an argument would hit the 128 kB
# limit). Pass 2: every line of those queue ids, joined with an awk hash.
# Lines of pass 1 without a queue id (NOQUEUE and postscreen rejects) are printed as they are.
# Markers starting with `#mailbot ` tell the bot each file's mtime (for the year of
# classic syslog stamps) and the host's clock and offset.
TRACE_SCRIPT = r"""
set -u
export LC_ALL=C
case $1 in anycase) case_flag=-i ;; *) case_flag= ;; esac
needle=$2; since=$3; shift 3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailbot-trace.XXXXXX") || exit 70
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' HUP INT TERM
printf '#mailbot host now=%s tz=%s\n' "$(date +%s)" "$(date +%z)"
inflate() {
  case $1 in
    *.gz) if command -v pigz >/dev/null 2>&1; then pigz -dc -- "$1"; else gzip -dc -- "$1"; fi ;;
    *.bz2) bzip2 -dc -- "$1" ;;
    *.xz) xz -dc -- "$1" ;;
    *.zst) zstd -dcq -- "$1" ;;
    *) cat -- "$1" ;;
  esac
}
n=0
: > "$tmp/files"
for log do
  found=0
  for f in $(ls -tr -- "$log" "$log".[0-9]* "$log"-[0-9]* 2>/dev/null); do
    [ -f "$f" ] || continue
    found=1
    if [ ! -r "$f" ]; then printf '#mailbot unreadable %s\n' "$f"; continue; fi
    mtime=$(stat -c %Y -- "$f")
    [ "$mtime" -lt "$since" ] && continue
    n=$((n + 1))
    printf '%s %s %s\n' "$n" "$mtime" "$f" >> "$tmp/files"
    inflate "$f" | grep $case_flag -F -e "$needle" > "$tmp/hits.$n"
  done
  [ "$found" = 1 ] || printf '#mailbot missing %s\n' "$log"
done
cat "$tmp"/hits.* 2>/dev/null | awk 'match($0, /\]: [0-9A-Za-z]+: /) { q = substr($0, RSTART + 3, RLENGTH - 5); if (length(q) >= 6 && q != "NOQUEUE") print q }' | sort -u > "$tmp/ids"
while read -r i mtime f; do
  printf '#mailbot file mtime=%s path=%s\n' "$mtime" "$f"
  awk 'match($0, /\]: [0-9A-Za-z]+: /) { q = substr($0, RSTART + 3, RLENGTH - 5); if (length(q) >= 6 && q != "NOQUEUE") next } { print }' "$tmp/hits.$i"
  if [ -s "$tmp/ids" ]; then
    inflate "$f" | awk 'NR == FNR { want[$1] = 1; next } match($0, /\]: [0-9A-Za-z]+: /) { if (substr($0, RSTART + 3, RLENGTH - 5) in want) print }' "$tmp/ids" -
  fi
done < "$tmp/files"
exit 0
""".strip()


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


def queue_json() -> RemoteCommand:
    return RemoteCommand("queue_json", (POSTQUEUE, "-j"))


def queue_text() -> RemoteCommand:
    return RemoteCommand("queue_text", (POSTQUEUE, "-p"))


def flush_queue() -> RemoteCommand:
    return RemoteCommand("flush_queue", ("sudo", "-n", POSTQUEUE, "-f"))


def flush_message(queue_id: QueueId) -> RemoteCommand:
    return RemoteCommand("flush_message", ("sudo", "-n", POSTQUEUE, "-i", queue_id.value))


def postfix_version() -> RemoteCommand:
    return RemoteCommand("postfix_version", (POSTCONF, "-h", "mail_version"))


def regen_maps(steps: tuple[tuple[str, ...], ...]) -> RemoteCommand:
    """The host's map rebuild (operator-configured words, each quoted), one at a time per host:
    `flock -n` makes a second rebuild started meanwhile, by any bot or admin, fail at once."""
    if not steps:
        raise ValueError("no map rebuild command configured")
    chain = " && ".join(" ".join(shlex.quote(word) for word in step) for step in steps)
    return RemoteCommand("regen_maps", ("flock", "-n", "-E", "75", REGEN_LOCK, "/bin/sh", "-c", chain))


# `check` probes: what each configured log and tool looks like, read-only.
PROBE_SCRIPT = r"""
export LC_ALL=C
for log do
  for f in $(ls -tr -- "$log" "$log".[0-9]* "$log"-[0-9]* 2>/dev/null); do
    if [ -r "$f" ]; then printf 'log readable %s %s\n' "$(stat -c %s -- "$f")" "$f"; else printf 'log unreadable 0 %s\n' "$f"; fi
  done
  [ -e "$log" ] || printf 'log missing 0 %s\n' "$log"
done
for tool in /usr/sbin/postqueue /usr/sbin/postconf /usr/sbin/postcat /usr/lib/cyrus/bin/unexpunge /usr/lib/cyrus/bin/mbpath bm-cli grep awk gzip pigz; do
  if command -v "$tool" >/dev/null 2>&1; then printf 'tool present %s\n' "$tool"; else printf 'tool absent %s\n' "$tool"; fi
done
""".strip()


def probe_host(maillogs: tuple[str, ...]) -> RemoteCommand:
    return RemoteCommand("probe_host", ("/bin/sh", "-c", PROBE_SCRIPT, "mailbot-probe", *_log_paths(maillogs)))
