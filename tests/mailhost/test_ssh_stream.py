"""`RemoteStream.blocks` (text in blocks of whole lines) against `lines`, on a fake channel."""

from __future__ import annotations

import random
import threading
import time
from types import SimpleNamespace

from bot.mailhost.ssh import MAX_LINE, RemoteStream


class Channel:
    """A channel that hands out `data` in the sizes asked, then its end."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes = data, sizes
        self.status_event = threading.Event()
        self.status_event.set()

    def settimeout(self, seconds: float) -> None:
        pass

    def recv(self, size: int) -> bytes:
        part = self.sizes.pop(0) if self.sizes else size
        chunk, self.data = self.data[:part], self.data[part:]
        return chunk

    def recv_stderr_ready(self) -> bool:
        return False

    def recv_stderr(self, size: int) -> bytes:
        return b""

    def exit_status_ready(self) -> bool:
        return True

    def recv_exit_status(self) -> int:
        return 0

    def close(self) -> None:
        pass


def stream(data: bytes, sizes: list[int]) -> RemoteStream:
    host = SimpleNamespace(name="mx", max_output_bytes=1 << 30, command_timeout=60)
    return RemoteStream(Channel(data, list(sizes)), host, time.monotonic() + 60, lambda: None)  # type: ignore[arg-type]


def test_blocks_are_the_lines_decoded():
    rng = random.Random(4)
    line = b"Nov 28 10:00:00 mx postfix/qmgr[2]: ABCDEF12345: removed"
    pieces = [line, b"", b"caf\xc3\xa9 \xe2\x82", b"\xff\xfe x\r"]
    cases = [
        b"\n".join(rng.choice(pieces) for _ in range(2000)),
        b"\n".join(rng.choice(pieces) for _ in range(2000)) + b"\n",
        b"a\n" + b"x" * (MAX_LINE + 10) + b"\nb\n" + b"y" * MAX_LINE + b"\nc",  # a line too long is cut
        b"z" * (3 * MAX_LINE) + b"\nend",
        b"",
    ]
    for data in cases:
        for sizes in ([], [rng.randint(1, 5000) for _ in range(400)], [1] * 300):
            expected = [line.decode("utf-8", "replace") for line in stream(data, sizes).lines()]
            text = "".join(stream(data, sizes).blocks())
            got = text.removesuffix("\n").split("\n") if text else []
            assert got == expected
