"""The SSH executor against the lab's real OpenSSH: keys pinned, time-outs, caps, reuse.

These tests need commands the bot never sends (`sleep`, `head -c`, `sh -c`), so most use the
lab's own key for the bot's account; the bot's key, forced through the guard, runs only the
bot's command shapes, which the last tests check.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import (
    AuthenticationFailed,
    CommandTimeout,
    GuardRefused,
    HostError,
    HostKeyRejected,
    HostUnreachable,
    OutputTooLarge,
)
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.ssh import HostConnection, HostPool
from bot.mailhost.tools import postfix
from bot.mailhost.values import parse_queue_id
from tests.conftest import ADMIN_KEY, GUARD_LOG, LAB_CONFIG, guard_log_since, lab_host_with
from tests.secretwatch import WATCH


def lab_fingerprint(host_config) -> str:
    pub = host_config.known_hosts.parent / "ssh_host_ed25519_key.pub"
    listed = subprocess.run(["ssh-keygen", "-lf", str(pub)], capture_output=True, text=True, check=True).stdout
    return listed.split()[1]  # SHA256:...


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP and never says a word, like a hung sshd or a black-holing firewall."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_commands_reuse_one_login(lab_admin_connection):
    first = lab_admin_connection.run(RemoteCommand("t", ("id", "-un")))
    second = lab_admin_connection.run(RemoteCommand("t", ("/usr/sbin/postqueue", "-j")))
    assert first.exit_status == 0 and first.stdout == b"bmsupport\n"
    assert second.exit_status == 0
    assert lab_admin_connection.logins == 1


def test_the_login_acknowledges_at_once_until_its_first_session(lab_admin_connection):
    """sshd's first packets after the key is accepted come in two writes, and its session
    confirmation waited 40 ms for our delayed ACK of the first (bench/README.md, issue 24)."""
    lab_admin_connection.reach()
    sock = lab_admin_connection._transport.sock
    assert sock.family == socket.AF_INET and sock.acks_at_once
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    assert lab_admin_connection.run(RemoteCommand("t", ("echo", "in"))).stdout == b"in\n"
    assert not sock.acks_at_once  # a large answer is acknowledged the usual way


def test_large_answers_come_through_aes_gcm_and_a_wide_window(lab_admin_connection):
    """paramiko's own first choice (aes128-ctr, HMAC-SHA2, a 2 MB window) cost about 40% more CPU
    reading a busy address's answer (bench/README.md, issue 24)."""
    with lab_admin_connection.open(RemoteCommand("t", ("head", "-c", "3000000", "/dev/zero"))) as stream:
        assert len(stream.read_all()) == 3_000_000
        transport = lab_admin_connection._transport
        assert transport.remote_cipher == transport.local_cipher == "aes128-gcm@openssh.com"
        assert stream._channel.in_window_size == transport.default_window_size == 4 * 1024 * 1024


def test_a_dead_connection_is_reopened(lab_admin_connection):
    lab_admin_connection.run(RemoteCommand("t", ("true",)))
    assert lab_admin_connection._transport is not None
    lab_admin_connection._transport.sock.close()  # the host or a NAT dropped the idle connection
    result = lab_admin_connection.run(RemoteCommand("t", ("echo", "back")))
    assert result.stdout == b"back\n"
    assert lab_admin_connection.logins == 2


def test_exit_status_stderr_and_a_last_line_without_newline(lab_admin_connection):
    with lab_admin_connection.open(RemoteCommand("t", ("sh", "-c", "printf 'a\\nb'; echo oops >&2; exit 3"))) as stream:
        assert list(stream.lines()) == [b"a", b"b"]
        assert stream.exit_status == 3
        assert stream.stderr == b"oops\n"


def test_sudo_is_limited_to_the_listed_tools(lab_admin_connection):
    refused = lab_admin_connection.run(RemoteCommand("t", ("sudo", "-n", "/bin/rm", "-f", "/tmp/mailbot-never")))
    assert refused.exit_status == 1
    assert "password is required" in refused.stderr_text


