"""Rate limits: one person flooding the bot does not slow anyone else down."""

from __future__ import annotations

import statistics
import threading
import time

from bot.slack.limits import Limit, RateLimiter
from tests.slack.test_serve import ack_json, finals


def test_a_sliding_window():
    limiter = RateLimiter(Limit(3, 10))
    assert [limiter.wait_needed("U1", now=t) for t in (0, 1, 2)] == [0, 0, 0]
    assert limiter.wait_needed("U1", now=3) == 7
    assert limiter.wait_needed("U2", now=3) == 0  # someone else is not affected
    assert limiter.wait_needed("U1", now=10.5) == 0  # the first one left the window


def test_two_hundred_commands_from_one_user_leave_others_on_time(fake_slack, start_bot):
    bot = start_bot(fake_slack, slack={"rate_limits": {"per_user": "10/60s", "per_channel": "1000/60s"}})

    def ask(user: str) -> float:
        """Seconds from the slash command to its answer."""
        url = fake_slack.new_response_url()
        asked = time.monotonic()
        reply = fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id=user, response_url=url)
        assert reply.status == 200 and reply.elapsed < 3
        fake_slack.wait_for("response_url", lambda c: c.url == url and "Trace of quota2" in str(c.args), timeout=30)
        return time.monotonic() - asked

    alone = ask("U0BASE")
    flood_replies: list[str] = []
    others: list[float] = []

    def flood() -> None:
        for _ in range(200):
            reply = fake_slack.send_slash_command(bot.url, text="trace quota2@lab.test", user_id="U0FLOOD")
            flood_replies.append(ack_json(reply.body)["text"])

    def other(n: int) -> None:
        time.sleep(0.2 * n)
        others.append(ask(f"U0OTHER{n}"))

    threads = [threading.Thread(target=flood)] + [threading.Thread(target=other, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [text for text in flood_replies if "faster than the bot allows" in text]
    assert len(flood_replies) == 200 and len(refused) == 190
    assert len(others) == 5
    print(
        f"\nflood of 200 from one user: 10 ran, 190 refused at once; 5 other users answered in median "
        f"{statistics.median(others):.2f} s, worst {max(others):.2f} s (one command alone: {alone:.2f} s)"
    )
    assert max(others) < alone + 3
    assert len(finals(fake_slack)) == 1 + 10 + 5
