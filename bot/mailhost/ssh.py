"""Running fixed commands on a mail host over SSH (paramiko), safely and fast.

- The host key is checked against the configured `known_hosts` only; an unknown or
  changed key is refused with its fingerprint and never added.
- One connection per host is kept and reused by consecutive commands (a cold connect
  costs ~100 ms, a warm command ~2 ms when the socket sets TCP_NODELAY, which paramiko
  does not do by itself: PERFORMANCE.md).
- The login acknowledges sshd's packets at once (a delayed ACK held the first session 40 ms), and
  large answers come through AES-GCM and a 4 MB window (`_LoginSocket`, `WINDOW_BYTES`).
- Every command has a deadline and an output cap; output is streamed line by line so a
  large answer is parsed as it arrives instead of being held whole in memory.
"""

from __future__ import annotations

import errno
import importlib
import itertools
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

from bot import observe
from bot.errors import (
    AuthenticationFailed,
    CommandTimeout,
    GuardRefused,
    HostError,
    HostKeyRejected,
    HostUnreachable,
    OutputTooLarge,
)
from bot.i18n import N_, _
from bot.mailhost.commands import RemoteCommand

if TYPE_CHECKING:
    import paramiko

    from bot.config import HostConfig
else:

    class _Paramiko:
        """paramiko, imported the first time the bot uses it: a refused address or `--help` does not
        wait for it (73 ms of imports, half of it invoke; issue 24)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(_import_paramiko(), name)

    paramiko = _Paramiko()

_IMPORT_LOCK = threading.Lock()


def _import_paramiko() -> ModuleType:
    """paramiko, its module bound in place of the stand-in above.

    - paramiko.config imports invoke (38 ms with its unittest.mock) for ssh_config's `Match exec`,
      which the bot never reads (it takes no ssh_config): the import is refused while paramiko
      loads, and paramiko keeps the ImportError for that one feature, as it does when invoke is
      missing.
    - paramiko's `__init__` asks `importlib.metadata` for its own version (for the banner it sends,
      `SSH-2.0-paramiko_VERSION`): importing that module and searching the path cost 12-15 ms of a
      lab trace's 0.36 s (issue 24). While paramiko loads, a stand-in answers that one question from
      the name of paramiko's `.dist-info` folder, and hands anything else to the real module.
    """
    with _IMPORT_LOCK:
        if "paramiko" in sys.modules or "invoke" in sys.modules:
            module = importlib.import_module("paramiko")
        else:
            sys.modules["invoke"] = None  # type: ignore[assignment]
            standing_in = "importlib.metadata" not in sys.modules
            if standing_in:
                sys.modules["importlib.metadata"] = _Metadata("importlib.metadata")
            try:
                module = importlib.import_module("paramiko")
            finally:
                del sys.modules["invoke"]
                if standing_in and isinstance(sys.modules.get("importlib.metadata"), _Metadata):
                    del sys.modules["importlib.metadata"]
        globals()["paramiko"] = module
        return module


class _Metadata(ModuleType):
    """`importlib.metadata` while paramiko loads: `version()` read off the `NAME-VERSION.dist-info`
    folder that the real module would find first on sys.path; anything else from the real module."""

    def version(self, distribution: str) -> str:
        prefix = distribution.replace("-", "_").lower() + "-"
        for folder in sys.path:
            with suppress(OSError):
                for entry in Path(folder or ".").iterdir():
                    name = entry.name
                    if name.endswith(".dist-info") and name.lower().startswith(prefix):
                        return name[len(prefix) : -len(".dist-info")]
        return str(_real_metadata().version(distribution))

    def __getattr__(self, name: str) -> Any:
        return getattr(_real_metadata(), name)


def _real_metadata() -> ModuleType:
    """The real `importlib.metadata`, in place of the stand-in from now on."""
    if isinstance(sys.modules.get("importlib.metadata"), _Metadata):
        del sys.modules["importlib.metadata"]
    return importlib.import_module("importlib.metadata")


def _one_malloc_arena() -> None:
    """The process's threads share one malloc arena, as `MALLOC_ARENA_MAX=1` would have them (unless
    that variable says otherwise): set when this module is loaded, before the threads that talk to
    hosts (paramiko's readers, `fanout`'s askers) are started.

    glibc gives a thread that allocates an arena of its own; paramiko's reader thread decrypts a
    big answer's packets there, and that arena kept 4 MB that the parsing thread had freed: the
    peak of the busiest trace of bench/run.py went from 106 to 102 MB (issue 24). Where the C
    library is not glibc, nothing changes."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    import ctypes  # 2 ms: only a process that may go to a host loads it

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, 1)


