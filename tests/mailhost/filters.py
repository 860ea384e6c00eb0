"""Logs of content filters that tell their own story (MailScanner, Proxmox Mail Gateway), for the
verdicts' and the trace script's tests."""

# MailScanner (the shape of its logs in a public write-up of a Zimbra set-up, rebuilt with made-up
# mail): a `Received:` header check holds every mail; MailScanner scans it, writes it back as a new
# queue file (`Requeue: HELD.SUFFIX to NEW`) and deletes the held one, of which Postfix logs no
# `removed`. Here the copy goes through a content filter's hop, is held and requeued again there,
# then delivered by LMTP; a second mail's copy is outside the logs read.
MAILSCANNER = """\
Dec  1 13:00:12 mx postfix/smtpd[14603]: 31A0F261C9D: client=out.partner.example[192.0.2.7]
Dec  1 13:00:12 mx postfix/cleanup[14606]: 31A0F261C9D: hold: header Received: from out.partner.example (out.partner.example [192.0.2.7])??by mx.lab.test (Postfix) with ESMTP id 31A0F261C9D??for <ana@lab.test>; Tue,  1 Dec 2026 13:00:12 +0100 (CET) from out.partner.example[192.0.2.7]; from=<lea@partner.example> to=<ana@lab.test> proto=ESMTP helo=<out.partner.example>
Dec  1 13:00:12 mx postfix/cleanup[14606]: 31A0F261C9D: message-id=<8841.lea@partner.example>
Dec  1 13:00:14 mx MailScanner[13669]: New Batch: Scanning 1 messages, 1863 bytes
Dec  1 13:00:15 mx MailScanner[13669]: Requeue: 31A0F261C9D.AFE5C to CD2FE261CA1
Dec  1 13:00:15 mx MailScanner[13669]: Uninfected: Delivered 1 messages
Dec  1 13:00:15 mx postfix/qmgr[29083]: CD2FE261CA1: from=<lea@partner.example>, size=1124, nrcpt=1 (queue active)
Dec  1 13:00:15 mx postfix/filter/smtpd[14616]: 537BB261C9D: client=localhost[127.0.0.1]
Dec  1 13:00:15 mx postfix/smtp[14613]: CD2FE261CA1: to=<ana@lab.test>, relay=127.0.0.1[127.0.0.1]:10026, delay=3.3, delays=3.1/0.01/0/0.14, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 537BB261C9D)
Dec  1 13:00:15 mx postfix/cleanup[14606]: 537BB261C9D: hold: header Received: from localhost (localhost [127.0.0.1])??by mx.lab.test (Postfix) with ESMTP id 537BB261C9D??for <ana@lab.test>; Tue,  1 Dec 2026 13:00:15 +0100 (CET) from localhost[127.0.0.1]; from=<lea@partner.example> to=<ana@lab.test> proto=ESMTP helo=<localhost>
Dec  1 13:00:15 mx postfix/cleanup[14606]: 537BB261C9D: message-id=<8841.lea@partner.example>
Dec  1 13:00:15 mx postfix/qmgr[29083]: CD2FE261CA1: removed
Dec  1 13:00:21 mx MailScanner[13669]: Requeue: 537BB261C9D.A7668 to 1F0A0261CA4
Dec  1 13:00:21 mx postfix/qmgr[29083]: 1F0A0261CA4: from=<lea@partner.example>, size=2359, nrcpt=1 (queue active)
Dec  1 13:00:22 mx postfix/lmtp[14626]: 1F0A0261CA4: to=<ana@lab.test>, relay=127.0.0.1[127.0.0.1]:2400, delay=6.9, delays=6.4/0/0.01/0.52, dsn=2.1.5, status=sent (250 2.1.5 Ok SESSIONID=<cyrus-1-2-3> [lab.test!user.ana () 42])
Dec  1 13:00:22 mx postfix/qmgr[29083]: 1F0A0261CA4: removed
Dec  1 13:05:02 mx postfix/smtpd[14603]: 4B1C2261C9E: client=out.partner.example[192.0.2.7]
Dec  1 13:05:02 mx postfix/cleanup[14606]: 4B1C2261C9E: hold: header Received: from out.partner.example (out.partner.example [192.0.2.7])??by mx.lab.test (Postfix) with ESMTP id 4B1C2261C9E??for <bo@lab.test>; Tue,  1 Dec 2026 13:05:02 +0100 (CET) from out.partner.example[192.0.2.7]; from=<lea@partner.example> to=<bo@lab.test> proto=ESMTP helo=<out.partner.example>
Dec  1 13:05:04 mx MailScanner[13669]: Requeue: 4B1C2261C9E.B1F2A to 5D6E7261CA9
"""  # noqa: E501


