"""From the text after `/mail` to the words of a verb's command line.

Slack rewrites what people type: an address becomes `<mailto:a@b|a@b>`, a link
`<http://x|x>`, and `&`, `<`, `>` arrive escaped. The words are unwrapped here, then
split like a shell would (quotes group words) without ever reaching a shell.
"""

from __future__ import annotations

import re
import shlex

from bot.errors import BadInput
from bot.i18n import _

MAX_TEXT = 2000
_MAILTO = re.compile(r"<mailto:(?P<target>[^|>]*)(?:\|(?P<label>[^>]*))?>")
_LINK = re.compile(r"<(?P<target>https?://[^|>]*)(?:\|(?P<label>[^>]*))?>")
_MENTION = re.compile(r"<[@#!][^>]*>")
# Spaces a phone's keyboard or a pasted text brings (no-break, thin, ideographic): shlex splits on
# none of them, and `trace\u00a0john@lab.test` was one unknown verb. Zero-width ones go.
_ODD_SPACE = re.compile(r"[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_ZERO_WIDTH = re.compile(r"[\u200b-\u200d\u2060\ufeff]")


def command_words(text: str) -> list[str]:
    """The words of a slash command; BadInput for what cannot be a command."""
    if len(text) > MAX_TEXT:
        raise BadInput(
            _("That command is {count} characters long; keep it under {MAX_TEXT}.").format(
                count=len(text), MAX_TEXT=MAX_TEXT
            )
        )
    if _MENTION.search(text):
        raise BadInput(_("Mentions of people, channels or groups are not arguments; type the email address itself."))
    unwrapped = _MAILTO.sub(lambda m: m["label"] or m["target"], text)
    unwrapped = _LINK.sub(lambda m: m["label"] or m["target"], unwrapped)
    unwrapped = unwrapped.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    unwrapped = _ZERO_WIDTH.sub("", _ODD_SPACE.sub(" ", unwrapped))
    unwrapped = unwrapped.replace("\u201c", '"').replace("\u201d", '"').replace("\u2018", "'").replace("\u2019", "'")
    try:
        return shlex.split(unwrapped, comments=False, posix=True)
    except ValueError:
        raise BadInput(_("A quote in that command is not closed.")) from None
