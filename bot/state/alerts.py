"""Known queue problems and mail watches, in the state database, so a restart repeats nothing.

The state is the truth and Slack catches up with it: a problem (or a watch's news) changes
its `version` when the queue changes; what Slack shows carries `shown_version` (`told` for
a watch's news). Whoever shows it, after a restart or from another replica, shows only what
was not shown yet. Portable SQL (SQLite and PostgreSQL): `?` placeholders, no AUTOINCREMENT,
`ON CONFLICT DO UPDATE`, floats as DOUBLE PRECISION, no `user` column.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.errors import BadInput
from bot.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from bot.state.db import Database

KEEP_RESOLVED = 7 * 86400.0


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a queue, as the period found it (not stored yet)."""

    key: str  # host|kind|subject: the same problem keeps its key from one period to the next
    host: str
    kind: str  # over_quota, stale_maps, relay, dns, queue_size, queue_growth, unreachable
    subject: str  # the recipient, or the host
    detail: str  # the reason as Postfix gives it (summarised), or the error
    hint: str | None
    count: int
    oldest_at: float | None
    bounce_at: float | None


@dataclass(frozen=True)
class KnownProblem:
    """A problem as stored: what it is now, since when, and what Slack shows of it."""

    key: str
    host: str
    kind: str
    subject: str
    detail: str
    hint: str | None
    count: int
    oldest_at: float | None
    bounce_at: float | None
    first_seen: float
    last_seen: float
    resolved_at: float | None
    version: int
    shown_version: int
    channel: str | None
    ts: str | None


