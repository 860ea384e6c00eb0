"""Postfix's templates: what reaches a remote shell, and how."""

import shlex

import pytest

from bot.mailhost.tools import postfix
from bot.mailhost.values import parse_address, parse_queue_id


def test_trace_command_carries_the_address_as_one_argument():
    command = postfix.trace_logs(parse_address("John@Lab.Test"), 0, ("/var/log/mail.log",))
    argv = shlex.split(command.shell_line())
    assert argv[:2] == ["/bin/sh", "-c"]
    assert argv[2] == postfix.TRACE_SCRIPT
    assert argv[3:] == ["mailbot-trace", "anycase", "<john@lab.test>", "0", "/var/log/mail.log"]
    assert str(command) == "/bin/sh -c <trace script> mailbot-trace anycase '<john@lab.test>' 0 /var/log/mail.log"


def test_templates_refuse_values_that_were_not_validated():
    with pytest.raises(AttributeError):
        postfix.trace_logs("john@lab.test; id", 0, ("/var/log/mail.log",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="absolute"):
        postfix.trace_logs(parse_address("john@lab.test"), 0, ("mail.log",))


def test_flush_message_uses_sudo_with_the_absolute_tool_path():
    command = postfix.flush_message(parse_queue_id("5BC4E16E1D5"))
    assert command.argv == ("sudo", "-n", "/usr/sbin/postqueue", "-i", "5BC4E16E1D5")


def test_a_postfix_instance_is_chosen_with_its_config_directory():
    edge = "/etc/postfix-edge"
    assert postfix.queue_json(edge).argv == ("/usr/sbin/postqueue", "-c", edge, "-j")
    assert postfix.queue_text(edge).argv == ("/usr/sbin/postqueue", "-c", edge, "-p")
    assert postfix.postfix_version(edge).argv == ("/usr/sbin/postconf", "-c", edge, "-h", "mail_version")
    assert postfix.flush_queue(edge).argv == ("sudo", "-n", "/usr/sbin/postqueue", "-c", edge, "-f")
    long_id = parse_queue_id("4PcV4K5FPLz3tBr")
    assert (
        str(postfix.flush_message(long_id, edge))
        == "sudo -n /usr/sbin/postqueue -c /etc/postfix-edge -i 4PcV4K5FPLz3tBr"
    )
    assert postfix.queue_json().argv == ("/usr/sbin/postqueue", "-j")  # the default instance: no -c
    for bad in ("etc/postfix-edge", "/etc/postfix edge"):
        with pytest.raises(ValueError, match="absolute"):
            postfix.queue_json(bad)
