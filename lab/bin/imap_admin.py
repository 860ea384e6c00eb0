#!/usr/bin/env python3
"""Small IMAP/LMTP helper of the lab (stdlib only). Talks to the lab's Cyrus on 127.0.0.1.

  imap_admin.py ensure [--quota MBOX=KB ...] MBOX...   create missing mailboxes, set quotas;
                                                       prints the names it created
  imap_admin.py setquota MBOX KB                       KB = 'none' removes the limit
  imap_admin.py getquota MBOX                          prints "used limit" in KB
  imap_admin.py lmtp-probe ADDR                        LMTP RCPT TO check, no mail delivered
  imap_admin.py list USER@DOMAIN [FOLDER]              UID, size, flags, from, subject
  imap_admin.py expunge USER@DOMAIN UID... [--folder F]  flag \\Deleted + UID EXPUNGE (real expunge)
  imap_admin.py move USER@DOMAIN UID FOLDER [--from F] copy to FOLDER then expunge in the source
  imap_admin.py setacl MBOX USER RIGHTS                as the admin
  imap_admin.py append USER@DOMAIN FOLDER SUBJECT [--from ADDR] [--body TEXT]
                                                       APPEND as the user; prints the new UID
  imap_admin.py find USER@DOMAIN MESSAGE-ID [--folder F]  prints the UID of that mail (none: exit 1)
  imap_admin.py flag USER@DOMAIN UID FLAG... [--folder F]  STORE +FLAGS (\\Seen, \\Flagged...)

MBOX names are Cyrus admin names with '/' separator: user/john@lab.test, user/john/Trash@lab.test.
Admin login: cyrus / labpass; users: LOGIN@DOMAIN / labpass.
"""
import email
import email.header
import email.utils
import imaplib
import socket
import sys

HOST = "127.0.0.1"
IMAP_PORT = 143
LMTP_PORT = 2400
PASSWORD = "labpass"
ADMIN = "cyrus"


def q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def login(user):
    m = imaplib.IMAP4(HOST, IMAP_PORT)
    m.login(user, PASSWORD)
    return m


def check(resp, what):
    typ, data = resp
    if typ != "OK":
        raise SystemExit(f"{what}: {typ} {data}")
    return data


def exists(m, mbox):
    typ, data = m.list('""', q(mbox))
    return typ == "OK" and any(d for d in data if d)


def set_quota(m, mbox, kb):
    limits = "()" if kb == "none" else f"(STORAGE {int(kb)})"
    check(m._simple_command("SETQUOTA", q(mbox), limits), f"SETQUOTA {mbox}")


def cmd_ensure(args):
    quotas = {}
    boxes = []
    it = iter(args)
    for a in it:
        if a == "--quota":
            k, v = next(it).split("=", 1)
            quotas[k] = v
        else:
            boxes.append(a)
    m = login(ADMIN)
    created = []
    for b in boxes:
        if not exists(m, b):
            check(m.create(q(b)), f"CREATE {b}")
            created.append(b)
    for b, kb in quotas.items():
        set_quota(m, b, kb)
    m.logout()
    print(" ".join(created))


def cmd_setquota(args):
    mbox, kb = args
    m = login(ADMIN)
    set_quota(m, mbox, kb)
    m.logout()


def cmd_getquota(args):
    (mbox,) = args
    m = login(ADMIN)
    typ, data = m.getquota(q(mbox))
    m.logout()
    if typ != "OK":
        raise SystemExit(f"GETQUOTA {mbox}: {data}")
    # b'user/full@lab.test (STORAGE 12 10)'
    text = data[0].decode()
    if "STORAGE" in text:
        used, limit = text.split("STORAGE", 1)[1].strip(" ()").split()[:2]
        print(used, limit)
    else:
        print("0 none")


def cmd_lmtp_probe(args):
    (addr,) = args
    s = socket.create_connection((HOST, LMTP_PORT), timeout=5)
    f = s.makefile("rwb")

    def reply():
        lines = []
        while True:
            line = f.readline().decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def send(cmd):
        f.write(cmd.encode() + b"\r\n")
        f.flush()
        return reply()

    greet = reply()
    if not greet[0].startswith("220"):
        raise SystemExit(f"LMTP greeting: {greet}")
    send("LHLO lab-probe")
    r = send("MAIL FROM:<>")
    if not r[-1].startswith("250"):
        raise SystemExit(f"LMTP MAIL FROM: {r}")
    r = send(f"RCPT TO:<{addr}>")
    send("RSET")
    send("QUIT")
    s.close()
    print(r[-1])
    if not r[-1].startswith("250"):
        raise SystemExit(1)