def _changed(row: Any, problem: Problem, now: float) -> bool:
    """Worth an edit: the count, the oldest mail or the reason changed, or one more hour went by
    in the time left before the bounce."""
    if (row["message_count"], row["oldest_at"], row["detail"]) != (problem.count, problem.oldest_at, problem.detail):
        return True
    if problem.bounce_at is None or row["bounce_at"] is None:
        return bool(problem.bounce_at != row["bounce_at"])
    return int((problem.bounce_at - now) // 3600) != int((row["bounce_at"] - row["last_seen"]) // 3600)


class AlertStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def open_by_kind(self) -> dict[str, int]:
        """The problems not resolved, counted per kind, for the metrics."""
        with self.database.connect(reading=True) as connection:
            rows = connection.execute(
                "SELECT kind, COUNT(*) AS n FROM alert_problems WHERE resolved_at IS NULL GROUP BY kind"
            ).fetchall()
        return {row["kind"]: int(row["n"]) for row in rows}

    def reconcile(self, found: Sequence[Problem], answered: Iterable[str], now: float) -> None:
        """Record what one period found. A problem of a host that answered and is no longer
        found is resolved; the problems of a host that did not answer stay as they were."""
        answered_hosts = set(answered)
        found_keys = {p.key for p in found}
        with self.database.connect() as connection:
            connection.execute(  # resolved and shown a week ago: nothing will edit them any more
                "DELETE FROM alert_problems WHERE resolved_at < ? AND shown_version = version", (now - KEEP_RESOLVED,)
            )
            known = {row["problem_key"]: row for row in connection.execute("SELECT * FROM alert_problems").fetchall()}
            for problem in found:
                row = known.get(problem.key)
                values = (
                    problem.detail,
                    problem.hint,
                    problem.count,
                    problem.oldest_at,
                    problem.bounce_at,
                    now,
                )
                if row is None:
                    connection.execute(
                        "INSERT INTO alert_problems (problem_key, host, kind, subject, detail, hint, message_count,"
                        " oldest_at, bounce_at, last_seen, first_seen, version, shown_version)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)"
                        " ON CONFLICT (problem_key) DO NOTHING",
                        (problem.key, problem.host, problem.kind, problem.subject, *values, now),
                    )
                elif row["resolved_at"] is not None:  # back again: a new message
                    connection.execute(
                        "UPDATE alert_problems SET detail = ?, hint = ?, message_count = ?, oldest_at = ?,"
                        " bounce_at = ?, last_seen = ?, first_seen = ?, resolved_at = NULL, version = version + 1,"
                        " channel = NULL, ts = NULL WHERE problem_key = ?",
                        (*values, now, problem.key),
                    )
                elif _changed(row, problem, now):
                    connection.execute(
                        "UPDATE alert_problems SET detail = ?, hint = ?, message_count = ?, oldest_at = ?,"
                        " bounce_at = ?, last_seen = ?, version = version + 1 WHERE problem_key = ?",
                        (*values, problem.key),
                    )
            for row in known.values():
                if (
                    row["resolved_at"] is None
                    and row["problem_key"] not in found_keys
                    and row["host"] in answered_hosts
                ):
                    connection.execute(
                        "UPDATE alert_problems SET resolved_at = ?, version = version + 1"
                        " WHERE problem_key = ? AND resolved_at IS NULL",
                        (now, row["problem_key"]),
                    )

    def to_show(self) -> list[KnownProblem]:
        """Problems whose latest state Slack does not show yet, oldest first."""
        with self.database.connect() as connection:
            rows = connection.execute(
                "SELECT * FROM alert_problems WHERE version > shown_version ORDER BY first_seen, problem_key"
            ).fetchall()
        return [_problem(row) for row in rows]

    def shown(self, key: str, version: int, channel: str | None, ts: str | None) -> None:
        """Slack shows `version` of the problem now (in the message `channel`/`ts`)."""
        with self.database.connect() as connection:
            connection.execute(
                "UPDATE alert_problems SET shown_version = ?, channel = COALESCE(?, channel), ts = COALESCE(?, ts)"
                " WHERE problem_key = ? AND shown_version < ?",
                (version, channel, ts, key, version),
            )

    def open_problems(self, limit: int = 50) -> list[KnownProblem]:
        """The problems not resolved, the oldest first (the Home tab)."""
        with self.database.connect(reading=True) as connection:
            rows = connection.execute(
                "SELECT * FROM alert_problems WHERE resolved_at IS NULL ORDER BY first_seen LIMIT ?", (limit,)
            ).fetchall()
        return [_problem(row) for row in rows]

    def get(self, key: str) -> KnownProblem | None:
        with self.database.connect() as connection:
            row = connection.execute("SELECT * FROM alert_problems WHERE problem_key = ?", (key,)).fetchone()
        return _problem(row) if row else None

    def sample(self, host: str) -> tuple[int, float] | None:
        """The deferred count a growth rate is measured from, and when it was taken."""
        with self.database.connect() as connection:
            row = connection.execute(
                "SELECT deferred, measured_at FROM alert_host_samples WHERE host = ?", (host,)
            ).fetchone()
        return (int(row["deferred"]), float(row["measured_at"])) if row else None

    def keep_sample(self, host: str, deferred: int, now: float) -> None:
        with self.database.connect() as connection:
            connection.execute(
                "INSERT INTO alert_host_samples (host, deferred, measured_at) VALUES (?, ?, ?)"
                " ON CONFLICT (host) DO UPDATE SET deferred = excluded.deferred, measured_at = excluded.measured_at",
                (host, deferred, now),
            )


def _problem(row: Any) -> KnownProblem:
    return KnownProblem(
        key=row["problem_key"],
        host=row["host"],
        kind=row["kind"],
        subject=row["subject"],
        detail=row["detail"],
        hint=row["hint"],
        count=int(row["message_count"]),
        oldest_at=row["oldest_at"],
        bounce_at=row["bounce_at"],
        first_seen=float(row["first_seen"]),
        last_seen=float(row["last_seen"]),
        resolved_at=row["resolved_at"],
        version=int(row["version"]),
        shown_version=int(row["shown_version"]),
        channel=row["channel"],
        ts=row["ts"],
    )


# --- watches -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    id: str
    address: str
    owner: str
    channel: str | None  # None: a terminal's watch, told on its stdout
    thread_ts: str | None
    created_at: float
    ends_at: float
    checked_at: float
    ended_at: float | None
    end_reason: str | None


@dataclass(frozen=True)
class WatchedMessage:
    watch_id: str
    host: str
    queue_id: str
    outcome: str | None  # None while queued; delivered, bounced, expired, gone
    note: str | None
    misses: int


@dataclass(frozen=True)
class WatchNews:
    """Something to tell the watch's owner: a message settled, or the watch ended."""

    watch: Watch
    message: WatchedMessage | None  # None: the end of the watch
    text: str


class WatchStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(
        self,
        address: str,
        owner: str,
        channel: str | None,
        ends_at: float,
        messages: Sequence[tuple[str, str]],
        max_per_user: int,
        now: float,
    ) -> Watch:
        """A watch of `messages` (host, queue id); refused past the owner's limit of active watches."""
        watch_id = "W" + secrets.token_hex(6)
        with self.database.connect() as connection:
            counted = connection.execute(
                "SELECT COUNT(*) AS n FROM mail_watches WHERE owner = ? AND ended_at IS NULL", (owner,)
            ).fetchone()
            active = int(counted["n"]) if counted else 0
            if active >= max_per_user:
                raise BadInput(
                    ngettext(
                        "You already have {n} active watch, the most allowed; end one with /mail unwatch ADDRESS.",
                        "You already have {n} active watches, the most allowed; end one with /mail unwatch ADDRESS.",
                        active,
                    ).format(n=active)
                )
            connection.execute(
                "INSERT INTO mail_watches (id, address, owner, channel, created_at, ends_at, checked_at, end_told)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (watch_id, address, owner, channel, now, ends_at, now),
            )
            for host, queue_id in messages:
                connection.execute(
                    "INSERT INTO mail_watch_messages (watch_id, host, queue_id, misses, told) VALUES (?, ?, ?, 0, 0)"
                    " ON CONFLICT (watch_id, host, queue_id) DO NOTHING",
                    (watch_id, host, queue_id),
                )
        found = self.get(watch_id)
        assert found is not None
        return found

    def get(self, watch_id: str) -> Watch | None:
        with self.database.connect() as connection:
            row = connection.execute("SELECT * FROM mail_watches WHERE id = ?", (watch_id,)).fetchone()
        return _watch(row) if row else None

    def attach_thread(self, watch_id: str, channel: str, thread_ts: str) -> None:
        with self.database.connect() as connection:
            connection.execute(
                "UPDATE mail_watches SET channel = ?, thread_ts = ? WHERE id = ?", (channel, thread_ts, watch_id)
            )

    def active(self, owner: str | None = None) -> list[Watch]:
        with self.database.connect() as connection:
            if owner is None:
                rows = connection.execute(
                    "SELECT * FROM mail_watches WHERE ended_at IS NULL ORDER BY created_at"
                ).fetchall()
            else:
                rows = connection.execute(
                    "SELECT * FROM mail_watches WHERE ended_at IS NULL AND owner = ? ORDER BY created_at", (owner,)
                ).fetchall()
        return [_watch(row) for row in rows]

    def messages(self, watch_ids: Sequence[str]) -> list[WatchedMessage]:
        if not watch_ids:
            return []
        marks = ", ".join("?" for _ in watch_ids)
        with self.database.connect() as connection:
            rows = connection.execute(
                f"SELECT * FROM mail_watch_messages WHERE watch_id IN ({marks}) ORDER BY host, queue_id",  # noqa: S608  (only ? marks)
                tuple(watch_ids),
            ).fetchall()
        return [_watched(row) for row in rows]

    def settle(self, message: WatchedMessage, outcome: str, note: str) -> None:
        with self.database.connect() as connection:
            connection.execute(
                "UPDATE mail_watch_messages SET outcome = ?, note = ? WHERE watch_id = ? AND host = ? AND queue_id = ?"
                " AND outcome IS NULL",
                (outcome, note, message.watch_id, message.host, message.queue_id),
            )

    def missed(self, message: WatchedMessage) -> None:
        """Gone from the queue, but its log lines are not found yet (the log may lag)."""
        with self.database.connect() as connection:
            connection.execute(
                "UPDATE mail_watch_messages SET misses = misses + 1 WHERE watch_id = ? AND host = ? AND queue_id = ?",
                (message.watch_id, message.host, message.queue_id),
            )

    def checked(self, watch_ids: Sequence[str], now: float) -> None:
        with self.database.connect() as connection:
            for watch_id in watch_ids:
                connection.execute("UPDATE mail_watches SET checked_at = ? WHERE id = ?", (now, watch_id))

    def end(self, watch_id: str, reason: str, now: float) -> bool:
        with self.database.connect() as connection:
            moved = connection.execute(
                "UPDATE mail_watches SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                (now, reason, watch_id),
            ).rowcount
        return bool(moved)

    def news(self, watch_ids: Sequence[str] | None = None) -> list[WatchNews]:
        """What the owners were not told yet: settled messages, then ended watches."""
        with self.database.connect() as connection:
            settled = connection.execute(
                "SELECT m.* FROM mail_watch_messages m JOIN mail_watches w ON w.id = m.watch_id"
                " WHERE m.outcome IS NOT NULL AND m.told = 0 ORDER BY w.created_at, m.host, m.queue_id"
            ).fetchall()
            ended = connection.execute(
                "SELECT * FROM mail_watches WHERE ended_at IS NOT NULL AND end_told = 0 ORDER BY ended_at"
            ).fetchall()
            watches = {
                row["id"]: _watch(row)
                for row in connection.execute(
                    "SELECT * FROM mail_watches WHERE id IN (SELECT watch_id FROM mail_watch_messages"
                    " WHERE outcome IS NOT NULL AND told = 0)"
                ).fetchall()
            }
        news = [WatchNews(watches[row["watch_id"]], _watched(row), str(row["note"])) for row in settled]
        news += [WatchNews(w, None, _end_words(w)) for w in (_watch(row) for row in ended)]
        if watch_ids is not None:
            news = [n for n in news if n.watch.id in watch_ids]
        return news

    def told(self, news: WatchNews) -> None:
        with self.database.connect() as connection:
            if news.message is None:
                connection.execute("UPDATE mail_watches SET end_told = 1 WHERE id = ?", (news.watch.id,))
            else:
                connection.execute(
                    "UPDATE mail_watch_messages SET told = 1 WHERE watch_id = ? AND host = ? AND queue_id = ?",
                    (news.message.watch_id, news.message.host, news.message.queue_id),
                )


END_REASONS = {
    "settled": N_("every watched message left the queue"),
    "time": N_("its time is up"),
    "unwatched": N_("it was ended with unwatch"),
}


def _end_words(watch: Watch) -> str:
    why = END_REASONS.get(watch.end_reason or "", watch.end_reason or "")
    return _("The watch of {address} has ended: {why}.").format(address=watch.address, why=_(why))


def _watch(row: Any) -> Watch:
    return Watch(
        id=row["id"],
        address=row["address"],
        owner=row["owner"],
        channel=row["channel"],
        thread_ts=row["thread_ts"],
        created_at=float(row["created_at"]),
        ends_at=float(row["ends_at"]),
        checked_at=float(row["checked_at"]),
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
    )


def _watched(row: Any) -> WatchedMessage:
    return WatchedMessage(
        watch_id=row["watch_id"],
        host=row["host"],
        queue_id=row["queue_id"],
        outcome=row["outcome"],
        note=row["note"],
        misses=int(row["misses"]),
    )
