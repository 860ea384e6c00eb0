"""Realistic Postfix logs for the trace benchmark: `mail.log`, `mail.log.1`, `mail.log.2.gz`, `mail.log.3.gz`.

What a BlueMind front MTA writes over a few days (one file a day, as logrotate leaves them):
postscreen and smtpd sessions (connect, `client=`, disconnect), cleanup `message-id=`, qmgr
`from=/size/nrcpt`, deliveries to BlueMind over LMTP (`[domain!user.x.INBOX () UID]`) and to the
internet over SMTP, a content-filter hop (`queued as`), deferrals (over quota, timeouts, greylisting)
retried for hours (across rotations), bounces and their non-delivery notices, expiries, `NOQUEUE`
rejects from smtpd and postscreen, local pickups, `removed`, noise, and a few lines with invalid
UTF-8. Recipients follow a Zipf-like popularity; on top of them, named addresses with a known
number of messages: a rare one (a handful, one per file), two medium ones (~1,000 at 1 GB) and a
very frequent one (~45,000 at 1 GB), scaled with --size.

Deterministic: the same --size, --seed and end time give the same bytes. Files are world-readable
(0644) in a folder per size; a manifest records the parameters, and a second run with the same
parameters does nothing.

    python3 bench/gen_logs.py --size 1G              # /var/tmp/mailbot-bench/1G
    python3 bench/gen_logs.py --size 4M --out /tmp/x # the small mode CI runs
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import itertools
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

FORMAT_VERSION = 1
DEFAULT_ROOT = Path("/var/tmp/mailbot-bench")  # noqa: S108  (kept between runs on purpose; files are 0644 data)
FILES = ("mail.log.3.gz", "mail.log.2.gz", "mail.log.1", "mail.log")  # oldest first
BYTES_PER_MESSAGE = 1350  # measured on this generator's output: keeps --size close to the real size
GIGABYTE = 1 << 30
HOST = "mx1"
DOMAIN = "example.com"
TECHNICAL_DOMAIN = "example.internal"
STORE = "bm1.example.internal[10.0.0.7]:2400"
WEBMAIL = "bm1.example.internal[10.0.0.7]"
FILTER = "127.0.0.1[127.0.0.1]:10024"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The named addresses and their share of the messages at 1 GB (scaled with the size).
RARE = "yann.kerouac@example.com"
MEDIUM = "compta@example.com"
SECOND = "rh@example.com"
FREQUENT = "support@example.com"
FREQUENT_MESSAGES = 45_000
MEDIUM_MESSAGES = 1_000
RARE_MESSAGES = 4  # one per file, whatever the size


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "marie jean pierre michel anne philippe nathalie alain isabelle sylvie catherine patrick christine nicolas "
    "christophe sophie stephane francois laurent julien sandrine valerie david eric frederic olivier thomas "
    "camille lea manon emma hugo lucas louis chloe ines jules sarah antoine pauline mathieu aurelie vincent "
    "celine sebastien emilie guillaume caroline romain juliette maxime claire alexandre elodie benoit lucie "
    "quentin helene jerome florence thierry agnes bruno veronique denis martine yves monique gilles brigitte"
)
LAST = _words(
    "martin bernard dubois thomas robert richard petit durand leroy moreau simon laurent lefebvre michel "
    "garcia david bertrand roux vincent fournier morel girard andre lefevre mercier dupont lambert bonnet "
    "francois martinez legrand garnier faure rousseau blanc guerin muller henry roussel nicolas perrin morin "
    "mathieu clement gauthier dumont lopez fontaine chevalier robin masson sanchez gerard nguyen boyer denis "
    "lemaire duval joly gautier roger roche roy noel meyer lucas meunier jean perez marchand dufour blanchard "
    "marie barbier brun dumas brunet schmitt leroux colin fernandez pierre renard arnaud rolland caron aubert"
)
REMOTE_DOMAINS = _words(
    "gmail.com orange.fr wanadoo.fr free.fr outlook.fr hotmail.com yahoo.fr laposte.net sfr.fr icloud.com "
    "partner-industrie.fr fournisseur.fr cabinet-conseil.fr banque-populaire.fr impots.gouv.fr ameli.fr "
    "univ-rennes.fr cnrs.fr linkedin.com github.com atlassian.net salesforce.com mailchimp.com sendgrid.net"
)
REMOTE_MX = {
    "gmail.com": "gmail-smtp-in.l.google.com[142.250.27.26]:25",
    "hotmail.com": "hotmail-com.olc.protection.outlook.com[104.47.58.33]:25",
    "outlook.fr": "outlook-fr.olc.protection.outlook.com[104.47.24.33]:25",
}
CLIENTS = (
    "mail-wm1-f54.google.com[209.85.128.54]",
    "mail-ej1-f48.google.com[209.85.218.48]",
    "smtp-out.orange.fr[80.12.242.130]",
    "smtp.free.fr[212.27.48.4]",
    "EUR05-DB8-obe.outbound.protection.outlook.com[40.107.20.91]",
    "mx.fournisseur.fr[203.0.113.25]",
    "mail.partner-industrie.fr[198.51.100.14]",
    "o1.email.mailchimp.com[198.2.128.1]",
    "out-25.smtp.github.com[192.30.252.208]",
    "unknown[203.0.113.77]",
)
DEFERRALS_LOCAL = (
    "4.2.2",
    "host {store_host} said: 452 4.2.2 Over quota SESSIONID=<bm1-{n}-{k}> (in reply to RCPT TO command)",
)
DEFERRALS_REMOTE = (
    ("4.4.1", "connect to {mx}: Connection timed out"),
    (
        "4.7.1",
        "host {mx} said: 450 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/{domain}.html (in reply to RCPT TO command)",
    ),
    ("4.4.3", "Host or domain name not found. Name service error for name={domain} type=MX: Host not found, try again"),
)


@dataclass(frozen=True)
class Params:
    size: int
    seed: int
    days: int
    version: int = FORMAT_VERSION


@dataclass
class Manifest:
    params: Params
    end: int  # epoch seconds of the last line of mail.log (its mtime)
    folder: str
    files: dict[str, int] = field(default_factory=dict)  # name -> bytes on disk
    unpacked: dict[str, int] = field(default_factory=dict)  # name -> bytes of text
    lines: int = 0
    messages: int = 0
    addresses: dict[str, str] = field(default_factory=dict)  # role -> address
    expected: dict[str, int] = field(default_factory=dict)  # address -> messages generated for it
    seconds: float = 0.0

    @property
    def paths(self) -> list[Path]:
        return [Path(self.folder) / name for name in FILES]

    @property
    def maillog(self) -> str:
        return str(Path(self.folder) / "mail.log")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> Manifest:
        data = json.loads(text)
        data["params"] = Params(**data["params"])
        return Manifest(**data)


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def size_label(size: int) -> str:
    for unit, length in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if size % length == 0:
            return f"{size // length}{unit}"
    return str(size)


# --- the mail platform ------------------------------------------------------------------


class Platform:
    """Who exists, who is popular, and how queue ids and pids come about."""

    def __init__(self, rng: random.Random, scale: float) -> None:
        self.rng = rng
        base = [f"{f}.{n}" for f, n in itertools.product(FIRST, LAST)]
        names = [f"{name}{k or ''}" for k in range(5) for name in base]  # namesakes get a number
        rng.shuffle(names)
        self.local = [f"{name}@{DOMAIN}" for name in names[:20_000]]
        # Zipf-like popularity (s = 1.1) over the local users, cumulative for bisect.
        weights = [1 / (rank + 1) ** 1.1 for rank in range(len(self.local))]
        self.local_cum = list(itertools.accumulate(weights))
        self.remote = [f"{name}@{d}" for name, d in zip(names[20_000:30_000], itertools.cycle(REMOTE_DOMAINS))]
        remote_weights = [1 / (rank + 1) ** 0.9 for rank in range(len(self.remote))]
        self.remote_cum = list(itertools.accumulate(remote_weights))
        self.inodes = [rng.randrange(0x10000, 0xFFFFF) for _ in range(4000)]
        self.pids = {
            d: [rng.randrange(1000, 60000) for _ in range(n)]
            for d, n in (
                ("smtpd", 40),
                ("cleanup", 6),
                ("lmtp", 8),
                ("smtp", 20),
                ("bounce", 3),
                ("postscreen", 1),
                ("qmgr", 1),
                ("pickup", 1),
                ("anvil", 1),
                ("dnsblog", 4),
                ("local", 2),
            )
        }
        # Scaled shares of the named addresses, as probabilities per inbound message.
        self.scale = scale

    def local_user(self) -> str:
        return self.local[bisect.bisect(self.local_cum, self.rng.random() * self.local_cum[-1])]

    def remote_user(self) -> str:
        return self.remote[bisect.bisect(self.remote_cum, self.rng.random() * self.remote_cum[-1])]

    def queue_id(self, at: float) -> str:
        # Postfix's short ids: 5 hex digits of microseconds, then the queue file's inode in hex.
        micro = int((at % 1) * 1_000_000) & 0xFFFFF
        return f"{micro:05X}{self.rng.choice(self.inodes):X}"

    def pid(self, daemon: str) -> int:
        return self.rng.choice(self.pids[daemon])


def mailbox_of(address: str) -> str:
    login = address.split("@")[0].replace(".", "^")
    return f"{TECHNICAL_DOMAIN}!user.{login}"


class Timeline:
    """Future log lines, popped in time order into the right file."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, str, str]] = []
        self.seq = itertools.count()

    def add(self, at: float, daemon: str, pid: int, text: str) -> None:
        heapq.heappush(self.heap, (at, next(self.seq), f"postfix/{daemon}[{pid}]", text))