# Proxmox Mail Gateway's filter (the shape of its logs, rebuilt with made-up mail): its answer names
# its own session, not the new queue id; its session's lines say what it did for each recipient; its
# re-injection through smtpd with XFORWARD IDENT names the queue id it came from (`orig_queue_id=`).
PROXMOX = """\
Dec  1 14:00:00 pmg postfix/smtpd[2001]: 4B1C2261C9E: client=mail.partner.example[198.51.100.4]
Dec  1 14:00:00 pmg postfix/cleanup[2002]: 4B1C2261C9E: message-id=<77.lea@partner.example>
Dec  1 14:00:00 pmg postfix/qmgr[2003]: 4B1C2261C9E: from=<lea@partner.example>, size=2100, nrcpt=3 (queue active)
Dec  1 14:00:01 pmg pmg-smtp-filter[2004]: 5E8A05F4D1A3E1D0A3: new mail message-id=<77.lea@partner.example>
Dec  1 14:00:02 pmg postfix/smtpd[2005]: 7C2F1261CA0: client=localhost.localdomain[127.0.0.1], orig_queue_id=4B1C2261C9E, orig_client=mail.partner.example[198.51.100.4]
Dec  1 14:00:02 pmg postfix/cleanup[2002]: 7C2F1261CA0: message-id=<77.lea@partner.example>
Dec  1 14:00:02 pmg postfix/qmgr[2003]: 7C2F1261CA0: from=<lea@partner.example>, size=2700, nrcpt=1 (queue active)
Dec  1 14:00:02 pmg pmg-smtp-filter[2004]: 5E8A05F4D1A3E1D0A3: accept mail to <ana@lab.test> (7C2F1261CA0) (rule: default-accept)
Dec  1 14:00:02 pmg pmg-smtp-filter[2004]: 5E8A05F4D1A3E1D0A3: moved mail for <bo@lab.test> to spam quarantine - 8D3E4F5A6B (rule: Quarantine/Mark Spam (Level 3))
Dec  1 14:00:02 pmg postfix/lmtp[2006]: 4B1C2261C9E: to=<ana@lab.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.1, delays=0.1/0/0/2, dsn=2.5.0, status=sent (250 2.5.0 OK (5E8A05F4D1A3E1D0A3))
Dec  1 14:00:02 pmg postfix/lmtp[2006]: 4B1C2261C9E: to=<bo@lab.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.1, delays=0.1/0/0/2, dsn=2.5.0, status=sent (250 2.5.0 OK (5E8A05F4D1A3E1D0A3))
Dec  1 14:00:02 pmg postfix/lmtp[2006]: 4B1C2261C9E: to=<cy@lab.test>, relay=127.0.0.1[127.0.0.1]:10024, delay=2.1, delays=0.1/0/0/2, dsn=2.5.0, status=sent (250 2.5.0 OK (5E8A05F4D1A3E1D0A3))
Dec  1 14:00:02 pmg postfix/qmgr[2003]: 4B1C2261C9E: removed
Dec  1 14:00:03 pmg postfix/smtp[2007]: 7C2F1261CA0: to=<ana@lab.test>, relay=bluemind.lab.test[192.0.2.20]:25, delay=0.9, delays=0/0/0.4/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 9A8B7C6D5E)
Dec  1 14:00:03 pmg postfix/qmgr[2003]: 7C2F1261CA0: removed
"""  # noqa: E501