def test_a_changed_host_key_is_refused_and_named(lab_admin_host, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    key_type, key_base64 = Path(f"{other}.pub").read_text().split()[:2]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:2222 {key_type} {key_base64}\n")
    host = lab_host_with(lab_admin_host, known_hosts=known_hosts)
    with pytest.raises(HostKeyRejected) as refused, HostConnection(host) as connection:
        connection.run(RemoteCommand("t", ("true",)))
    message = refused.value.message
    assert "does not match the pinned one" in message
    assert lab_fingerprint(lab_admin_host) in message
    assert known_hosts.read_text().count("\n") == 1  # nothing was added


def test_an_unknown_host_key_is_refused_never_added(lab_admin_host, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    host = lab_host_with(lab_admin_host, known_hosts=known_hosts)
    with pytest.raises(HostKeyRejected) as refused, HostConnection(host) as connection:
        connection.run(RemoteCommand("t", ("true",)))
    assert "is not in" in refused.value.message and lab_fingerprint(lab_admin_host) in refused.value.message
    assert known_hosts.read_text() == ""


def test_a_key_the_host_does_not_know_is_refused(lab_admin_host, tmp_path):
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True)
    host = lab_host_with(lab_admin_host, key_file=stranger)
    with pytest.raises(AuthenticationFailed, match="refused the bot's key for user bmsupport"):
        HostConnection(host).run(RemoteCommand("t", ("true",)))


def test_an_encrypted_key_without_passphrase_says_so(lab_admin_host, tmp_path):
    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret-pass", "-f", str(locked)], check=True)
    host = lab_host_with(lab_admin_host, key_file=locked)
    with pytest.raises(Exception) as error:
        HostConnection(host).run(RemoteCommand("t", ("true",)))
    assert "protected by a passphrase" in str(error.value)
    assert "s3cret-pass" not in str(error.value)


def test_a_closed_port_fails_at_once(lab_admin_host):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    host = lab_host_with(lab_admin_host, port=free_port)
    started = time.monotonic()
    with pytest.raises(HostUnreachable, match=r"nothing listens on that port \(connection refused\)"):
        HostConnection(host).run(RemoteCommand("t", ("true",)))
    assert time.monotonic() - started < 1


def test_a_silent_port_fails_within_the_connect_timeout(lab_admin_host, silent_port):
    host = lab_host_with(lab_admin_host, port=silent_port, connect_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(HostUnreachable) as error:
        HostConnection(host).run(RemoteCommand("t", ("true",)))
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.5, elapsed
    assert "did not complete SSH" in error.value.message


def test_a_slow_command_is_stopped_at_its_deadline(lab_admin_host):
    host = lab_host_with(lab_admin_host, command_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="did not finish within 1 s"), HostConnection(host) as connection:
        connection.run(RemoteCommand("t", ("sleep", "10")))
    assert time.monotonic() - started < 3


def test_output_is_capped(lab_admin_host):
    host = lab_host_with(lab_admin_host, max_output_bytes=1024 * 1024)
    with pytest.raises(OutputTooLarge, match="passed 1 MB"), HostConnection(host) as connection:
        connection.run(RemoteCommand("t", ("head", "-c", "5000000", "/dev/zero")))


def test_concurrent_commands_share_one_login_within_max_sessions(lab_admin_host):
    host = lab_host_with(lab_admin_host, max_sessions=3)
    results: list[bytes] = []
    with HostConnection(host) as connection:
        connection.run(RemoteCommand("t", ("true",)))

        def work() -> None:
            results.append(connection.run(RemoteCommand("t", ("sh", "-c", "sleep 0.3; echo done"))).stdout)

        threads = [threading.Thread(target=work) for _ in range(9)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert results == [b"done\n"] * 9
    assert connection.logins == 1
    assert 0.85 <= elapsed < 3  # three waves of three: the cap held, and nothing failed


def test_two_entries_of_one_account_log_in_once(lab_admin_host):
    # Two Postfix instances of one machine, reached as the same account with the same key (the
    # lab's lab and edge): one SSH login carries both entries' commands.
    pool = HostPool()
    try:
        one = pool.connection(lab_host_with(lab_admin_host, name="backend"))
        other = pool.connection(lab_host_with(lab_admin_host, name="edge", maillog=("/var/log/mail-edge.log",)))
        elsewhere = pool.connection(lab_host_with(lab_admin_host, name="third", max_sessions=2))
        said = [c.run(RemoteCommand("t", ("sh", "-c", "echo $PPID"))).stdout for c in (one, other, elsewhere)]
        assert one.logins + other.logins == 1 and elsewhere.logins == 1
        assert one._transport is other._transport and elsewhere._transport is not one._transport
        assert said[0] and said[0] != said[1]  # one command per session, as before
        shared = one._transport
        assert shared is not None
        shared.sock.close()  # the shared login drops: the next command of either logs in again
        assert other.run(RemoteCommand("t", ("echo", "again"))).stdout == b"again\n"
        assert one._transport is other._transport is not shared and other.logins == 1
    finally:
        pool.close()


def test_more_commands_than_sshd_sessions_wait_instead_of_failing(lab_admin_host):
    # sshd allows 10 sessions per connection; a cap above that meets its refusals and must retry
    # them without closing the connection that carries the other commands.
    host = lab_host_with(lab_admin_host, max_sessions=14)
    results: list[bytes] = []
    with HostConnection(host) as connection:

        def work() -> None:
            results.append(connection.run(RemoteCommand("t", ("sh", "-c", "sleep 0.5; echo done"))).stdout)

        threads = [threading.Thread(target=work) for _ in range(14)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == [b"done\n"] * 14
    assert connection.logins == 1


def remote_sleepers(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-u", "bmsupport", "-f", marker], capture_output=True, text=True, check=False)
    return found.stdout.split()


def test_a_command_past_its_deadline_is_killed_on_the_host(lab_admin_host):
    host = lab_host_with(lab_admin_host, command_timeout=1.0)
    with pytest.raises(CommandTimeout), HostConnection(host) as connection:
        connection.run(RemoteCommand("t", ("sleep", "31.5")))
    deadline = time.monotonic() + 5
    while remote_sleepers("sleep 31.5") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert remote_sleepers("sleep 31.5") == []


def test_a_connection_cut_in_the_middle_of_a_command(lab_admin_connection):
    lab_admin_connection.run(RemoteCommand("t", ("true",)))

    def cut() -> None:
        time.sleep(0.5)
        subprocess.run(["pkill", "-f", "sshd: bmsupport"], check=False)

    threading.Thread(target=cut).start()
    started = time.monotonic()
    with pytest.raises((HostUnreachable, CommandTimeout)) as broken:
        lab_admin_connection.run(RemoteCommand("t", ("sleep", "5")))
    assert time.monotonic() - started < 3
    assert "lab" in broken.value.message
    assert lab_admin_connection.run(RemoteCommand("t", ("echo", "again"))).stdout == b"again\n"  # a fresh login


@pytest.mark.parametrize(
    "producer",
    [("head", "-c", "100000000", "/dev/zero"), ("sh", "-c", "yes mail.log line | head -c 100000000")],
    ids=["one endless line", "short lines"],
)
def test_a_hundred_megabytes_of_output_are_cut_with_bounded_memory(lab_admin_host, producer):
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from bot.config import load_config\n"
        "from bot.errors import OutputTooLarge\n"
        "from bot.mailhost.commands import RemoteCommand\n"
        "from bot.mailhost.ssh import HostConnection\n"
        "from dataclasses import replace\n"
        f"host = replace(load_config({str(LAB_CONFIG)!r}).hosts[0],\n"
        f"    max_output_bytes=64 * 1024 * 1024, key_file=Path({str(ADMIN_KEY)!r}))\n"
        # VmHWM, this process's own peak (ru_maxrss would carry the size of the pytest it was forked from)
        "def peak():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "before = peak()\n"
        "try:\n"
        f"    with HostConnection(host).open(RemoteCommand('t', {producer!r})) as s:\n"
        "        for _ in s.lines(): pass\n"
        "except OutputTooLarge as e:\n"
        "    after = peak()\n"
        "    print('capped', before // 1024, after // 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    word, before_mb, peak_mb = done.stdout.split()
    assert word == "capped"
    print(f"\n100 MB of output ({producer[0]}): cut at 64 MB; peak RSS {peak_mb} MB (after imports: {before_mb} MB)")
    assert int(peak_mb) - int(before_mb) < 32  # streamed: never the whole output in memory


def test_the_bots_key_runs_the_bots_commands_and_nothing_else(lab_connection):
    before = GUARD_LOG.stat().st_size
    assert lab_connection.run(RemoteCommand("queue_json", ("/usr/sbin/postqueue", "-j"))).exit_status == 0
    for argv in (("id",), ("/bin/sh", "-c", "id"), ("/usr/sbin/postqueue", "-j", "-c", "/tmp"), ("cat", "/etc/passwd")):
        with pytest.raises(GuardRefused) as refused:
            lab_connection.run(RemoteCommand("t", argv))
        assert refused.value.message.startswith("The guard on lab refused this command of the bot")
        assert "regenerate it with `mailbot guard`" in refused.value.message
    logged = guard_log_since(before)
    assert logged[0].endswith("allowed queue_json: '/usr/sbin/postqueue -j'")
    assert [line.split(" ", 1)[1].split(":")[0] for line in logged[1:]] == ["refused"] * 4


def test_a_locked_account_is_one_sentence_and_the_others_are_served(lab_host):
    """The bot's account locked by an admin (`usermod -L`): sshd refuses the key; the bot says so
    in one sentence, and a host reached through another account keeps answering."""
    slow = lab_host_with(lab_host, name="slowlink", user="bmslow")
    subprocess.run(["usermod", "-L", "bmslow"], check=True)
    try:
        with pytest.raises(AuthenticationFailed) as refused:
            HostConnection(slow).run(RemoteCommand("queue_json", ("/usr/sbin/postqueue", "-j")))
        with HostConnection(lab_host) as other:
            assert other.run(RemoteCommand("queue_json", ("/usr/sbin/postqueue", "-j"))).exit_status == 0
    finally:
        subprocess.run(["usermod", "-U", "bmslow"], check=True)
    message = refused.value.message
    assert message.startswith("slowlink refused the bot's key for user bmslow") and "locked" in message
    assert message.count(". ") == 0 and "\n" not in message
    with HostConnection(slow) as unlocked:  # and once unlocked, it works again
        assert unlocked.run(RemoteCommand("queue_json", ("/usr/sbin/postqueue", "-j"))).exit_status == 0


def test_a_passphrase_from_the_environment_opens_the_key_and_is_never_shown(lab_admin_host, tmp_path, monkeypatch):
    key = tmp_path / "protected_key"
    key.write_bytes(ADMIN_KEY.read_bytes())
    key.chmod(0o600)
    passphrase = WATCH.add("key passphrase", "correct horse battery staple 42")
    subprocess.run(["ssh-keygen", "-q", "-p", "-f", str(key), "-P", "", "-N", passphrase], check=True)
    host = lab_host_with(lab_admin_host, key_file=key, key_passphrase_env="MAILBOT_TEST_KEY_PASSPHRASE")
    monkeypatch.setenv("MAILBOT_TEST_KEY_PASSPHRASE", passphrase)
    with HostConnection(host) as connection:
        assert connection.run(RemoteCommand("t", ("id", "-un"))).stdout == b"bmsupport\n"
    monkeypatch.setenv("MAILBOT_TEST_KEY_PASSPHRASE", passphrase + " but wrong")
    with pytest.raises(HostError) as wrong:
        HostConnection(host).run(RemoteCommand("t", ("true",)))
    assert "cannot be loaded (wrong passphrase?)" in wrong.value.message
    assert "battery" not in wrong.value.message and "battery" not in repr(wrong.value)


def test_the_everyday_key_reads_and_the_change_key_only_changes(lab_host):
    """The lab gives the bot two keys, as the README suggests: `key_file` through the guard in
    read mode, `change_key_file` in write mode, used only to carry out an approved change."""
    pool = HostPool()
    try:
        reads, changes = pool.connection(lab_host), pool.connection(lab_host, for_change=True)
        assert changes.host.key_file == lab_host.change_key_file != lab_host.key_file
        assert reads.run(postfix.queue_json()).exit_status == 0
        with pytest.raises(GuardRefused):
            reads.run(postfix.flush_message(parse_queue_id("ABCDEF1234")))
        with pytest.raises(GuardRefused):
            changes.run(postfix.queue_json())
        before = GUARD_LOG.stat().st_size
        flushed = changes.run(postfix.flush_message(parse_queue_id("ABCDEF1234")))  # no such message: harmless
        assert flushed.exit_status == 0
        assert guard_log_since(before)[-1].endswith(
            "allowed flush_message: 'sudo -n /usr/sbin/postqueue -i ABCDEF1234'"
        )
    finally:
        pool.close()
