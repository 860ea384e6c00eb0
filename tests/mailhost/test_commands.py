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


def test_a_postfix_instance_is_chosen_with_its_config_directory():
    edge = "/etc/postfix-edge"
    assert commands.queue_json(edge).argv == ("/usr/sbin/postqueue", "-c", edge, "-j")
    assert commands.queue_text(edge).argv == ("/usr/sbin/postqueue", "-c", edge, "-p")
    assert commands.postfix_version(edge).argv == ("/usr/sbin/postconf", "-c", edge, "-h", "mail_version")
    assert commands.flush_queue(edge).argv == ("sudo", "-n", "/usr/sbin/postqueue", "-c", edge, "-f")
    long_id = parse_queue_id("4PcV4K5FPLz3tBr")
    assert (
        str(commands.flush_message(long_id, edge))
        == "sudo -n /usr/sbin/postqueue -c /etc/postfix-edge -i 4PcV4K5FPLz3tBr"
    )
    assert commands.queue_json().argv == ("/usr/sbin/postqueue", "-j")  # the default instance: no -c
    for bad in ("etc/postfix-edge", "/etc/postfix edge"):
        with pytest.raises(ValueError, match="absolute"):
            commands.queue_json(bad)
