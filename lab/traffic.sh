#!/usr/bin/env bash
# lab/traffic.sh: real mail through the lab (swaks -> Postfix 127.0.0.1:2525 -> LMTP -> Cyrus),
# waiting until each scenario is settled in /var/log/mail.log (fails loudly after ~30 s).
# Run after lab/up.sh, as root. Each run adds mail and rotates the log twice:
#   /var/log/mail.log.2.gz  ordinary deliveries, aliases, internal mail, RCPT reject with a queue id,
#                           stale map (ghost@lab.test) bounce + non-delivery notice
#   /var/log/mail.log.1     NOQUEUE rejects (unknown user, relay, sender), over quota (full@lab.test)
#   /var/log/mail.log       deferred then sent (quota2@lab.test), a few more deliveries, and
#                           john@lab.test's deleted-mail stories (real expunges, a move to Trash,
#                           to Archives, to the shared mailbox projet@lab.test); then mail that came
#                           through the edge relay (the backend's hop of it)
#   /var/log/mail-edge.log  the edge relay (Postfix instance postfix-edge, 127.0.0.1:2526, long queue
#                           ids): mail to john@lab.test and full@lab.test relayed to the backend
#                           (status=sent (250 2.0.0 Ok: queued as BACKENDQID)); not rotated
# (older rotations shift to .3.gz, .4.gz; .$MAX_ROT.gz is dropped).
set -euo pipefail

T0=$(date +%s.%N)
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG=/var/log/mail.log
EDGE_LOG=/var/log/mail-edge.log
EDGE_PORT=2526
MAX_ROT=5
TIMEOUT=${TRAFFIC_TIMEOUT:-30}
RUNID=$(date +%Y%m%d%H%M%S).$$
IMAP=(python3 "$LAB/bin/imap_admin.py")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
N=0

