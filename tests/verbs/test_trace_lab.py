"""`mailbot trace` against the lab, over real SSH, checked against the lab's own log.

The oracle here is deliberately simple and independent of the bot's parsers: plain regexes
over the raw log files read as root, and `postqueue -j` run locally. The lab has two mta hosts,
the backend `lab` and the edge relay `edge` in front of it (a second Postfix instance with its
own log and long queue ids): the oracle reads each host's log, and a queue id is one host's.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter, defaultdict

import pytest
import yaml

from tests.conftest import LAB_CONFIG, lab_queue, read_lab_logs, run_mailbot

LAB_ADDRESSES = [
    "john@lab.test",
    "full@lab.test",
    "quota2@lab.test",
    "marie.durand@lab.test",
    "rh@lab.test",
    "ceo@lab.test",
    "ghost@lab.test",
    "nosuchuser@lab.test",
    "nobody@lab.test",
    "jdoe@lab.test",
    "john@lab-alias.test",
    "alice@partner.example",
    "bob@fournisseur.fr",
    "spammer@bad.example",
    "someone@elsewhere.example",
]
# short ids (hex) and long ids (enable_long_queue_ids: no vowels, a `z` between the two parts)
QID = re.compile(
    r"\]: (?P<qid>[0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{6,}z[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]+): "
)


def mailbot(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return run_mailbot("--config", str(LAB_CONFIG), *args, timeout=timeout)


def trace_json(address: str, *extra: str) -> dict:
    run = mailbot("trace", *([address] if address else []), "--json", *extra)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def what_the_log_says(address: str) -> dict:
    """(host, queue id) pairs naming the address in each mta host's log, each with its sender and
    (recipient, status, dsn) attempts; and the count of SMTP-time refusals in all the logs.

    A queue id's lines after its `removed` are not its mail's: the bot reads them as another life of
    that id (mail_flow). The lab makes some: an alert test deletes a mail (`postsuper -d`) while
    lmtp retries it, and lmtp logs its deferral just after the removal."""
    config = yaml.safe_load(LAB_CONFIG.read_text())
    logs = {host["name"]: host["maillog"] for host in config["hosts"] if "mta" in host["roles"]}
    needle = f"<{address}>"
    ids: set[tuple[str, str]] = set()
    senders: dict[tuple[str, str], str] = {}
    attempts: dict[tuple[str, str], Counter] = defaultdict(Counter)
    last: dict[tuple[str, str], dict[str, tuple[str, str]]] = defaultdict(dict)
    rejects = 0
    for host, maillog in logs.items():
        lines = read_lab_logs(maillog)
        named = {m["qid"] for line in lines if needle in line.lower() and (m := QID.search(line))}
        ids |= {(host, qid) for qid in named}
        removed: set[str] = set()
        for line in lines:
            match = QID.search(line)
            if not match or match["qid"] not in named or match["qid"] in removed:
                continue
            if line.endswith(": removed"):
                removed.add(match["qid"])
            if sender := re.search(r": from=<([^>]*)>, size=", line):
                senders[host, match["qid"]] = sender.group(1)
            if attempt := re.search(r": to=<([^>]*)>,.* dsn=([\d.]+), status=(\w+)", line):
                attempts[host, match["qid"]][(attempt.group(1), attempt.group(3), attempt.group(2))] += 1
                last[host, match["qid"]][attempt.group(1)] = (attempt.group(3), attempt.group(2))
            if re.search(r": from=<[^>]*>, status=(?:force-)?expired, returned to sender", line):
                # qmgr's expiry names no recipient: each one still deferred ends `expired` (postsuper -e)
                for recipient, (status, dsn) in last[host, match["qid"]].items():
                    if status == "deferred":
                        attempts[host, match["qid"]][(recipient, "expired", dsn)] += 1
        rejects += sum(1 for line in lines if "NOQUEUE: reject" in line and needle in line.lower())
        rejects += sum(1 for line in lines if QID.search(line) and ": reject: " in line and needle in line.lower())
    return {"ids": ids, "senders": senders, "attempts": attempts, "rejects": rejects}


@pytest.mark.parametrize("address", LAB_ADDRESSES)
def test_trace_matches_the_lab_log(lab_config, address):
    # The lab's Postfix retries its deferred mail every minute or so: the log is read before and
    # after the trace, and the trace has what the log had before, and nothing the log lacks after.
    before = what_the_log_says(address)
    answer = trace_json(address)
    truth = what_the_log_says(address)

    assert answer["address"] == address
    assert answer["hosts"] == ["lab", "edge"] and answer["errors"] == []
    # Every queue id that names the address is there, on the host whose log has it, once per
    # life of the queue id (a short id may come back after `removed`, as a different message).
    assert {(m["host"], m["queue_id"]) for m in answer["messages"]} <= truth["ids"]
    involved = {
        key
        for key, attempts in before["attempts"].items()
        if before["senders"].get(key, "").lower() == address or any(r.lower() == address for r, _, _ in attempts)
    }
    assert involved <= {(m["host"], m["queue_id"]) for m in answer["messages"]}
    for message in answer["messages"]:
        key = (message["host"], message["queue_id"])
        assert message["sender"] == truth["senders"].get(key), key
        seen = Counter((d["recipient"], d["status"], d["dsn"]) for d in message["deliveries"])
        assert before["attempts"].get(key, Counter()) <= seen <= truth["attempts"][key], key
        for delivery in message["deliveries"]:
            assert delivery["at"].startswith("20")  # ISO 8601 with the year inferred
    assert before["rejects"] <= len(answer["rejected"]) <= truth["rejects"]
    for reject in answer["rejected"]:
        assert address in (reject["recipient"].lower(), reject["sender"].lower())
        assert reject["reason"][:3] in {"550", "554", "450", "451", "452", "504"}


def test_queue_for_an_over_quota_mailbox(lab_config):
    answer = trace_json("full@lab.test")
    expected = sorted(
        entry["queue_id"] for entry in lab_queue() if any(r["address"] == "full@lab.test" for r in entry["recipients"])
    )
    assert len(expected) >= 2  # traffic.sh leaves 3; the flush test may have delivered one
    assert sorted(q["queue_id"] for q in answer["queued"]) == expected
    for queued in answer["queued"]:
        assert queued["reason"] == "452 4.2.2 Over quota"
        assert queued["recipients"][0]["address"] == "full@lab.test"
    assert any("over quota" in hint and "flush" in hint for hint in answer["hints"])


def test_a_deferral_later_delivered_shows_both_attempts(lab_config):
    answer = trace_json("quota2@lab.test")
    histories = [[d["status"] for d in m["deliveries"]] for m in answer["messages"]]
    assert ["deferred", "sent"] in histories
    assert not answer["queued"]


def test_unknown_user_in_the_store_bounces_with_a_notice_and_a_maps_hint(lab_config):
    ghost = trace_json("ghost@lab.test")
    bounced = [m for m in ghost["messages"] if m["deliveries"][-1]["status"] == "bounced"]
    assert bounced
    notice = bounced[-1]["notices"][0]
    assert notice["kind"] == "sender non-delivery"
    assert any("maps are stale" in hint for hint in ghost["hints"])
    # The notice itself went back to the sender, John: his trace links it to the bounce.
    john = trace_json("john@lab.test")
    by_id = {m["queue_id"]: m for m in john["messages"]}
    assert by_id[notice["queue_id"]]["sender"] == ""
    assert by_id[notice["queue_id"]]["previous_queue_id"] == bounced[-1]["queue_id"]
    assert by_id[notice["queue_id"]]["deliveries"][0]["status"] == "sent"


def test_smtp_time_rejects_and_the_unknown_user_hint(lab_config):
    answer = trace_json("nosuchuser@lab.test")
    assert answer["messages"] == []
    assert answer["rejected"]
    assert all(r["queue_id"] is None and "User unknown" in r["reason"] for r in answer["rejected"])
    assert any("unknown user at SMTP time" in hint for hint in answer["hints"])
    # A recipient refused inside an accepted transaction is listed under its queue id.
    nobody = trace_json("nobody@lab.test")
    assert nobody["rejected"] and all(r["queue_id"] for r in nobody["rejected"])


def test_alias_addresses_are_traced_through_orig_to(lab_config):
    for alias in ("jdoe@lab.test", "john@lab-alias.test"):
        answer = trace_json(alias)
        assert answer["messages"], alias
        for message in answer["messages"]:
            assert {d["orig_recipient"] for d in message["deliveries"]} == {alias}
            assert {d["recipient"] for d in message["deliveries"]} == {"john@lab.test"}


def test_case_does_not_matter(lab_config):
    assert trace_json("JOHN@Lab.Test")["messages"] == trace_json("john@lab.test")["messages"]


def test_rotated_and_compressed_logs_are_read(lab_config):
    answer = trace_json("john@lab.test")
    files = answer["files_read"]
    assert "lab:/var/log/mail.log" in files
    assert "lab:/var/log/mail.log.1" in files
    assert any(f.endswith(".gz") for f in files)


def test_since_keeps_only_recent_messages(lab_config):
    everything = trace_json("john@lab.test")
    recent = trace_json("john@lab.test", "--since", "1w")
    assert recent["since"] == "1w"
    assert recent["messages"] == everything["messages"]  # the lab's traffic is minutes old
    nothing = trace_json("john@lab.test", "--since", "1s")
    assert len(nothing["messages"]) < len(everything["messages"])


def test_unknown_address_gets_the_no_trace_hint(lab_config):
    answer = trace_json("never.seen@nowhere.example")
    assert answer["messages"] == [] and answer["rejected"] == [] and answer["queued"] == []
    assert any(hint.startswith("Nothing for never.seen@nowhere.example between ") for hint in answer["hints"])
    assert [w["host"] for w in answer["window"]] == ["lab", "edge"] and all(w["oldest"] for w in answer["window"])


def test_table_output_fits_a_laptop_screen(lab_config):
    run = mailbot("trace", "full@lab.test")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("Trace of full@lab.test on lab, edge: ")  # the backend and the edge relay
    assert "What happened to each message" in run.stdout and "What to do" in run.stdout
    assert "deferred" in run.stdout and "mailbox full; still queued, returned to sender on" in " ".join(
        run.stdout.split()
    )
    assert max(len(line) for line in lines) <= 100


def test_trace_by_message_id_follows_both_hops(lab_config):
    edge_lines = read_lab_logs("/var/log/mail-edge.log")
    ids = [m[1] for line in edge_lines if (m := re.search(r"message-id=<([^>]+\.h1@partner\.example)>", line))]
    assert ids, "traffic.sh sends h1 through the edge relay"
    answer = trace_json("", "--message-id", f"<{ids[-1]}>")
    assert answer["address"] is None and answer["key"]["message_id"] == ids[-1]
    assert [v["kind"] for v in answer["verdicts"]] == ["delivered"]
    assert answer["verdicts"][0]["hosts"] == ["edge", "lab"] and answer["verdicts"][0]["recipient"] == "john@lab.test"
    assert {m["host"] for m in answer["messages"]} == {"edge", "lab"}


def test_trace_by_client_with_status_and_direction(lab_config):
    deferred = trace_json("", "--client", "127.0.0.1", "--to", "full@lab.test", "--status", "deferred")
    assert deferred["verdicts"] and all(v["kind"] == "deferred" for v in deferred["verdicts"])
    assert all(v["recipient"] == "full@lab.test" for v in deferred["verdicts"])
    queued = {q["queue_id"] for q in deferred["queued"]}
    assert queued and queued <= {v["queue_ids"][-1] for v in deferred["verdicts"]}
    refused = trace_json("", "--client", "127.0.0.1", "--status", "refused")
    assert refused["messages"] == [] or all(
        any(v["kind"] == "refused" for v in m["verdict"]) for m in refused["messages"]
    )
    recipients = {v["recipient"] for v in refused["verdicts"]}
    assert {"nosuchuser@lab.test", "nobody@lab.test", "someone@elsewhere.example"} <= recipients
    assert {v["kind"] for v in refused["verdicts"]} == {"refused"}
    sent = trace_json("", "--from", "bob@fournisseur.fr", "--status", "delivered")
    assert sent["verdicts"] and all(v["sender"] == "bob@fournisseur.fr" for v in sent["verdicts"])
    text = mailbot("trace", "--client", "127.0.0.1", "--status", "held")
    assert text.returncode == 0 and text.stdout.startswith("Trace of client 127.0.0.1, status held on lab, edge: ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--client", "127.0.0.300"], "is not an IP address"),
        (["--message-id", "a b"], "is not a Message-ID"),
        (["--status", "lost", "john@lab.test"], "is not a status"),
        ([], "Say what to trace"),
    ],
)
def test_bad_keys_exit_2_with_one_sentence(lab_config, args, words):
    run = mailbot("trace", *args)
    assert run.returncode == 2 and words in run.stderr and run.stdout == ""


def test_a_mail_a_header_check_holds_in_english_and_french(lab_config):
    """traffic.sh: mail to compta@lab.test whose subject the lab's header check holds. qmgr never
    logs it: the cleanup's `hold:` line is all the log says (sender, recipient, the rule's text)."""
    held_lines = [line for line in read_lab_logs() if ": hold: header Subject: [quarantaine] " in line]
    logged = {m["qid"] for line in held_lines if (m := QID.search(line))}
    hold_queue = {e["queue_id"] for e in lab_queue() if e["queue_name"] == "hold"}
    assert logged and logged <= hold_queue
    answer = trace_json("compta@lab.test", "--status", "held")
    held = {v["queue_ids"][-1]: v for v in answer["verdicts"]}
    # and the held mails of earlier traffic runs whose lines were rotated away: the queue still has them
    assert logged <= set(held) <= hold_queue
    for verdict in (held[queue_id] for queue_id in logged):
        assert (verdict["sender"], verdict["recipient"], verdict["reason"], verdict["in_queue"]) == (
            "factures@prestataire.example",
            "compta@lab.test",
            "quarantaine: facture a verifier",
            True,
        )
    assert {m["sender"] for m in answer["messages"] if m["queue_id"] in logged} == {"factures@prestataire.example"}
    english = " ".join(mailbot("trace", "compta@lab.test").stdout.split())
    assert (
        "held on hold: not delivered until an admin releases it (postsuper -H), quarantaine: facture a verifier"
        in english
    )
    french = " ".join(mailbot("--lang", "fr", "trace", "compta@lab.test").stdout.split())
    assert (
        "suspendu suspendu : pas de remise avant qu'un administrateur le libère (postsuper -H), quarantaine" in french
    )


def test_a_mail_a_header_check_redirects_says_where_it_went_in_english_and_french(lab_config):
    """traffic.sh: mail to ceo@lab.test whose subject the lab's header check REDIRECTs to
    compta@lab.test. Its trace by ceo@ must not read "delivered" as if ceo had it."""
    redirects = [line for line in read_lab_logs() if ": redirect: header Subject: [pour la compta] " in line]
    # each redirected mail's queue id and its rule, as the log wrote them (`redirect: RULE from host[ip];`)
    logged = {
        m["qid"]: line.split(": redirect: ", 1)[1].split(" from localhost[", 1)[0]
        for line in redirects
        if (m := QID.search(line))
    }
    assert logged, "no redirected mail in the lab's logs: run lab/traffic.sh"
    answer = trace_json("ceo@lab.test")
    redirected = {v["queue_ids"][-1]: v for v in answer["verdicts"] if v["queue_ids"][-1] in logged}
    assert set(redirected) == set(logged)
    for queue_id, verdict in redirected.items():
        assert (verdict["kind"], verdict["recipient"], verdict["orig_recipient"], verdict["redirect_rule"]) == (
            "delivered",
            "compta@lab.test",
            "ceo@lab.test",
            logged[queue_id],
        )
    english = " ".join(mailbot("trace", "ceo@lab.test").stdout.split())
    assert (
        "for compta@lab.test: to 127.0.0.1:2400; redirected from ceo@lab.test by a rule: header Subject: "
        "[pour la compta] Note de frais novembre"
    ) in english
    french = " ".join(mailbot("--lang", "fr", "trace", "ceo@lab.test").stdout.split())
    assert (
        "pour compta@lab.test : vers 127.0.0.1:2400 ; redirigé depuis ceo@lab.test par une règle : header Subject: "
        "[pour la compta] Note de frais novembre"
    ) in french
    # traced by where it went, the same verdict, without the "for": it is compta's own
    to_compta = " ".join(mailbot("trace", "compta@lab.test").stdout.split())
    assert "to 127.0.0.1:2400; redirected from ceo@lab.test by a rule: header Subject: [pour la compta]" in to_compta


def test_held_deleted_and_expired_mail_in_english_and_french(lab_config):
    """traffic.sh's phase F: three mails to stuck@lab.test (over quota), deferred, then `postsuper -h`,
    `postsuper -d` and `postsuper -e` with `postqueue -i`."""
    answer = trace_json("stuck@lab.test")
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for verdict in answer["verdicts"]:
        by_kind[verdict["kind"]].append(verdict)
    assert {"held", "deleted", "expired"} <= set(by_kind), sorted(by_kind)
    hold_queue = {e["queue_id"] for e in lab_queue() if e["queue_name"] == "hold"}
    assert {v["queue_ids"][-1] for v in by_kind["held"]} <= hold_queue
    assert all(v["in_queue"] is False for v in by_kind["deleted"] + by_kind["expired"])
    assert all(v["notice_queue_id"] and v["attempts"] >= 1 for v in by_kind["expired"])
    assert all(v["reason"] == "452 4.2.2 Over quota" for v in by_kind["held"] + by_kind["deleted"])
    english = " ".join(mailbot("trace", "stuck@lab.test").stdout.split())
    assert (
        "held on hold: not delivered until an admin releases it (postsuper -H); after 1 deferral, mailbox full "
        "(452 4.2.2 Over quota)" in english
    )
    assert re.search(r"deleted deleted from the queue by an admin \(postsuper -d\) at \S+ \S+, after 1 def", english)
    assert re.search(
        r"expired returned to sender on \S+ \S+, after 1 deferral, mailbox full \(452 4\.2\.2 Over", english
    )
    assert re.search(r"Over quota\); notice \w+ \(lab \w+\)", english)
    french = " ".join(mailbot("--lang", "fr", "trace", "stuck@lab.test").stdout.split())
    assert "suspendu suspendu : pas de remise avant qu'un administrateur le libère (postsuper -H)" in french
    assert "supprimé supprimé de la file par un administrateur (postsuper -d) le " in french
    assert re.search(r"expiré renvoyé à l'expéditeur le .{5,16}, après 1 report, boîte pleine \(452 4", french)
    assert re.search(r"Over quota\) ; avis \w+ \(lab \w+\)", french)
    for kind in ("held", "deleted", "expired"):
        only = trace_json("stuck@lab.test", "--status", kind)
        assert {v["kind"] for v in only["verdicts"]} == {kind}
