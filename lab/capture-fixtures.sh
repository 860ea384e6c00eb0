#!/usr/bin/env bash
# lab/capture-fixtures.sh: copy what the lab really printed into tests/fixtures/lab/, so the
# parser tests run on real output without a lab. Run after lab/up.sh and lab/traffic.sh.
set -euo pipefail
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$LAB/../tests/fixtures/lab"
mkdir -p "$OUT"
# `capture-fixtures.sh deleted`: only the deleted-mail fixtures (tests/fixtures/lab/deleted/)
if [ "${1:-all}" = deleted ]; then SKIP_LOGS=1; else SKIP_LOGS=0; fi
if [ "$SKIP_LOGS" = 0 ]; then
# oldest first, as they were written
for f in $(ls -tr /var/log/mail.log*); do
    case $f in *.gz) zcat -- "$f" ;; *) cat -- "$f" ;; esac
done > "$OUT/maillog.txt"
/usr/sbin/postqueue -j > "$OUT/postqueue-j.txt"
/usr/sbin/postqueue -p > "$OUT/postqueue-p.txt"
date -u +%Y-%m-%dT%H:%M:%SZ > "$OUT/captured-at.txt"
echo "capture-fixtures.sh: $(wc -l < "$OUT/maillog.txt") log lines, $(wc -l < "$OUT/postqueue-j.txt") queued messages -> $OUT"
fi

# --- deleted mail: what Cyrus's tools and the bm-cli stand-in print on the lab ---------------
# Needs lab/traffic.sh to have run (john@lab.test's stories). Each file starts with the command.
D="$OUT/deleted"
mkdir -p "$D"
IMAP=(python3 "$LAB/bin/imap_admin.py")
cyr() { runuser -u cyrus -- "/usr/lib/cyrus/bin/$@"; }
keep() { # keep FILE CMD...: the command line, then its stdout (stderr appended), then [rc=N]
    local file=$1; shift
    { printf '$ %s\n' "$*"; "$@" 2>&1; printf '\n[rc=%s]\n' "$?"; } > "$D/$file" || true
}
keep_raw() { # keep_raw FILE CMD...: stdout only, byte for byte (what the bot's parser receives)
    local file=$1; shift
    "$@" > "$D/$file" 2>/dev/null || true
}
keep_raw unexpunge-l-john.txt cyr unexpunge -l user/john@lab.test
keep_raw unexpunge-l-missing.txt cyr unexpunge -l user/nosuch@lab.test
keep_raw mbpath-john.txt cyr mbpath user/john@lab.test
keep_raw mbexamine-john.txt cyr mbexamine user/john@lab.test 'user/john/*@lab.test' '%@lab.test'
keep_raw mbexamine-ceo.txt cyr mbexamine user/ceo@lab.test  # "Alerte disque /var 91%": a literal subject
# a restore of a scratch mail (bob.martin), then the silent failures: an unknown UID, a missing mailbox
uid=$("${IMAP[@]}" append bob.martin@lab.test INBOX "Fixture: restore me" --from fixtures@lab.example)
"${IMAP[@]}" expunge bob.martin@lab.test "$uid" >/dev/null
keep_raw unexpunge-restore.txt cyr unexpunge -u -d -v user/bob.martin@lab.test "$uid"
keep_raw unexpunge-restore-unknown.txt cyr unexpunge -u -d -v user/bob.martin@lab.test 999999
keep unexpunge-restore-missing.txt cyr unexpunge -u -d -v user/nosuch@lab.test 1
# the header block of a mail with a MIME-encoded subject (its file stays after the expunge)
dir=$(cyr mbpath user/john@lab.test)
file=$(grep -l '^Subject: =?UTF-8?B?' "$dir"/[0-9]*. | tail -n1)
head -c 65536 -- "$file" > "$D/mail-head-encoded.txt"
# a broken cache: a scratch mailbox whose cache loses its last record and whose file is gone
python3 - <<'PY'
import imaplib
m = imaplib.IMAP4("127.0.0.1", 143); m.login("cyrus", "labpass")
box = '"user/cachetest@lab.test"'
m.delete(box)
m.create(box); m.setacl(box, "cyrus", "lrswipkxtecda")
for i in range(2):
    m.append(box, None, None, f"From: <x@example.org>\r\nSubject: cache test {i}\r\n\r\nbody {i}\r\n".encode())