say() { printf 'traffic: %s\n' "$*"; }
die() { printf 'traffic: FAILED: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
# (with the edge instance, "postfix status" answers for both: the backend and the edge relay)
postfix status >/dev/null 2>&1 || die "postfix (the backend or the edge relay) is not running: run lab/up.sh first"
[ -e "$LOG" ] || die "$LOG missing: run lab/up.sh first"
[ -e "$EDGE_LOG" ] || die "$EDGE_LOG missing: run lab/up.sh first"

# wait_until DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds, else fail
wait_until() {
    local what=$1; shift
    local end=$(( $(date +%s) + TIMEOUT ))
    while ! "$@"; do
        [ "$(date +%s)" -lt "$end" ] || die "timeout (${TIMEOUT}s) waiting for: $what"
        sleep 0.2
    done
}

# send TAG FROM TO[,TO...] SUBJECT [swaks args...]: one message with a known Message-Id, to the
# backend (or to $PORT: the edge relay). Sets MID. swaks' exit code is ignored (rejected
# recipients make it fail): the log decides.
send() {
    local tag=$1 from=$2 to=$3 subject=$4; shift 4
    N=$((N + 1))
    MID="$RUNID.$N.$tag@${from#*@}"
    swaks --silent 2 --server 127.0.0.1 --port "${PORT:-2525}" --helo "mx.${from#*@}" \
        --from "$from" --to "$to" \
        --header "Subject: $subject" --header "Message-Id: <$MID>" \
        "$@" >"$TMP/swaks.out" 2>&1 || true
}

# qid_of MID -> prints the queue id that logged message-id=<MID>
qid_of() { grep -F "message-id=<$1>" "$LOG" | sed -n 's/.*: \([0-9A-Za-z]\{6,\}\): message-id=.*/\1/p' | head -n1; }
has_qid() { [ -n "$(qid_of "$1")" ]; }
# n_status QID STATUS -> number of delivery lines of QID with that status
n_status() { grep -F "$1: to=<" "$LOG" | grep -c "status=$2 " || true; }
has_status() { [ "$(n_status "$1" "$2")" -ge "${3:-1}" ]; }
has_line() { grep -qF -- "$1" "$LOG"; }

# settle MID STATUS [N]: wait until the message got a queue id and N delivery lines with STATUS
settle() {
    local mid=$1 st=$2 n=${3:-1}
    wait_until "message-id=<$mid> in $LOG" has_qid "$mid"
    QID=$(qid_of "$mid")
    wait_until "$QID ($mid): $n x status=$st" has_status "$QID" "$st" "$n"
}

# deliver TAG FROM TO SUBJECT: an ordinary delivery that must end with status=sent
deliver() {
    send "$@" --body "Bonjour,

$4

Cordialement,
${2%@*}"
    settle "$MID" sent
    SENT_QIDS+=("$QID")
}

rotate() {
    local i
    rm -f "$LOG.$MAX_ROT.gz"
    for ((i = MAX_ROT - 1; i >= 2; i--)); do
        [ -e "$LOG.$i.gz" ] && mv "$LOG.$i.gz" "$LOG.$((i + 1)).gz"
    done
    if [ -e "$LOG.1" ]; then
        gzip -c "$LOG.1" > "$LOG.2.gz.tmp"
        touch -r "$LOG.1" "$LOG.2.gz.tmp"
        mv "$LOG.2.gz.tmp" "$LOG.2.gz"
        rm -f "$LOG.1"
    fi
    mv "$LOG" "$LOG.1"
    install -m 0640 -o root -g adm /dev/null "$LOG"
    # postlogd reopens its file on reload (this is what "postfix logrotate" does);
    # until then it still appends to the renamed file, so no line is lost.
    local old_pids; old_pids=$(pgrep -x postlogd || true)
    postfix reload >/dev/null 2>&1
    # the old postlogd exits after the reload; the next one opens the new file
    wait_until "the old postlogd ($old_pids) to exit" bash -c 'for p in $0; do kill -0 "$p" 2>/dev/null && exit 1; done; exit 0' "$old_pids"
    for f in "$LOG" "$LOG".[0-9]*; do chown root:adm "$f"; chmod 0640 "$f"; done
}

SENT_QIDS=()
BIG30=$TMP/rapport-30k.pdf; BIG80=$TMP/photos-80k.zip; BIG200=$TMP/presentation-200k.pptx
TXT6=$TMP/texte-6k.txt; TXT12=$TMP/texte-12k.txt
head -c 6000 < <(yes "Ligne de texte pour remplir la boite aux lettres du lab, 72 caracteres.") > "$TXT6"
head -c 12000 < <(yes "Ligne de texte pour remplir la boite aux lettres du lab, 72 caracteres.") > "$TXT12"
head -c 22000 /dev/urandom > "$BIG30"; head -c 60000 /dev/urandom > "$BIG80"; head -c 150000 /dev/urandom > "$BIG200"

# ---- phase A (ends in mail.log.2.gz) -------------------------------------------------------
say "run $RUNID: ordinary deliveries"
deliver a1 alice@partner.example    john@lab.test         "Rappel: reunion lundi 9h"
deliver a2 bob@fournisseur.fr       john@lab.test         "Facture 2024-113"
deliver a3 noreply@impots.gouv.fr   john@lab.test         "Rappel - mot de passe expire"
deliver a4 newsletter@shop.example  john@lab.test         "Votre commande #48213"
deliver a5 alice@partner.example    marie.durand@lab.test "Re: devis"
deliver a6 support@editeur.example  marie.durand@lab.test "Ticket #5512 mis a jour"
deliver a7 bob@fournisseur.fr       compta@lab.test       "Relance facture 778"
deliver a8 noreply@impots.gouv.fr   compta@lab.test       "Rappel : échéance TVA"
deliver a9 alerts@monitoring.example ceo@lab.test         "Alerte disque /var 91%"
deliver a10 alice@partner.example   bob.martin@lab.test   "Invitation webinaire"
deliver a11 recrutement@jobs.example rh@lab.test          "Candidature spontanee"
deliver a12 bob@fournisseur.fr      jdoe@lab.test         "Devis via alias jdoe"
grep -F "$QID: to=<john@lab.test>, orig_to=<jdoe@lab.test>" "$LOG" >/dev/null || die "no orig_to for jdoe@lab.test"
deliver a13 alice@partner.example   john@lab-alias.test   "Message via le domaine alias"
grep -F "$QID: to=<john@lab.test>, orig_to=<john@lab-alias.test>" "$LOG" >/dev/null || die "no orig_to for john@lab-alias.test"

say "internal mail, one recipient rejected at RCPT inside a transaction"
deliver b1 john@lab.test            marie.durand@lab.test "Note de frais"
deliver b2 rh@lab.test              john@lab.test         "Planning conges"
send b3 john@lab.test rh@lab.test,nobody@lab.test "Compte rendu CODIR" --body "CR du CODIR en piece jointe."
settle "$MID" sent
wait_until "$QID: reject: RCPT ... <nobody@lab.test>" has_line "$QID: reject: RCPT from"

say "stale map: ghost@lab.test is in virtual_mailbox_maps but has no Cyrus mailbox"
send c1 john@lab.test ghost@lab.test "Bonjour ghost" --body "Tu es toujours la ?"
settle "$MID" bounced
wait_until "$QID: sender non-delivery notification" has_line "$QID: sender non-delivery notification:"
NDN=$(grep -F "$QID: sender non-delivery notification:" "$LOG" | sed 's/.*notification: //' | tail -n1)
wait_until "notice $NDN delivered to john@lab.test" has_status "$NDN" sent
BOUNCE_QID=$QID

rotate

# ---- phase B (ends in mail.log.1) ----------------------------------------------------------
say "SMTP-time rejects (NOQUEUE)"
noqueue() { # noqueue TAG FROM TO SUBJECT
    local from=$2 to=$3 off
    off=$(stat -c %s "$LOG")
    send "$@" --body "test"
    wait_until "NOQUEUE reject from=<$from> to=<$to>" \
        bash -c 'tail -c +$(($3 + 1)) "$0" | grep -F "NOQUEUE: reject: RCPT from" | grep -qF "from=<$1> to=<$2>"' "$LOG" "$from" "$to" "$off"
}
noqueue d1 alice@partner.example  nosuchuser@lab.test     "Demande de rendez-vous"
noqueue d2 john@lab.test          someone@elsewhere.example "Envoi vers l'exterieur"
noqueue d3 spammer@bad.example    john@lab.test           "You won a prize"

say "over quota: full@lab.test (10 KB)"
for i in 1 2; do
    send e$i alice@partner.example full@lab.test "Petit message $i" --body "@$TXT6"
    wait_until "small mail $i to full@lab.test settled" has_qid "$MID"
    QID=$(qid_of "$MID")
    wait_until "$QID settled" bash -c '[ "$(grep -F "$1: to=<" "$0" | grep -c "status=\(sent\|deferred\) ")" -ge 1 ]' "$LOG" "$QID"
done
for spec in "30k:$BIG30" "80k:$BIG80" "200k:$BIG200"; do
    send "big${spec%%:*}" bob@fournisseur.fr full@lab.test "Gros fichier ${spec%%:*}" \
        --body "Voir la piece jointe." --attach-type application/octet-stream --attach "@${spec#*:}"
    settle "$MID" deferred
    grep -F "$QID: to=<full@lab.test>" "$LOG" | grep -q 'status=deferred .*452 4.2.2 Over quota' \
        || die "$QID: deferred but not 'Over quota'"
done

rotate

# ---- phase C (stays in mail.log) ---------------------------------------------------------
say "deferred then sent: quota2@lab.test over quota, quota raised, postqueue -i, quota back"
"${IMAP[@]}" setquota user/quota2@lab.test 10
# Cyrus refuses at RCPT only once the usage has reached the limit: fill it first if needed
read -r used limit < <("${IMAP[@]}" getquota user/quota2@lab.test)
if [ "$used" -lt "$limit" ]; then
    send f0 alice@partner.example quota2@lab.test "Compte rendu detaille" --body "@$TXT12"
    settle "$MID" sent
fi
send f1 bob@fournisseur.fr quota2@lab.test "Rapport mensuel 30k" \
    --body "Rapport en piece jointe." --attach-type application/pdf --attach "@$BIG30"
settle "$MID" deferred
LATE_QID=$QID
"${IMAP[@]}" setquota user/quota2@lab.test none
/usr/sbin/postqueue -i "$LATE_QID"
wait_until "$LATE_QID sent after the quota was raised" has_status "$LATE_QID" sent
"${IMAP[@]}" setquota user/quota2@lab.test 10

say "a few more deliveries"
deliver g1 ceo@lab.test             john@lab.test         "Bonjour"
deliver g2 alice@partner.example    marie.durand@lab.test "Photos seminaire"
deliver g3 newsletter@shop.example  john@lab.test         "Newsletter mars"

# ---- phase D: deleted mail (real Cyrus expunges, kept until cyr_expire -X) ------------------
# The three stories of the support page, for john@lab.test, and true deletions:
#   unread      "Rappel: convocation CSE" stays unread in INBOX
#   trashed     "Rappel: facture impayee" is read, then moved to Trash (copy + expunge)
#   mailshare   "Rappel: projet Apollon" is moved to the shared mailbox projet@lab.test
#   archived    "Compte rendu reunion" is moved to Archives
#   deleted     three mails expunged from INBOX (a literal subject, a MIME-encoded one, a plain one),
#               and one moved to Trash whose Trash copy is then expunged (emptied Trash)
#   two copies  "Invitation seminaire", one transaction to john@ and marie.durand@ (same GUID):
#               john reads his and moves it to Trash
say "deleted mail: stories of john@lab.test (unread, trashed, moved to the shared mailbox, deleted)"
uid_of() { # uid_of MID [FOLDER]: the mail's UID in john's folder, once delivered
    "${IMAP[@]}" find john@lab.test "$1" ${2:+--folder "$2"}
}
story() { # story TAG FROM SUBJECT: deliver to john, set UID
    deliver "$1" "$2" john@lab.test "$3"
    UID_=$(uid_of "$MID") || die "no UID for $MID in john's INBOX"
}
story s1 rh@lab.test "Rappel: convocation CSE"
story s2 compta@lab.test "Rappel: facture impayee"; S2=$UID_
story s3 ceo@lab.test "Rappel: projet Apollon"; S3=$UID_
story s4 marie.durand@lab.test "Compte rendu reunion"; S4=$UID_
ENCODED="=?UTF-8?B?$(printf 'Échéance TVA – relance' | base64 -w0)?="
DELETE=()
for spec in "d1|alerts@monitoring.example|Alerte disque /var 91%" "d2|noreply@impots.gouv.fr|$ENCODED" \
            "d3|newsletter@shop.example|Promotions de printemps"; do
    IFS='|' read -r tag from subject <<<"$spec"
    story "$tag" "$from" "$subject"
    DELETE+=("$UID_")
done
story d4 support@editeur.example "Votre ticket est clos"; D4=$UID_ D4_MID=$MID
sleep 1  # the user acts a moment after the delivery: the history's times then tell the order
"${IMAP[@]}" flag john@lab.test "$S2" '\Seen' >/dev/null
"${IMAP[@]}" move john@lab.test "$S2" INBOX/Trash >/dev/null
"${IMAP[@]}" move john@lab.test "$S3" projet >/dev/null
"${IMAP[@]}" move john@lab.test "$S4" INBOX/Archives >/dev/null
"${IMAP[@]}" expunge john@lab.test "${DELETE[@]}" >/dev/null
"${IMAP[@]}" move john@lab.test "$D4" INBOX/Trash >/dev/null
TRASH_UID=$(uid_of "$D4_MID" INBOX/Trash) || die "no copy of $D4_MID in john's Trash"
"${IMAP[@]}" expunge john@lab.test "$TRASH_UID" --folder INBOX/Trash >/dev/null
n_expunged=$(sudo -n -u cyrus /usr/lib/cyrus/bin/unexpunge -l user/john@lab.test | grep -c '^UID: ' || true)
[ "$n_expunged" -ge 7 ] || die "expected >= 7 expunged mails for john@lab.test, unexpunge -l shows $n_expunged"
# last story: one mail to two colleagues in ONE SMTP transaction (Cyrus then gives both copies the
# same GUID, so bm-cli's history of it shows both INBOX copies); john reads his and moves it to Trash,
# marie.durand keeps hers unread
say "one mail to john@ and marie.durand@ in one transaction; john reads his and moves it to Trash"
send s5 rh@lab.test john@lab.test,marie.durand@lab.test "Invitation seminaire" \
    --body "Bonjour, vous etes invites au seminaire de rentree. Cordialement, rh"
settle "$MID" sent 2
S5=$(uid_of "$MID") || die "no UID for $MID in john's INBOX"
sleep 1
"${IMAP[@]}" flag john@lab.test "$S5" '\Seen' >/dev/null
"${IMAP[@]}" move john@lab.test "$S5" INBOX/Trash >/dev/null

# ---- phase E: through the edge relay (the second Postfix instance, in front of the backend) ----
# Each mail has two queue ids: the edge's (long) and the backend's, linked by the edge's
# "status=sent (250 2.0.0 Ok: queued as BACKENDQID)". john@lab.test's is delivered by LMTP;
# full@lab.test's is deferred at the backend (over quota) and waits in the backend's queue.
say "through the edge relay (127.0.0.1:$EDGE_PORT -> [127.0.0.1]:2525): john@lab.test, full@lab.test (over quota)"
edge_qid_of() { grep -F "message-id=<$1>" "$EDGE_LOG" | sed -n 's/.*: \([0-9A-Za-z]\{6,\}\): message-id=.*/\1/p' | head -n1; }
edge_has_qid() { [ -n "$(edge_qid_of "$1")" ]; }
# next_qid EDGEQID RCPT: the backend's queue id, from the edge's "queued as" reply
next_qid() { grep -F "$1: to=<$2>" "$EDGE_LOG" | sed -n 's/.* status=sent (250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\))$/\1/p' | tail -n1; }
has_next_qid() { [ -n "$(next_qid "$1" "$2")" ]; }
# through_edge TAG FROM TO SUBJECT STATUS [swaks args...]: send to the edge, wait for the hand-over,
# then for STATUS at the backend. Sets EDGE_QID and BACKEND_QID.
through_edge() {
    local tag=$1 from=$2 to=$3 subject=$4 st=$5; shift 5
    PORT=$EDGE_PORT send "$tag" "$from" "$to" "$subject" "$@"
    wait_until "message-id=<$MID> in $EDGE_LOG" edge_has_qid "$MID"
    EDGE_QID=$(edge_qid_of "$MID")
    wait_until "$EDGE_QID handed to the backend (queued as ...)" has_next_qid "$EDGE_QID" "$to"
    BACKEND_QID=$(next_qid "$EDGE_QID" "$to")
    wait_until "$BACKEND_QID (from the edge's $EDGE_QID): status=$st" has_status "$BACKEND_QID" "$st"
    wait_until "$EDGE_QID removed from the edge's queue" grep -qF "$EDGE_QID: removed" "$EDGE_LOG"
}
through_edge h1 alice@partner.example john@lab.test "Ordre du jour via le relais" sent --body "Bonjour John, voici l'ordre du jour."
EDGE_JOHN=$EDGE_QID BACKEND_JOHN=$BACKEND_QID
grep -F "$BACKEND_JOHN: to=<john@lab.test>" "$LOG" | grep -q 'status=sent (250 2.1.5 ' || die "$BACKEND_JOHN: not delivered by LMTP"
through_edge h2 bob@fournisseur.fr full@lab.test "Gros fichier via le relais" deferred \
    --body "Voir la piece jointe." --attach-type application/octet-stream --attach "@$BIG30"
grep -F "$BACKEND_QID: to=<full@lab.test>" "$LOG" | grep -q 'status=deferred .*452 4.2.2 Over quota' \
    || die "$BACKEND_QID: deferred but not 'Over quota'"
EDGE_FULL=$EDGE_QID BACKEND_FULL=$BACKEND_QID
[ -z "$(/usr/sbin/postqueue -c /etc/postfix-edge -j)" ] || die "the edge relay's queue is not empty"

# ---- checks and summary ------------------------------------------------------------------
for f in "$LOG" "$LOG".[0-9]* "$EDGE_LOG"; do
    [ "$(stat -c '%U:%G %a' "$f")" = "root:adm 640" ] || die "$f is not root:adm 0640"
done
gzip -t "$LOG.2.gz" || die "$LOG.2.gz is not valid gzip"
QJ=$(/usr/sbin/postqueue -j)
n_full=$(grep -c '"address": "full@lab.test", "delay_reason": "[^"]*452 4.2.2 Over quota' <<<"$QJ" || true)
[ "$n_full" -ge 3 ] || die "expected >= 3 over-quota mails for full@lab.test in the queue, got $n_full"
ALL=$(zcat -f "$LOG".[0-9]* "$LOG" 2>/dev/null)
c() { grep -c -- "$1" <<<"$ALL" || true; }
T1=$(date +%s.%N)
say "files: $(ls "$LOG"* | tr '\n' ' ')"
say "examples: bounce $BOUNCE_QID (notice $NDN), deferred-then-sent $LATE_QID"
say "edge hops: edge $EDGE_JOHN -> lab $BACKEND_JOHN (john@lab.test, sent); edge $EDGE_FULL -> lab $BACKEND_FULL (full@lab.test, deferred)"
say "  edge: $(grep -F "$EDGE_JOHN: to=<john@lab.test>" "$EDGE_LOG" | tail -n1)"
say "  lab:  $(grep -F "$BACKEND_JOHN: to=<john@lab.test>" "$LOG" | tail -n1)"
printf 'traffic done in %.1fs: log totals sent=%s deferred=%s bounced=%s noqueue_rejects=%s qid_rejects=%s; queue now %s message(s), %s over quota for full@lab.test\n' \
    "$(awk -v a="$T0" -v b="$T1" 'BEGIN{print b-a}')" \
    "$(c ' status=sent ')" "$(c ' status=deferred ')" "$(c ' status=bounced ')" \
    "$(c 'NOQUEUE: reject: RCPT')" "$(grep -cE ': [0-9A-F]{6,}: reject: RCPT' <<<"$ALL" || true)" \
    "$(grep -c '"queue_id"' <<<"$QJ" || true)" "$n_full"

# ---- phase F: held, deleted by an admin, expired (issue 22; stays in mail.log) ---------------
# stuck@lab.test (10 KB) is kept over quota, so each mail to it (from rh@lab.test, 30 KB) is
# deferred; then an admin acts on the queue:
#   held      postsuper -h: the mail stays in the hold queue (until postsuper -H)
#   deleted   postsuper -d: removed from the queue, never delivered
#   expired   postsuper -e, then postqueue -i: returned to its sender at once, with a notice
say "held, deleted by an admin, expired: mail to stuck@lab.test (over quota), then postsuper -h, -d, -e"
read -r used limit < <("${IMAP[@]}" getquota user/stuck@lab.test)
if [ "$used" -lt "$limit" ]; then
    send k0 alice@partner.example stuck@lab.test "Remplissage de la boite" --body "@$TXT12"
    settle "$MID" sent
fi
stuck() { # stuck TAG SUBJECT: a deferred mail to stuck@lab.test; sets QID
    send "$1" rh@lab.test stuck@lab.test "$2" \
        --body "Voir la piece jointe." --attach-type application/pdf --attach "@$BIG30"
    settle "$MID" deferred
}
removed_by_postsuper() { grep -F "$1: removed" "$LOG" | grep -qF "postsuper["; }
stuck k1 "Retenu par un administrateur"
/usr/sbin/postsuper -h "$QID" 2>/dev/null
wait_until "$QID placed on hold" has_line "$QID: placed on hold"
HELD_QID=$QID
stuck k2 "Supprime par un administrateur"
/usr/sbin/postsuper -d "$QID" 2>/dev/null
wait_until "$QID removed by postsuper -d" removed_by_postsuper "$QID"
DELETED_QID=$QID
stuck k3 "Expire par un administrateur"
/usr/sbin/postsuper -e "$QID" 2>/dev/null
/usr/sbin/postqueue -i "$QID"
wait_until "$QID returned to its sender" has_line "$QID: from=<rh@lab.test>, status=force-expired, returned to sender"
wait_until "$QID: non-delivery notice" has_line "$QID: sender non-delivery notification:"
EXPIRED_QID=$QID
say "admin actions: held $HELD_QID, deleted $DELETED_QID, expired $EXPIRED_QID (stuck@lab.test)"
# held by a rule (lab_header_checks): qmgr never sees it, the hold line is all the log says of it
send k4 factures@prestataire.example compta@lab.test "[quarantaine] Facture 2026-118" --body "Facture jointe."
wait_until "message-id=<$MID> in $LOG" has_qid "$MID"
QID=$(qid_of "$MID")
wait_until "$QID held by the header check" has_line "$QID: hold: header Subject: [quarantaine] Facture 2026-118"
say "held by a header check: $QID (compta@lab.test)"
# redirected by a rule (lab_header_checks): sent to ceo@lab.test, delivered to compta@lab.test
deliver k5 alice@partner.example ceo@lab.test "[pour la compta] Note de frais novembre"
wait_until "$QID redirected by the header check" has_line "$QID: redirect: header Subject: [pour la compta] Note de frais novembre"
say "redirected by a header check: $QID (ceo@lab.test, delivered to compta@lab.test)"