def _hdr(v):
    try:
        return str(email.header.make_header(email.header.decode_header(v or "")))
    except Exception:
        return v or ""


def cmd_list(args):
    user = args[0]
    folder = args[1] if len(args) > 1 else "INBOX"
    m = login(user)
    check(m.select(q(folder), readonly=True), f"SELECT {folder}")
    typ, data = m.uid("FETCH", "1:*", "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        msg = email.message_from_bytes(item[1])
        uid = meta.split("UID ", 1)[1].split()[0].rstrip(")")
        size = meta.split("RFC822.SIZE ", 1)[1].split()[0].rstrip(")")
        flags = meta.split("FLAGS (", 1)[1].split(")", 1)[0]
        print(f"UID {uid:>4}  size={size:>7}  flags=({flags})  from={_hdr(msg['From'])}  subject={_hdr(msg['Subject'])}")
    m.logout()


def cmd_expunge(args):
    folder = "INBOX"
    if "--folder" in args:
        i = args.index("--folder")
        folder = args[i + 1]
        args = args[:i] + args[i + 2:]
    user, uids = args[0], ",".join(args[1:])
    m = login(user)
    check(m.select(q(folder)), f"SELECT {folder}")
    check(m.uid("STORE", uids, "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
    check(m.uid("EXPUNGE", uids), "UID EXPUNGE")
    m.logout()
    print(f"expunged {uids} from {user} {folder}")


def cmd_move(args):
    src = "INBOX"
    if "--from" in args:
        i = args.index("--from")
        src = args[i + 1]
        args = args[:i] + args[i + 2:]
    user, uid, dest = args
    m = login(user)
    check(m.select(q(src)), f"SELECT {src}")
    data = check(m.uid("COPY", uid, q(dest)), f"COPY {uid} {dest}")
    check(m.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)"), "STORE")
    check(m.uid("EXPUNGE", uid), "UID EXPUNGE")
    m.logout()
    print(f"moved {uid} from {src} to {dest}: {data}")


def cmd_setacl(args):
    mbox, user, rights = args
    m = login(ADMIN)
    check(m.setacl(q(mbox), user, rights), f"SETACL {mbox}")
    m.logout()


def cmd_append(args):
    sender, body = "tests@lab.example", None
    for option in ("--from", "--body"):
        if option in args:
            i = args.index(option)
            value = args[i + 1]
            args = args[:i] + args[i + 2:]
            if option == "--from":
                sender = value
            else:
                body = value
    user, folder, subject = args
    stamp = email.utils.formatdate(localtime=False)
    mid = email.utils.make_msgid(domain="lab.example")
    text = (
        f"From: <{sender}>\r\nTo: <{user}>\r\nDate: {stamp}\r\nSubject: {subject}\r\n"
        f"Message-ID: {mid}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body or subject}\r\n"
    )
    m = login(user)
    typ, data = m.append(q(folder), None, None, text.encode("utf-8"))
    m.logout()
    if typ != "OK":
        raise SystemExit(f"APPEND {folder}: {data}")
    # [APPENDUID <uidvalidity> <uid>] Completed
    print(data[0].decode().split("APPENDUID ", 1)[1].split("]", 1)[0].split()[1])


def cmd_flag(args):
    folder = "INBOX"
    if "--folder" in args:
        i = args.index("--folder")
        folder = args[i + 1]
        args = args[:i] + args[i + 2:]
    user, uid, *flags = args
    m = login(user)
    check(m.select(q(folder)), f"SELECT {folder}")
    check(m.uid("STORE", uid, "+FLAGS.SILENT", "(" + " ".join(flags) + ")"), "STORE")
    m.logout()


def cmd_find(args):
    folder = "INBOX"
    if "--folder" in args:
        i = args.index("--folder")
        folder = args[i + 1]
        args = args[:i] + args[i + 2:]
    user, mid = args
    m = login(user)
    check(m.select(q(folder), readonly=True), f"SELECT {folder}")
    data = check(m.uid("SEARCH", "HEADER", "Message-ID", q(mid.strip("<>"))), "SEARCH")
    m.logout()
    uids = data[0].split() if data and data[0] else []
    if not uids:
        raise SystemExit(1)
    print(uids[-1].decode())


COMMANDS = {
    "find": cmd_find,
    "setacl": cmd_setacl,
    "append": cmd_append,
    "flag": cmd_flag,
    "ensure": cmd_ensure,
    "setquota": cmd_setquota,
    "getquota": cmd_getquota,
    "lmtp-probe": cmd_lmtp_probe,
    "list": cmd_list,
    "expunge": cmd_expunge,
    "move": cmd_move,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except (OSError, imaplib.IMAP4.error) as e:
        sys.exit(f"{sys.argv[1]}: {e}")