_M_ARENA_MAX = -8  # glibc's <malloc.h>
_one_malloc_arena()


CHUNK = 256 * 1024
# The channel's window, and AES-GCM first among the ciphers (OpenSSH has offered it since 6.2):
# the answers of a busy address are tens of MB, which paramiko decrypts and checks in Python's
# threads. Reading 300 MB on the lab cost 1.2-1.9 s of CPU with paramiko's choice (aes128-ctr and
# HMAC-SHA2, a 2 MB window) and 0.8-0.9 s with these (issue 24).
WINDOW_BYTES = 4 * 1024 * 1024
MAX_LINE = 64 * 1024
GUARD_REFUSED = 126  # what `mailbot guard`'s program exits with when it refuses a command
MAX_STDERR = 64 * 1024
KEEPALIVE_SECONDS = 30
SESSION_RETRY_SECONDS = 0.2
KILL_GRACE_SECONDS = 2  # after the time-out's TERM, KILL
# What the system says when a connection fails is English (strerror): the usual ones in the reader's words.
_SOCKET_ERRORS = {
    errno.ECONNREFUSED: N_("nothing listens on that port (connection refused)"),
    errno.EHOSTUNREACH: N_("no route to that host"),
    errno.ENETUNREACH: N_("the network is unreachable"),
    errno.ETIMEDOUT: N_("the connection timed out"),
    errno.ECONNRESET: N_("the connection was reset"),
}


_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _LoginSocket(socket.socket):
    """The bot's end of an SSH connection: it acknowledges what it receives at once while it logs in.

    After the key is accepted, sshd sends its first packets (the `hostkeys-00` notice and the
    authorized_keys options of the guard's key) in two writes, then the confirmation of the first
    session: without TCP_NODELAY on sshd's side the confirmation waits for our ACK of the first write,
    which Linux delays by 40 ms. That was 43 ms of every cold command, measured on the lab (issue 24);
    0.8-2.3 ms with the ACK sent at once. Once the first session is open, delayed ACKs are back (a
    large answer is not acknowledged segment by segment)."""

    acks_at_once = True

    def recv(self, size: int, flags: int = 0) -> bytes:
        data = super().recv(size, flags)
        if self.acks_at_once and _QUICKACK is not None:
            try:
                self.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:  # not a TCP socket's option here: the ACK is only later
                self.acks_at_once = False
        return data


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()


