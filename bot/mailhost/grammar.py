"""Every grammar of a value that may reach a mail host, written once.

`values.py` holds user text to these patterns (and says in one sentence what is wrong), the
host-side guard (`guard.py`) allows command words made of them, and the trace script's awk
(`scripts/trace.sh`) recognises queue ids with the pieces of `QUEUE_ID` (`TRACE_AWK_FILL`).
tests/mailhost/test_grammar.py proves the three accept and refuse the same corpus.

Each pattern is a string for `re.fullmatch`, for the value's canonical form as the bot sends it
(addresses lower-cased). A pattern that bounds its length does it with a lookahead over its own
characters, so it may stand inside a longer word (`<ADDRESS>`, `user/LOGIN/FOLDER@DOMAIN`).
"""

from __future__ import annotations


def _bounded(chars: str, longest: int, pattern: str) -> str:
    """`pattern`, at most `longest` characters long: the run of `chars` that starts here is counted."""
    return rf"(?=[{chars}]{{1,{longest}}}(?![{chars}])){pattern}"


def decimal_at_most(limit: int) -> str:
    """The whole numbers 1..`limit`, without leading zeros (e.g. a UID up to 2**32 - 1)."""
    digits = str(limit)
    choices = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for at, digit in enumerate(digits):  # as long as the limit: its first `at` digits, then a smaller one
        lowest = 1 if at == 0 else 0
        if int(digit) > lowest:
            smaller = f"[{lowest}-{int(digit) - 1}]" if int(digit) - 1 > lowest else str(lowest)
            rest = len(digits) - at - 1
            choices.append(digits[:at] + smaller + (f"[0-9]{{{rest}}}" if rest else ""))
    choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


# --- Postfix queue ids ------------------------------------------------------------------------
# Short ids: hex. Long ids (enable_long_queue_ids): base-52 time over a vowel-free alphabet, the
# separator 'z', then the inode in base 51 (the same alphabet without 'z').
SHORT_QUEUE_ID_CHARS = "0-9A-F"
SHORT_QUEUE_ID_LENGTH = (6, 24)
LONG_QUEUE_ID_CHARS = "0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z"
LONG_QUEUE_ID_SEPARATOR = "z"
LONG_QUEUE_ID_INODE_CHARS = "0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y"
LONG_QUEUE_ID_TIME_LENGTH = (10, 14)
LONG_QUEUE_ID_INODE_LENGTH = (1, 12)

SHORT_QUEUE_ID = f"[{SHORT_QUEUE_ID_CHARS}]{{{SHORT_QUEUE_ID_LENGTH[0]},{SHORT_QUEUE_ID_LENGTH[1]}}}"
LONG_QUEUE_ID = (
    f"[{LONG_QUEUE_ID_CHARS}]{{{LONG_QUEUE_ID_TIME_LENGTH[0]},{LONG_QUEUE_ID_TIME_LENGTH[1]}}}"
    f"{LONG_QUEUE_ID_SEPARATOR}"
    f"[{LONG_QUEUE_ID_INODE_CHARS}]{{{LONG_QUEUE_ID_INODE_LENGTH[0]},{LONG_QUEUE_ID_INODE_LENGTH[1]}}}"
)
QUEUE_ID = f"(?:{SHORT_QUEUE_ID}|{LONG_QUEUE_ID})"

# The same tests in the trace script's awk, which reads the id before `: ` at `j` (its length + 1)
# and, for a long id, finds its last separator at RSTART: each placeholder of scripts/trace.sh.
_LONGEST_QUEUE_ID = LONG_QUEUE_ID_TIME_LENGTH[1] + 1 + LONG_QUEUE_ID_INODE_LENGTH[1]
TRACE_AWK_FILL = {
    "QID_SHORTEST": str(SHORT_QUEUE_ID_LENGTH[0]),
    "QID_SHORTEST_J": str(SHORT_QUEUE_ID_LENGTH[0] + 1),
    "QID_SHORT_CHARS": SHORT_QUEUE_ID_CHARS,
    "QID_SHORT_LONGEST": str(SHORT_QUEUE_ID_LENGTH[1]),
    "QID_SHORT_LONGEST_J": str(SHORT_QUEUE_ID_LENGTH[1] + 1),
    "QID_LONG_LONGEST": str(_LONGEST_QUEUE_ID),
    "QID_LONG_CHARS": LONG_QUEUE_ID_CHARS,
    "QID_SEPARATOR": LONG_QUEUE_ID_SEPARATOR,
    "QID_SEPARATOR_FIRST": str(LONG_QUEUE_ID_TIME_LENGTH[0] + 1),
    "QID_SEPARATOR_LAST": str(LONG_QUEUE_ID_TIME_LENGTH[1] + 1),
    "QID_INODE_LONGEST": str(LONG_QUEUE_ID_INODE_LENGTH[1]),
}

