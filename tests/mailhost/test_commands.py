import shlex
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.mailhost import commands
from bot.mailhost.commands import RemoteCommand
from bot.mailhost.values import parse_address, parse_queue_id


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


def test_trace_command_carries_the_address_as_one_argument():
    command = commands.trace_logs(parse_address("John@Lab.Test"), 0, ("/var/log/mail.log",))
    argv = shlex.split(command.shell_line())
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[2] == commands.TRACE_SCRIPT
    assert argv[3:] == ["mailbot-trace", "anycase", "<john@lab.test>", "0", "/var/log/mail.log"]
    assert str(command) == "/bin/sh -c <trace script> mailbot-trace anycase '<john@lab.test>' 0 /var/log/mail.log"


def test_templates_refuse_values_that_were_not_validated():
    with pytest.raises(AttributeError):
        commands.trace_logs("john@lab.test; id", 0, ("/var/log/mail.log",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="absolute"):
        commands.trace_logs(parse_address("john@lab.test"), 0, ("mail.log",))


def test_flush_message_uses_sudo_with_the_absolute_tool_path():
    command = commands.flush_message(parse_queue_id("5BC4E16E1D5"))
    assert command.argv == ("sudo", "-n", "/usr/sbin/postqueue", "-i", "5BC4E16E1D5")