m.select(box); m.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)"); m.expunge(); m.logout()
PY
cdir=$(cyr mbpath user/cachetest@lab.test)
off=$(python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(); print(struct.unpack('>I', d[160+112+24:160+112+28])[0])" "$cdir/cyrus.index")
cp -p "$cdir/cyrus.cache" /tmp/cachetest.cache; mv "$cdir/2." /tmp/cachetest.2
truncate -s "$off" "$cdir/cyrus.cache"
keep_raw unexpunge-l-cache-error.txt cyr unexpunge -l user/cachetest@lab.test
mv /tmp/cachetest.2 "$cdir/2."; cp -p /tmp/cachetest.cache "$cdir/cyrus.cache"
cyr reconstruct user/cachetest@lab.test >/dev/null 2>&1 || true
python3 -c "import imaplib; m=imaplib.IMAP4('127.0.0.1',143); m.login('cyrus','labpass'); m.delete('\"user/cachetest@lab.test\"')"
# the bm-cli stand-in (an emulator per BlueMind version, lab/README.md): the three stories, a query,
# BlueMind 5's unexpunge --dry, the address lookup. The default version (bm4-2022) unless said; the
# lab's own switch file is left alone (BMCLI_LAB_CONF points at a file of this script's own).
BM=/usr/local/bin/bm-cli
BM5_CONF=$(mktemp); printf 'emulate = bm5\n' > "$BM5_CONF"
BM4_CONF=$(mktemp); printf 'emulate = bm4-2022\n' > "$BM4_CONF"
export BMCLI_LAB_CONF=$BM4_CONF
keep_raw bmcli-version.txt $BM --version
keep_raw bmcli-query-convocation.txt $BM mail history-query --email john@lab.test --query "convocation CSE"
keep_raw bmcli-query-facture.txt $BM mail history-query --email john@lab.test --query "facture impayee"
keep_raw bmcli-query-apollon.txt $BM mail history-query --email john@lab.test --query Apollon
keep_raw bmcli-query-rappel.txt $BM mail history-query --email john@lab.test --query Rappel
last_inbox_uid() { awk -F'|' '$6 ~ /INBOX/ { gsub(/[ .]/, "", $7); uid = $7 } END { print uid }' "$D/$1"; }
keep_raw bmcli-history-trashed.txt $BM mail history-imap --email john@lab.test --imapUid "$(last_inbox_uid bmcli-query-facture.txt)"
keep_raw bmcli-history-mailshare.txt $BM mail history-imap --email jdoe@lab.test --imapUid "$(last_inbox_uid bmcli-query-apollon.txt)"
keep_raw bmcli-history-unknown-uid.txt $BM mail history-imap --email john@lab.test --imapUid 999999
BMCLI_LAB_CONF=$BM5_CONF keep_raw bmcli-unexpunge-dry.txt $BM mail unexpunge john@lab.test --dry
keep_raw bmcli-unexpunge-dry-bm4.txt $BM mail unexpunge john@lab.test --dry
# the history of the first deleted item's body GUID (BlueMind 5: where a restored mail went)
guid=$(sed -n 's/^Skipping action on .* body: \([0-9a-f]\{40\}\),.*/\1/p' "$D/bmcli-unexpunge-dry.txt" | head -n1)
[ -n "$guid" ] && BMCLI_LAB_CONF=$BM5_CONF keep_raw bmcli-history-guid.txt $BM mail history-guid --body-guid "$guid"
keep_raw bmcli-query-seminaire.txt $BM mail history-query --email john@lab.test --query "Invitation seminaire"
keep_raw bmcli-maintenance-list-john.txt $BM maintenance list jdoe@lab.test --no-progress
keep_raw bmcli-maintenance-list-projet.txt $BM maintenance list projet@lab.test --no-progress
keep_raw bmcli-unexpunge-no-folder.txt $BM mail unexpunge john@lab.test --folder Nope --dry
keep_raw bmcli-user-get.txt $BM user get jdoe@lab.test --display "login email" --no-progress
keep bmcli-user-get-unknown.txt $BM user get nobody@lab.test --display "login email" --no-progress
rm -f "$BM5_CONF" "$BM4_CONF"
date -u +%Y-%m-%dT%H:%M:%SZ > "$D/captured-at.txt"
echo "capture-fixtures.sh: $(ls "$D" | wc -l) deleted-mail fixtures -> $D"