class RemoteStream:
    """The output of one running command, read line by line; knows its exit status after."""

    def __init__(
        self, channel: paramiko.Channel, host: HostConfig, deadline: float, on_close: Callable[[], None]
    ) -> None:
        self._channel = channel
        self._host = host
        self._deadline = deadline
        self._on_close: Callable[[], None] | None = on_close
        self._received = 0
        self._stderr = bytearray()
        self.exit_status: int | None = None
        self.started = time.monotonic()

    def __enter__(self) -> RemoteStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()
        release, self._on_close = self._on_close, None
        if release is not None:
            release()
            observe.ssh_command(self._host.name, time.monotonic() - self.started, self.exit_status)

    @property
    def stderr(self) -> bytes:
        return bytes(self._stderr)

    def lines(self) -> Iterator[bytes]:
        """Each line of stdout without its newline; the last one even if it has none.

        A line longer than MAX_LINE (no log line is) is cut there and the rest of it skipped,
        so memory stays bounded whatever the host prints.
        """
        yield from _lines(self._chunks())
        self._finish()

    def blocks(self) -> Iterator[str]:
        """stdout as text in blocks of whole lines, as it comes: the `lines`, each decoded (UTF-8,
        errors replaced), joined by newlines. One decode and no object per line: a busy trace's
        300,000 lines cost 0.33 s through `lines`, 0.03 s here. If a line passes MAX_LINE, the
        rest is read through `lines`, each line a block."""
        chunks = self._chunks()
        pending = b""
        for chunk in chunks:
            data = pending + chunk if pending else chunk
            end = data.rfind(b"\n") + 1
            whole, pending = data[:end], data[end:]
            if len(pending) > MAX_LINE or not _short_lines(whole):
                for line in _lines(itertools.chain((data,), chunks)):
                    yield line.decode("utf-8", "replace") + "\n"
                pending = b""
                break
            if whole:
                yield whole.decode("utf-8", "replace")
        if pending:
            yield pending.decode("utf-8", "replace")
        self._finish()

    def read_all(self) -> bytes:
        data = b"".join(self._chunks())
        self._finish()
        return data

    def _remaining(self) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            self._channel.close()
            raise CommandTimeout(
                self._host.name,
                _(
                    "The command on {host} did not finish within {command_timeout:g} s and was stopped; "
                    "try a shorter --since, or raise command_timeout for this host."
                ).format(host=self._host.name, command_timeout=self._host.command_timeout),
            )
        return remaining

    def _chunks(self) -> Iterator[bytes]:
        channel = self._channel
        while True:
            self._drain_stderr()
            channel.settimeout(min(self._remaining(), 0.2))
            try:
                chunk = channel.recv(CHUNK)
            except TimeoutError:
                continue
            except (OSError, paramiko.SSHException) as exc:
                raise HostUnreachable(
                    self._host.name,
                    _("The connection to {host} broke during the command ({exc}).").format(
                        host=self._host.name, exc=exc
                    ),
                ) from None
            if not chunk:
                return
            self._received += len(chunk)
            if self._received > self._host.max_output_bytes:
                channel.close()
                raise OutputTooLarge(
                    self._host.name,
                    _(
                        "The answer from {host} passed {number} MB and was cut off; narrow the search (for "
                        "example with --since)."
                    ).format(host=self._host.name, number=self._host.max_output_bytes // (1024 * 1024)),
                )
            yield chunk

    def _drain_stderr(self) -> None:
        while self._channel.recv_stderr_ready():
            data = self._channel.recv_stderr(CHUNK)
            if len(self._stderr) < MAX_STDERR:
                self._stderr += data[: MAX_STDERR - len(self._stderr)]

    def _finish(self) -> None:
        while not self._channel.exit_status_ready():
            self._drain_stderr()
            self._channel.status_event.wait(min(self._remaining(), 0.2))
        self._drain_stderr()
        channel = self._channel
        channel.settimeout(self._remaining())
        try:
            while data := channel.recv_stderr(CHUNK):
                if len(self._stderr) < MAX_STDERR:
                    self._stderr += data[: MAX_STDERR - len(self._stderr)]
        except TimeoutError:
            pass
        self.exit_status = channel.recv_exit_status()
        channel.close()
        if self.exit_status == -1:  # the channel closed without an exit status: the link broke
            raise HostUnreachable(
                self._host.name,
                _("The connection to {host} broke before the command ended; it may or may not have run.").format(
                    host=self._host.name
                ),
            )
        if self.exit_status == GUARD_REFUSED and self._stderr.startswith(b"mailbot-guard: refused"):
            raise GuardRefused(
                self._host.name,
                _(
                    "The guard on {host} refused this command of the bot: it was made for other settings "
                    "(log paths, bm-cli, Postfix instance) or by an older bot; regenerate it with `mailbot "
                    "guard` and install it there."
                ).format(host=self._host.name),
            )


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`RemoteStream.lines` of any chunks."""
    pending = bytearray()
    skipping = False
    for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if pending:
                if not skipping:
                    pending += chunk[start:end]
                    yield bytes(pending[:MAX_LINE])
                pending.clear()
            elif not skipping:  # the usual case: the whole line is in this chunk
                yield chunk[start : min(end, start + MAX_LINE)]
            skipping = False
            start = end + 1
        if not skipping:
            pending += chunk[start:]
            if len(pending) > MAX_LINE:
                yield bytes(pending[:MAX_LINE])
                pending.clear()
                skipping = True
    if pending:
        yield bytes(pending)


def _short_lines(data: bytes) -> bool:
    """No line of `data` passes MAX_LINE: a newline at most MAX_LINE bytes after each line's start
    (a few `rfind`s per 256 kB, not one per line)."""
    start = 0
    while len(data) - start > MAX_LINE:
        newline = data.rfind(b"\n", start, start + MAX_LINE + 1)
        if newline < 0:
            return False
        start = newline + 1
    return True


class Login:
    """One authenticated SSH transport and its sessions, shared by the host entries that log in
    the same way: two Postfix instances of one machine (the lab's `lab` and `edge`) cost one key
    exchange, not two (25 ms of CPU on each side, issue 24), and count against one MaxSessions."""

    def __init__(self, host: HostConfig) -> None:
        self.transport: paramiko.Transport | None = None
        self.lock = threading.Lock()
        self.sessions = threading.BoundedSemaphore(host.max_sessions)

    @staticmethod
    def key(host: HostConfig) -> tuple[object, ...]:
        """What makes two host entries one login: the same account on the same SSH server, with
        the same key, pinned host key and limits."""
        return (
            host.address,
            host.port,
            host.user,
            str(host.key_file),
            host.key_passphrase_env,
            str(host.known_hosts),
            host.connect_timeout,
            host.max_sessions,
        )


class HostConnection:
    """One host entry's SSH transport, opened on first use, reopened if dead (shared with the
    entries of the same `login`)."""

    def __init__(self, host: HostConfig, login: Login | None = None) -> None:
        self.host = host
        self._login = login or Login(host)
        self._sessions = self._login.sessions
        self.logins = 0  # how many times this connection had to log in (reuse keeps it at 1)

    @property
    def _transport(self) -> paramiko.Transport | None:
        return self._login.transport

    def __enter__(self) -> HostConnection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        login = self._login
        with login.lock:
            if login.transport is not None:
                login.transport.close()
                login.transport = None

    def open(self, command: RemoteCommand, timeout: float | None = None) -> RemoteStream:
        """Start `command`; the caller reads the stream (and must close it).

        At most `max_sessions` commands run at once on one host (sshd refuses channels past
        its MaxSessions, 10 by default); the others wait for a free one within their deadline.
        """
        limit = timeout or self.host.command_timeout
        deadline = time.monotonic() + limit
        if not self._sessions.acquire(timeout=limit):
            raise CommandTimeout(
                self.host.name,
                _(
                    "{host} is busy with {max_sessions} commands already; none ended within {limit:g} s. "
                    "Try again shortly."
                ).format(host=self.host.name, max_sessions=self.host.max_sessions, limit=limit),
            )
        try:
            return RemoteStream(self._start(command, deadline), self.host, deadline, self._sessions.release)
        except BaseException:
            self._sessions.release()
            raise

    def _start(self, command: RemoteCommand, deadline: float) -> paramiko.Channel:
        reconnected = False
        while True:
            transport = self._connected()
            try:
                channel = transport.open_session(timeout=self.host.connect_timeout)
                if isinstance(transport.sock, _LoginSocket):
                    transport.sock.acks_at_once = False  # logged in: see _LoginSocket
                channel.exec_command(_bounded(command, deadline))
                return channel
            except (paramiko.SSHException, OSError, EOFError) as exc:
                time.sleep(SESSION_RETRY_SECONDS)
                if not transport.is_active():
                    # The connection died while idle (host restarted, NAT time-out): log in again, once.
                    if reconnected:
                        raise HostUnreachable(
                            self.host.name,
                            _("{host} closed the SSH connection ({value}).").format(
                                host=self.host.name, value=exc or type(exc).__name__
                            ),
                        ) from None
                    self._drop(transport)
                    reconnected = True
                    continue
                # The connection is fine and carries other commands: the host refused one more
                # session (sshd's MaxSessions, or one still closing). Wait and try again.
                if time.monotonic() + SESSION_RETRY_SECONDS >= deadline:
                    raise HostUnreachable(
                        self.host.name,
                        _("{host} refused a new SSH session until the time-out.").format(host=self.host.name),
                    ) from None

    def run(self, command: RemoteCommand, timeout: float | None = None) -> CommandResult:
        with self.open(command, timeout) as stream:
            stdout = stream.read_all()
            assert stream.exit_status is not None
            return CommandResult(stream.exit_status, stdout, stream.stderr, time.monotonic() - stream.started)

    def reach(self) -> None:
        """Log in unless logged in already: GET /ready asks this of the hosts no command reached lately."""
        self._connected()
        observe.host_reached(self.host.name)

    def _drop(self, transport: paramiko.Transport) -> None:
        login = self._login
        with login.lock:
            if login.transport is transport:
                login.transport = None
        transport.close()

    def _connected(self) -> paramiko.Transport:
        login = self._login
        with login.lock:
            if login.transport is not None and login.transport.is_active():
                return login.transport
            started = time.monotonic()
            try:
                login.transport = transport = connect(self.host)
            except HostError as failure:
                observe.ssh_failed(self.host.name, type(failure).__name__)
                raise
            observe.ssh_connected(self.host.name, time.monotonic() - started)
            self.logins += 1
            return transport


def _bounded(command: RemoteCommand, deadline: float) -> str:
    """The command line, under the host's own `timeout`: closing our channel at the deadline
    does not stop a remote process that writes nothing, so the host ends it by itself."""
    seconds = max(1, int(deadline - time.monotonic()) + 1)
    return f"timeout -k {KILL_GRACE_SECONDS} {seconds} {command.shell_line()}"


def connect(host: HostConfig) -> paramiko.Transport:
    """Open, verify the host key, authenticate. Raises a `HostError` naming what went wrong."""
    pinned = _pinned_keys(host)
    key = _private_key(host)
    where = f"{host.address}:{host.port}"
    try:
        sock = socket.create_connection((host.address, host.port), timeout=host.connect_timeout)
    except TimeoutError:
        raise HostUnreachable(
            host.name,
            _("{host} ({where}) did not answer within {connect_timeout:g} s; is the host up?").format(
                host=host.name, where=where, connect_timeout=host.connect_timeout
            ),
        ) from None
    except OSError as exc:
        reason = _(_SOCKET_ERRORS[exc.errno]) if exc.errno in _SOCKET_ERRORS else exc.strerror or str(exc)
        raise HostUnreachable(
            host.name,
            _("Cannot connect to {host} ({where}): {reason}.").format(host=host.name, where=where, reason=reason),
        ) from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock = _LoginSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    sock.settimeout(host.connect_timeout)  # the new object's own (the descriptor is the same)
    transport = paramiko.Transport(sock, default_window_size=WINDOW_BYTES)
    try:
        transport.banner_timeout = host.connect_timeout
        transport.handshake_timeout = host.connect_timeout
        ciphers = transport.get_security_options().ciphers
        transport.get_security_options().ciphers = tuple(sorted(ciphers, key=lambda name: "-gcm@" not in name))
        # Ask only for the key types we have pinned, so a host offering several is checked
        # against the right one instead of failing on a type we never recorded.
        supported = transport.get_security_options().key_types
        wanted = [t for t in supported if t in pinned] or list(supported)
        transport.get_security_options().key_types = wanted
        try:
            # start_client returns quietly when its time-out passes: the key exchange may not be done.
            transport.start_client(timeout=host.connect_timeout)
            offered = transport.get_remote_server_key()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(
                host.name,
                _(
                    "{host} ({where}) accepted the connection but did not complete SSH within "
                    "{connect_timeout:g} s ({value})."
                ).format(
                    host=host.name, where=where, connect_timeout=host.connect_timeout, value=exc or _("no answer")
                ),
            ) from None
        _check_host_key(host, offered, pinned)
        try:
            transport.auth_publickey(host.user, key)
        except paramiko.AuthenticationException:
            raise AuthenticationFailed(
                host.name,
                _(
                    "{host} refused the bot's key for user {user}; check that the public key of {key_file} "
                    "is in that account's authorized_keys and that the account is not locked."
                ).format(host=host.name, user=host.user, key_file=host.key_file),
            ) from None
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise HostUnreachable(
                host.name, _("{host} dropped the connection during login ({exc}).").format(host=host.name, exc=exc)
            ) from None
        transport.set_keepalive(KEEPALIVE_SECONDS)
        return transport
    except BaseException:
        transport.close()
        raise


def host_key_name(host: HostConfig) -> str:
    return host.address if host.port == 22 else f"[{host.address}]:{host.port}"


def _pinned_keys(host: HostConfig) -> dict[str, paramiko.PKey]:
    keys = paramiko.HostKeys()
    try:
        keys.load(str(host.known_hosts))
    except FileNotFoundError:
        raise HostKeyRejected(
            host.name,
            _("The known_hosts file {known_hosts} for {host} does not exist; pin the host key first.").format(
                known_hosts=host.known_hosts, host=host.name
            ),
        ) from None
    except (OSError, paramiko.SSHException) as exc:
        raise HostKeyRejected(
            host.name,
            _("Cannot read the known_hosts file {known_hosts}: {exc}.").format(known_hosts=host.known_hosts, exc=exc),
        ) from None
    entry = keys.lookup(host_key_name(host))
    return dict(entry) if entry is not None else {}


def _check_host_key(host: HostConfig, offered: paramiko.PKey, pinned: dict[str, paramiko.PKey]) -> None:
    name = host_key_name(host)
    if not pinned:
        raise HostKeyRejected(
            host.name,
            _(
                "{host} ({name}) offered host key {get_name} {fingerprint}, which is not in "
                "{known_hosts}. Check this fingerprint with the host's admin (ssh-keygen -lf on the "
                "host) and add the key yourself; the bot never adds keys."
            ).format(
                host=host.name,
                name=name,
                get_name=offered.get_name(),
                fingerprint=offered.fingerprint,
                known_hosts=host.known_hosts,
            ),
        )
    expected = pinned.get(offered.get_name())
    if expected is None or expected != offered:
        shown = ", ".join(sorted(k.fingerprint for k in pinned.values()))
        raise HostKeyRejected(
            host.name,
            _(
                "The host key of {host} ({name}) does not match the pinned one: it offered {get_name} "
                "{fingerprint}, {known_hosts} has {shown}. Nothing was run. If the host was "
                "reinstalled, update known_hosts after checking the new fingerprint; otherwise treat "
                "it as an attack."
            ).format(
                host=host.name,
                name=name,
                get_name=offered.get_name(),
                fingerprint=offered.fingerprint,
                known_hosts=host.known_hosts,
                shown=shown,
            ),
        )


def _private_key(host: HostConfig) -> paramiko.PKey:
    passphrase = os.environ.get(host.key_passphrase_env) if host.key_passphrase_env else None
    path = Path(host.key_file)
    # paramiko 5.1 hands the password to cryptography as it is, and cryptography wants bytes (a
    # str raises the TypeError that otherwise means "a passphrase is needed").
    password = passphrase.encode() if passphrase is not None else None
    try:
        return paramiko.PKey.from_path(path, password=password)  # type: ignore[arg-type]
    except FileNotFoundError:
        raise HostError(
            host.name, _("The SSH key file {path} for {host} does not exist.").format(path=path, host=host.name)
        ) from None
    except PermissionError:
        raise HostError(
            host.name,
            _("The SSH key file {path} for {host} is not readable by this user.").format(path=path, host=host.name),
        ) from None
    except (paramiko.PasswordRequiredException, TypeError):  # TypeError: cryptography's "password was not provided"
        raise HostError(
            host.name,
            _(
                "The SSH key {path} is protected by a passphrase; set key_passphrase_env for {host} "
                "and put the passphrase in that environment variable."
            ).format(path=path, host=host.name),
        ) from None
    except (paramiko.SSHException, ValueError) as exc:
        hint = _(" (wrong passphrase?)") if passphrase else ""
        raise HostError(
            host.name,
            _("The SSH key file {path} cannot be loaded{hint} ({name__}).").format(
                path=path, hint=hint, name__=type(exc).__name__
            ),
        ) from None


class HostPool:
    """The connections of every configured host, shared by all commands of the process."""

    def __init__(self) -> None:
        self._connections: dict[str, HostConnection] = {}
        self._logins: dict[tuple[object, ...], Login] = {}
        self._lock = threading.Lock()

    def connection(self, host: HostConfig, for_change: bool = False) -> HostConnection:
        """The host's shared connection; `for_change`: the one of its change key (if configured),
        which only an approved change uses."""
        key = f"{host.name}\0change" if for_change and host.change_key_file else host.name
        target = host.for_changes() if for_change else host
        with self._lock:
            existing = self._connections.get(key)
            if existing is None or existing.host != target:
                login = self._logins.setdefault(Login.key(target), Login(target))
                existing = HostConnection(target, login)
                self._connections[key] = existing
            return existing

    def close(self) -> None:
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()
            self._logins.clear()