@dataclass
class Counters:
    messages: int = 0
    expected: dict[str, int] = field(default_factory=dict)

    def note(self, *addresses: str) -> None:
        for address in set(addresses):
            self.expected[address] = self.expected.get(address, 0) + 1


class Generator:
    def __init__(self, params: Params, end: int) -> None:
        self.params = params
        self.rng = random.Random(params.seed)
        self.scale = params.size / GIGABYTE
        self.platform = Platform(self.rng, self.scale)
        self.timeline = Timeline()
        self.counters = Counters()
        self.end = end
        self.start = end - params.days * 86400
        self.session = itertools.count(1)
        self.uid = itertools.count(1000)
        total = max(200, int(params.size / BYTES_PER_MESSAGE))
        self.total_messages = total
        self.p_frequent = min(0.5, FREQUENT_MESSAGES * self.scale / total)
        medium = max(12, MEDIUM_MESSAGES * self.scale)
        self.p_medium = min(0.2, medium / total)
        # The rare user's messages at fixed places: one deferred across a rotation, one a bounce it sent.
        day = params.days * 86400 / len(FILES)
        self.rare_times = [self.start + day * k for k in (0.31, 1.62, 1.985, 3.45)]

    # --- one message of each kind --------------------------------------------------------

    def inbound(
        self,
        at: float,
        recipients: list[str],
        sender: str | None = None,
        via_filter: bool = False,
        outcome: str | None = None,
    ) -> None:
        rng, tl, pf = self.rng, self.timeline, self.platform
        sender = sender if sender is not None else pf.remote_user()
        client = rng.choice(CLIENTS)
        smtpd = pf.pid("smtpd")
        qid = pf.queue_id(at)
        size = int(rng.lognormvariate(9.5, 1.2)) + 600
        tl.add(at, "smtpd", smtpd, f"connect from {client}")
        t = at + rng.uniform(0.05, 0.6)
        tl.add(t, "smtpd", smtpd, f"{qid}: client={client}")
        t += rng.uniform(0.01, 0.2)
        message_id = self.message_id(sender, t)
        tl.add(t, "cleanup", pf.pid("cleanup"), f"{qid}: message-id=<{message_id}>")
        if rng.random() < 0.002:  # a header_checks WARN quoting a raw Latin-1 subject
            tl.add(
                t,
                "cleanup",
                pf.pid("cleanup"),
                f"{qid}: warning: header Subject: R\udce9union budget "
                f"from {client}; from=<{sender}> to=<{recipients[0]}> proto=ESMTP helo=<{client.split('[')[0]}>",
            )
        t += rng.uniform(0.01, 0.1)
        tl.add(
            t, "qmgr", pf.pid("qmgr"), f"{qid}: from=<{sender}>, size={size}, nrcpt={len(recipients)} (queue active)"
        )
        helo = "ehlo=2 starttls=1" if rng.random() < 0.7 else "ehlo=1"
        tl.add(
            t + rng.uniform(0.01, 0.1),
            "smtpd",
            smtpd,
            f"disconnect from {client} {helo} mail=1 rcpt={len(recipients)} data=1 quit=1 "
            f"commands={5 + len(recipients)}",
        )
        if via_filter:
            self.filter_hop(t, qid, sender, recipients, size, message_id)
            return
        self.deliver(t, qid, sender, recipients, size, outcome)

    def filter_hop(self, t: float, qid: str, sender: str, recipients: list[str], size: int, message_id: str) -> None:
        rng, tl, pf = self.rng, self.timeline, self.platform
        t2 = t + rng.uniform(0.3, 2.5)
        next_qid = pf.queue_id(t2 - 0.05)
        smtpd = pf.pid("smtpd")
        tl.add(t2 - 0.1, "smtpd", smtpd, "connect from localhost[127.0.0.1]")
        tl.add(t2 - 0.05, "smtpd", smtpd, f"{next_qid}: client=localhost[127.0.0.1]")
        tl.add(t2 - 0.04, "cleanup", pf.pid("cleanup"), f"{next_qid}: message-id=<{message_id}>")
        tl.add(
            t2 - 0.02,
            "qmgr",
            pf.pid("qmgr"),
            f"{next_qid}: from=<{sender}>, size={size + 1200}, nrcpt={len(recipients)} (queue active)",
        )
        tl.add(
            t2 - 0.01,
            "smtpd",
            smtpd,
            f"disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt={len(recipients)} data=1 quit=1 commands=5",
        )
        smtp = pf.pid("smtp")
        for rcpt in recipients:
            tl.add(
                t2,
                "smtp",
                smtp,
                f"{qid}: to=<{rcpt}>, relay={FILTER}, delay={t2 - t + 0.4:.1f}, delays=0.1/0/0.01/{t2 - t:.2f}, "
                "dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): "
                f"250 2.0.0 Ok: queued as {next_qid})",
            )
        tl.add(t2 + 0.001, "qmgr", pf.pid("qmgr"), f"{qid}: removed")
        self.deliver(t2, next_qid, sender, recipients, size + 1200, None)

    def deliver(self, t: float, qid: str, sender: str, recipients: list[str], size: int, outcome: str | None) -> None:
        """Each recipient's attempts, then `removed` once the last is final."""
        rng, tl, pf = self.rng, self.timeline, self.platform
        last = t
        for rcpt in recipients:
            local = rcpt.endswith("@" + DOMAIN)
            kind = outcome or self.pick_outcome(local)
            orig = ""
            if local and rng.random() < 0.03:
                orig = f", orig_to=<{rcpt.split('@')[0]}@lists.{DOMAIN}>"
            attempt = t + rng.uniform(0.05, 0.8)
            daemon = "lmtp" if local else "smtp"
            relay = (
                STORE
                if local
                else REMOTE_MX.get(rcpt.split("@")[1], f"mx.{rcpt.split('@')[1]}[192.0.2.{rng.randrange(1, 250)}]:25")
            )
            retries = 0
            if kind in ("deferred-sent", "expired"):
                retries = rng.randrange(2, 6) if kind == "deferred-sent" else 8
            for _ in range(retries):
                dsn, reason = self.deferral(local, rcpt, relay)
                tl.add(
                    attempt,
                    daemon,
                    pf.pid(daemon),
                    f"{qid}: to=<{rcpt}>{orig}, relay={relay}, delay={attempt - t + 0.2:.0f}, "
                    f"delays={attempt - t:.0f}/0.01/0.3/0.02, dsn={dsn}, status=deferred ({reason})",
                )
                attempt += rng.uniform(600, 5400) * (1.6 if kind == "expired" else 1.0)
                tl.add(
                    attempt - 0.01,
                    "qmgr",
                    pf.pid("qmgr"),
                    f"{qid}: from=<{sender}>, size={size}, nrcpt={len(recipients)} (queue active)",
                )
            delay = f"delay={attempt - t + 0.3:.2g}, delays={max(attempt - t, 0.01):.2g}/0.01/0.02/0.2"
            if kind == "expired":
                tl.add(attempt, "qmgr", pf.pid("qmgr"), f"{qid}: from=<{sender}>, status=expired, returned to sender")
                self.notice(attempt, qid, sender, rcpt)
            elif kind == "bounced":
                reply = (
                    f"host {relay.rsplit(':', 1)[0]} said: 550 5.1.1 <{rcpt}>: Recipient address rejected: "
                    "User unknown (in reply to RCPT TO command)"
                )
                tl.add(
                    attempt,
                    daemon,
                    pf.pid(daemon),
                    f"{qid}: to=<{rcpt}>{orig}, relay={relay}, {delay}, dsn=5.1.1, status=bounced ({reply})",
                )
                self.notice(attempt, qid, sender, rcpt)
            elif local:
                reply = (
                    f"250 2.1.5 Ok SESSIONID=<bm1-{next(self.session)}-{int(attempt)}> "
                    f"[{mailbox_of(rcpt)}.INBOX () {next(self.uid)}]"
                )
                tl.add(
                    attempt,
                    daemon,
                    pf.pid(daemon),
                    f"{qid}: to=<{rcpt}>{orig}, relay={relay}, {delay}, dsn=2.1.5, status=sent ({reply})",
                )
            else:
                reply = f"250 2.0.0 OK  {int(attempt)} {self.rng.getrandbits(40):x} - gsmtp"
                tl.add(
                    attempt,
                    daemon,
                    pf.pid(daemon),
                    f"{qid}: to=<{rcpt}>, relay={relay}, {delay}, dsn=2.0.0, status=sent ({reply})",
                )
            last = max(last, attempt)
        tl.add(last + 0.002, "qmgr", pf.pid("qmgr"), f"{qid}: removed")

    def notice(self, at: float, qid: str, sender: str, rcpt: str) -> None:
        if not sender:
            return
        rng, tl, pf = self.rng, self.timeline, self.platform
        notice = pf.queue_id(at + 0.003)
        tl.add(at + 0.004, "cleanup", pf.pid("cleanup"), f"{notice}: message-id=<{self.message_id('', at)}>")
        tl.add(at + 0.005, "bounce", pf.pid("bounce"), f"{qid}: sender non-delivery notification: {notice}")
        tl.add(
            at + 0.006,
            "qmgr",
            pf.pid("qmgr"),
            f"{notice}: from=<>, size={rng.randrange(3000, 9000)}, nrcpt=1 (queue active)",
        )
        local = sender.endswith("@" + DOMAIN)
        daemon, relay = ("lmtp", STORE) if local else ("smtp", f"mx.{sender.split('@')[1]}[192.0.2.9]:25")
        reply = (
            f"250 2.1.5 Ok SESSIONID=<bm1-{next(self.session)}-{int(at)}> "
            f"[{mailbox_of(sender)}.INBOX () {next(self.uid)}]"
            if local
            else f"250 2.0.0 Ok: queued as {rng.getrandbits(40):X}"
        )
        tl.add(
            at + 0.2,
            daemon,
            pf.pid(daemon),
            f"{notice}: to=<{sender}>, relay={relay}, delay=0.2, delays=0/0/0/0.2, "
            f"dsn=2.{'1.5' if local else '0.0'}, status=sent ({reply})",
        )
        tl.add(at + 0.21, "qmgr", pf.pid("qmgr"), f"{notice}: removed")

    def outbound(self, at: float, sender: str, recipients: list[str], outcome: str | None = None) -> None:
        rng, tl, pf = self.rng, self.timeline, self.platform
        smtpd = pf.pid("smtpd")
        qid = pf.queue_id(at + 0.1)
        size = int(rng.lognormvariate(9.0, 1.3)) + 500
        tl.add(at, "smtpd", smtpd, f"connect from {WEBMAIL}")
        tl.add(at + 0.1, "smtpd", smtpd, f"{qid}: client={WEBMAIL}, sasl_method=PLAIN, sasl_username={sender}")
        tl.add(at + 0.12, "cleanup", pf.pid("cleanup"), f"{qid}: message-id=<{self.message_id(sender, at)}>")
        tl.add(
            at + 0.15,
            "qmgr",
            pf.pid("qmgr"),
            f"{qid}: from=<{sender}>, size={size}, nrcpt={len(recipients)} (queue active)",
        )
        tl.add(
            at + 0.16,
            "smtpd",
            smtpd,
            f"disconnect from {WEBMAIL} ehlo=1 auth=1 mail=1 rcpt={len(recipients)} data=1 quit=1 "
            f"commands={5 + len(recipients)}",
        )
        self.deliver(at + 0.15, qid, sender, recipients, size, outcome)

    def pickup(self, at: float) -> None:
        tl, pf = self.timeline, self.platform
        qid = pf.queue_id(at)
        tl.add(at, "pickup", pf.pid("pickup"), f"{qid}: uid=0 from=<root>")
        tl.add(at + 0.01, "cleanup", pf.pid("cleanup"), f"{qid}: message-id=<{self.message_id('root@' + HOST, at)}>")
        tl.add(
            at + 0.02, "qmgr", pf.pid("qmgr"), f"{qid}: from=<root@{HOST}.{DOMAIN}>, size=812, nrcpt=1 (queue active)"
        )
        reply = (
            f"250 2.1.5 Ok SESSIONID=<bm1-{next(self.session)}-{int(at)}> "
            f"[{TECHNICAL_DOMAIN}!user.admin.INBOX () {next(self.uid)}]"
        )
        tl.add(
            at + 0.1,
            "lmtp",
            pf.pid("lmtp"),
            f"{qid}: to=<admin@{DOMAIN}>, orig_to=<root>, relay={STORE}, delay=0.1, delays=0.02/0/0/0.08, dsn=2.1.5, "
            f"status=sent ({reply})",
        )
        tl.add(at + 0.11, "qmgr", pf.pid("qmgr"), f"{qid}: removed")

    def reject(self, at: float, recipient: str | None = None) -> None:
        rng, tl, pf = self.rng, self.timeline, self.platform
        client = (
            f"unknown[{rng.choice((198, 203, 185, 45))}.{rng.randrange(256)}."
            f"{rng.randrange(256)}.{rng.randrange(1, 255)}]"
        )
        sender = pf.remote_user() if rng.random() < 0.5 else f"{rng.getrandbits(24):x}@spam{rng.randrange(90)}.example"
        if recipient is None:
            recipient = pf.local_user() if rng.random() < 0.6 else f"{rng.choice(FIRST)}{rng.randrange(99)}@{DOMAIN}"
        helo = client.split("[")[1].rstrip("]")
        if rng.random() < 0.5:
            ip = client.split("[")[1].rstrip("]")
            port = rng.randrange(1024, 65535)
            tl.add(at, "postscreen", pf.pid("postscreen"), f"CONNECT from [{ip}]:{port} to [192.0.2.1]:25")
            tl.add(
                at + 0.5,
                "postscreen",
                pf.pid("postscreen"),
                f"NOQUEUE: reject: RCPT from [{ip}]:{port}: 550 5.7.1 Service unavailable; client [{ip}] blocked using "
                f"zen.spamhaus.org; from=<{sender}>, to=<{recipient}>, proto=ESMTP, helo=<{helo}>",
            )
            tl.add(at + 0.6, "postscreen", pf.pid("postscreen"), f"DISCONNECT [{ip}]:{port}")
            return
        smtpd = pf.pid("smtpd")
        tl.add(at, "smtpd", smtpd, f"connect from {client}")
        why = rng.random()
        if why < 0.6:
            reason = f"550 5.1.1 <{recipient}>: Recipient address rejected: User unknown in virtual mailbox table"
        elif why < 0.85:
            reason = f"450 4.7.1 Client host rejected: cannot find your hostname, [{helo}]"
        else:
            reason = f"554 5.7.1 <{sender}>: Sender address rejected: Access denied"
        tl.add(
            at + 0.3,
            "smtpd",
            smtpd,
            f"NOQUEUE: reject: RCPT from {client}: {reason}; from=<{sender}> to=<{recipient}> "
            f"proto=ESMTP helo=<{helo}>",
        )
        tl.add(at + 0.4, "smtpd", smtpd, f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")

    def noise(self, at: float) -> None:
        rng, tl, pf = self.rng, self.timeline, self.platform
        roll = rng.random()
        if roll < 0.3:
            ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
            tl.add(
                at,
                "postscreen",
                pf.pid("postscreen"),
                f"CONNECT from [{ip}]:{rng.randrange(1024, 65535)} to [192.0.2.1]:25",
            )
            tl.add(at + 0.01, "postscreen", pf.pid("postscreen"), f"PASS OLD [{ip}]:{rng.randrange(1024, 65535)}")
        elif roll < 0.5:
            client = rng.choice(CLIENTS)
            smtpd = pf.pid("smtpd")
            tl.add(at, "smtpd", smtpd, f"connect from {client}")
            tl.add(at + 0.2, "smtpd", smtpd, f"lost connection after EHLO from {client}")
            tl.add(at + 0.21, "smtpd", smtpd, f"disconnect from {client} ehlo=1 commands=1")
        elif roll < 0.6:
            tl.add(
                at,
                "smtpd",
                pf.pid("smtpd"),
                f"warning: hostname {rng.getrandbits(32):x}.dyn.example does not resolve to address "
                f"203.0.113.{rng.randrange(1, 255)}: Name or service not known",
            )
        elif roll < 0.7:
            tl.add(
                at,
                "anvil",
                pf.pid("anvil"),
                f"statistics: max connection rate {rng.randrange(1, 30)}/60s "
                f"for (smtp:203.0.113.{rng.randrange(1, 255)}) "
                f"at {self.stamp(at)[:15]}",
            )
        elif roll < 0.7008:  # a scanner's binary junk: invalid UTF-8 in the log
            tl.add(
                at,
                "smtpd",
                pf.pid("smtpd"),
                f"warning: non-SMTP command from unknown[198.51.100.{rng.randrange(1, 255)}]: "
                "\udcff\udcfe\udc80GET / HTTP/1.1",
            )
        else:
            tl.add(
                at,
                "dnsblog",
                pf.pid("dnsblog"),
                f"addr 198.51.100.{rng.randrange(1, 255)} listed by domain zen.spamhaus.org "
                f"as 127.0.0.{rng.choice((2, 3, 4, 11))}",
            )

    # --- helpers ---------------------------------------------------------------------------

    def pick_outcome(self, local: bool) -> str:
        roll = self.rng.random()
        if local:
            return (
                "deferred-sent"
                if roll < 0.015
                else "bounced"
                if roll < 0.022
                else "expired"
                if roll < 0.024
                else "sent"
            )
        return "deferred-sent" if roll < 0.04 else "bounced" if roll < 0.06 else "expired" if roll < 0.065 else "sent"

    def deferral(self, local: bool, rcpt: str, relay: str) -> tuple[str, str]:
        if local:
            dsn, text = DEFERRALS_LOCAL
            return dsn, text.format(store_host=STORE.rsplit(":", 1)[0], n=next(self.session), k=self.rng.randrange(9))
        dsn, text = self.rng.choice(DEFERRALS_REMOTE)
        return dsn, text.format(mx=relay, rcpt=rcpt, domain=rcpt.split("@")[1])

    def message_id(self, sender: str, at: float) -> str:
        domain = sender.split("@")[1] if "@" in sender else f"{HOST}.{DOMAIN}"
        if domain == "gmail.com":
            return f"CA{self.rng.getrandbits(120):x}@mail.gmail.com"
        return f"{int(at)}.{self.rng.getrandbits(48):012x}@{domain}"

    _stamp_cache: tuple[int, str] = (-1, "")

    def stamp(self, at: float) -> str:
        second = int(at)
        if self._stamp_cache[0] != second:
            moment = datetime.fromtimestamp(second, UTC)
            text = f"{MONTHS[moment.month - 1]} {moment.day:2d} {moment:%H:%M:%S} {HOST} "
            self._stamp_cache = (second, text)
        return self._stamp_cache[1]

    # --- the whole run ---------------------------------------------------------------------

    def one_message(self, at: float) -> None:
        rng = self.rng
        self.counters.messages += 1
        roll = rng.random()
        if roll < self.p_frequent:
            if rng.random() < 0.9:
                self.inbound(
                    at,
                    [FREQUENT] + ([self.platform.local_user()] if rng.random() < 0.1 else []),
                    via_filter=rng.random() < 0.3,
                )
            else:
                self.outbound(at, FREQUENT, [self.platform.remote_user()])
            self.counters.note(FREQUENT)
            return
        roll = rng.random()
        for address in (MEDIUM, SECOND):
            if roll < self.p_medium:
                if rng.random() < 0.7:
                    self.inbound(at, [address], via_filter=rng.random() < 0.3)
                else:
                    self.outbound(at, address, [self.platform.remote_user() for _ in range(rng.choice((1, 1, 2)))])
                self.counters.note(address)
                return
            roll -= self.p_medium
        kind = rng.random()
        if kind < 0.6:
            count = rng.choice((1, 1, 1, 1, 1, 2, 3))
            self.inbound(at, [self.platform.local_user() for _ in range(count)], via_filter=rng.random() < 0.3)
        elif kind < 0.85:
            local = self.platform.local_user()
            recipients = [self.platform.remote_user() for _ in range(rng.choice((1, 1, 1, 2, 4)))]
            if rng.random() < 0.2:
                recipients.append(self.platform.local_user())
            self.outbound(at, local, recipients)
        elif kind < 0.98:
            self.outbound(at, self.platform.local_user(), [self.platform.local_user()])
        else:
            self.pickup(at)

    def rare(self, index: int, at: float) -> None:
        """The rare user's four messages: plain, a bounce sent, deferred across a rotation, a filtered one."""
        self.counters.messages += 1
        self.counters.note(RARE)
        if index == 0:
            self.inbound(at, [RARE], sender="marc.dupont@fournisseur.fr")
            self.reject(at + 30, RARE)
        elif index == 1:
            self.outbound(at, RARE, ["nobody.here@partner-industrie.fr"], outcome="bounced")
        elif index == 2:
            # Over quota from shortly before the rotation, delivered after it.
            self.inbound(at, [RARE, self.platform.local_user()], outcome="deferred-sent")
        else:
            self.inbound(at, [RARE], sender="Anne.Lefevre@Orange.fr", via_filter=True)

    def run(self, folder: Path) -> Manifest:
        started = time.monotonic()
        folder.mkdir(parents=True, exist_ok=True)
        span = self.end - self.start
        rate = self.total_messages / span
        day = span / len(FILES)
        boundaries = [self.start + day * (k + 1) for k in range(len(FILES) - 1)]
        writers = _Writers(folder)
        lines = 0
        rare_times = list(self.rare_times)
        at = float(self.start)
        file_index = 0
        last_line_at = [float(self.start)] * len(FILES)
        tl = self.timeline
        out = writers.open(0)
        finish = self.end - 600  # nothing new in the last minutes: what is in flight settles by `end`
        while True:
            at += self.rng.expovariate(rate)
            if at >= finish:
                at = self.end
            # Everything due before this arrival goes out first.
            while tl.heap and tl.heap[0][0] < at:
                when, _, tag, text = heapq.heappop(tl.heap)
                if when > self.end:
                    continue
                while file_index < len(boundaries) and when >= boundaries[file_index]:
                    file_index += 1
                    out = writers.open(file_index)
                out.write((self.stamp(when) + tag + ": " + text + "\n").encode("utf-8", "surrogateescape"))
                last_line_at[file_index] = when
                lines += 1
            if at >= self.end:
                break
            if rare_times and at >= rare_times[0]:
                self.rare(len(self.rare_times) - len(rare_times), rare_times.pop(0))
            roll = self.rng.random()
            if roll < 0.06:
                self.reject(at)
            elif roll < 0.14:
                self.noise(at)
            self.one_message(at)
        writers.close()
        for index, name in enumerate(FILES):
            stamp = int(last_line_at[index]) + 1 if index < len(FILES) - 1 else self.end
            os.utime(folder / name, (stamp, stamp))
            (folder / name).chmod(0o644)
        manifest = Manifest(
            params=self.params,
            end=self.end,
            folder=str(folder),
            files={name: (folder / name).stat().st_size for name in FILES},
            unpacked=writers.unpacked,
            lines=lines,
            messages=self.counters.messages,
            addresses={"rare": RARE, "medium": MEDIUM, "second": SECOND, "frequent": FREQUENT},
            expected={a: self.counters.expected.get(a, 0) for a in (RARE, MEDIUM, SECOND, FREQUENT)},
            seconds=round(time.monotonic() - started, 1),
        )
        return manifest


class _Writers:
    """mail.log.3.gz and .2.gz through `gzip -n` in the background; plain files directly."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.current: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.pending: list[subprocess.Popen[bytes]] = []
        self.unpacked: dict[str, int] = {}
        self.name = ""
        self.count = 0

    def open(self, index: int) -> _Writers:
        self._close_current()
        self.name = FILES[index]
        path = self.folder / self.name
        self.count = 0
        if self.name.endswith(".gz"):
            target = path.open("wb")  # gzip itself (not pigz): the same bytes on every machine
            self.process = subprocess.Popen(["gzip", "-n", "-6", "-c"], stdin=subprocess.PIPE, stdout=target)  # noqa: S607
            target.close()
            assert self.process.stdin is not None
            self.current = self.process.stdin
        else:
            self.current = path.open("wb", buffering=1 << 20)
        return self

    def write(self, data: bytes) -> None:
        assert self.current is not None
        self.current.write(data)
        self.count += len(data)

    def _close_current(self) -> None:
        if self.current is None:
            return
        self.current.close()
        self.unpacked[self.name] = self.count
        if self.process is not None:
            self.pending.append(self.process)
            self.process = None
        self.current = None

    def close(self) -> None:
        self._close_current()
        for process in self.pending:
            if process.wait() != 0:
                raise RuntimeError("gzip failed")


# --- entry points -------------------------------------------------------------------------


def ensure(
    size: int, seed: int = 1, days: int = 4, folder: Path | None = None, end: int | None = None, quiet: bool = False
) -> Manifest:
    """The log set for these parameters, generated only if it is not already there."""
    params = Params(size=size, seed=seed, days=days)
    folder = folder or DEFAULT_ROOT / size_label(size)
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        try:
            existing = Manifest.from_json(manifest_path.read_text())
        except (ValueError, TypeError, KeyError):
            existing = None
        if (
            existing is not None
            and existing.params == params
            and (end is None or existing.end == end)
            and all((folder / n).exists() and (folder / n).stat().st_size == s for n, s in existing.files.items())
        ):
            return existing
    manifest_path.unlink(missing_ok=True)
    if end is None:
        end = int(time.time()) // 60 * 60
    if not quiet:
        print(
            f"generating {size_label(size)} of Postfix logs in {folder} (seed {seed})...", file=sys.stderr, flush=True
        )
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    manifest = Generator(params, end).run(folder)
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(manifest.to_json())
    tmp.chmod(0o644)
    tmp.replace(manifest_path)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1G", help="total unpacked size: 1G, 256M, 4M (default 1G)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=4, help="time span, one file per quarter of it")
    parser.add_argument("--out", type=Path, help=f"folder (default {DEFAULT_ROOT}/SIZE)")
    parser.add_argument("--end", type=int, help="epoch of the last line (default: now, or the existing set's)")
    args = parser.parse_args()
    manifest = ensure(parse_size(args.size), args.seed, args.days, args.out, args.end)
    print(manifest.to_json())


if __name__ == "__main__":
    main()
