"""What every template is made of: the words a shell receives, and the clock wrapper."""

import subprocess

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mailhost import commands
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.tools import cyrus
from bot.mailhost.values import mailbox_of, parse_folder


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40),
        max_size=4,
    )
)
def test_a_real_shell_receives_each_word_exactly(words):
    command = RemoteCommand("probe", ("printf", "%s\\n--\\n", *words))
    seen = subprocess.run(["/bin/sh", "-c", command.shell_line()], capture_output=True, check=True).stdout
    expected = "".join(f"{w}\n--\n" for w in words) if words else "\n--\n"
    assert seen.decode("utf-8", "surrogateescape") == expected


def test_a_real_shell_runs_the_clock_wrapper_with_the_exact_words():
    mailbox = mailbox_of("o'brien", "lab.test")
    command = cyrus.list_expunged(mailbox, parse_folder("R&D (old)"))
    probe = commands.RemoteCommand("probe", (*command.argv[:4], "printf", "%s\\n", *command.argv[4:]))
    out = subprocess.run(["/bin/sh", "-c", probe.shell_line()], capture_output=True, text=True, check=True).stdout
    marker, *words = out.splitlines()
    assert marker.startswith("#mailbot host now=")
    assert words[-1] == "user/o'brien/R&-D (old)@lab.test"