# --- addresses and mailboxes ----------------------------------------------------------------------
# Narrower than RFC 5321 on purpose: a plain `local@domain` as an agent types it. The local part
# neither starts nor ends with a dot (nor starts with a dash or a quote) and holds no `..`.
MAX_ADDRESS_LENGTH = 254
MAX_DOMAIN_LENGTH = MAX_ADDRESS_LENGTH - 2
LOCAL_PART = r"[a-z0-9_%+=~](?:(?:[a-z0-9_%+=~'-]|\.(?!\.)){0,62}[a-z0-9_%+=~-])?"
DOMAIN_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN = _bounded("a-z0-9.-", MAX_DOMAIN_LENGTH, rf"{DOMAIN_LABEL}(?:\.{DOMAIN_LABEL})+")
ADDRESS = _bounded("a-z0-9._%+=~'@-", MAX_ADDRESS_LENGTH, f"{LOCAL_PART}@{DOMAIN}")

# A Message-ID without its angle brackets: printable ASCII but space, < and >; no leading dash.
MESSAGE_ID = "(?!-)[!-;=?-~]{1,250}"

# A client's IP address as Postfix logs it between brackets (`client=name[IP]`, `from name[IP]:port`):
# IPv4 dotted quad without leading zeros, or IPv6 in hex groups (values.py sends the compressed,
# lower-case form; no zone, no embedded IPv4: a mapped IPv4 address is sent as IPv4).
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_HEX = "[0-9a-f]{1,4}"
IPV6 = (
    f"(?:(?:{_HEX}:){{7}}{_HEX}|(?:{_HEX}:){{1,7}}:|(?:{_HEX}:){{1,6}}:{_HEX}"
    + "".join(f"|(?:{_HEX}:){{1,{7 - n}}}(?::{_HEX}){{1,{n}}}" for n in range(2, 7))
    + f"|:(?::{_HEX}){{1,7}}|::)"
)
CLIENT_IP = f"(?:{IPV4}|{IPV6})"

# --- numbers and durations -------------------------------------------------------------------------
MAX_UID = 2**32 - 1
UID = decimal_at_most(MAX_UID)  # an IMAP UID
MAX_ITEM_ID = 2**63 - 1
ITEM_ID = decimal_at_most(MAX_ITEM_ID)  # a BlueMind 5 item id (a Java long): what `unexpunge --id` takes
BODY_GUID = "[0-9a-f]{40}"  # a mail body's SHA-1, as BlueMind keys its history
# A file-based Postfix lookup table under a Postfix config directory (`hash:/etc/postfix/virtual`),
# as postconf names it: what `regen-maps` queries with `postmap -q` to check a rebuild.
POSTFIX_MAP = (
    "(?:hash|btree|lmdb|cdb|dbm|sdbm):/etc/postfix[A-Za-z0-9_.-]{0,40}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}){1,4}"
)
EPOCH = "[0-9]{1,12}"  # the trace's oldest time of interest, in seconds
DURATION = "(?P<count>[1-9][0-9]{0,4})(?P<unit>[smhdw])"  # 30m, 12h, 2d, 1w

# --- folders -------------------------------------------------------------------------------------
# One folder level: letters (any script), digits, spaces and a few marks; no leading space, dot or
# dash, no trailing space; no @ (Cyrus reads the domain after it). In a Cyrus mailbox name the
# folder is in modified UTF-7 (RFC 3501): ASCII only, at most 8 characters for one typed.
MAX_FOLDER_LENGTH = 200
_FOLDER_MARKS = "'&+,()#!"


def _folder_level(word: str) -> str:
    return rf"[{word}{_FOLDER_MARKS}](?:[{word} .{_FOLDER_MARKS}-]*[{word}.{_FOLDER_MARKS}-])?"


FOLDER_LEVEL = _folder_level(r"\w")
FOLDER = _bounded(rf"\w .{_FOLDER_MARKS}/-", MAX_FOLDER_LENGTH, f"{FOLDER_LEVEL}(?:/{FOLDER_LEVEL})*")
_CYRUS_FOLDER_LEVEL = _folder_level("A-Za-z0-9_")
CYRUS_FOLDER = _bounded(
    f"A-Za-z0-9_ .{_FOLDER_MARKS}/-", 8 * MAX_FOLDER_LENGTH, f"{_CYRUS_FOLDER_LEVEL}(?:/{_CYRUS_FOLDER_LEVEL})*"
)

# --- search words (bm-cli mail history-query) ---------------------------------------------------
# Plain words: a letter or a digit first, then letters, digits and . ' @ # : / + -; no operators.
MAX_SEARCH_WORDS = 10
MAX_SEARCH_LENGTH = 120
SEARCH_WORD = r"[^\W_][\w.'@#:/+-]*"
SEARCH = _bounded(r"\w.'@#:/+ -", MAX_SEARCH_LENGTH, rf"{SEARCH_WORD}(?: {SEARCH_WORD}){{0,{MAX_SEARCH_WORDS - 1}}}")

# --- the Cyrus spool -----------------------------------------------------------------------------
# A mail file as mbpath's folder and `UID.` make it: absolute, no `..` (no segment starts with a
# dot), no spaces.
MAX_SPOOL_PATH_LENGTH = 1024
SPOOL_SEGMENT = "[A-Za-z0-9_^&,+=-][A-Za-z0-9._^&,+=-]*"
SPOOL_FILE = _bounded("A-Za-z0-9._^&,+=/-", MAX_SPOOL_PATH_LENGTH, rf"(?:/{SPOOL_SEGMENT})*/{UID}\.")
