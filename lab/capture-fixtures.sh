#!/usr/bin/env bash
# lab/capture-fixtures.sh: copy what the lab really printed into tests/fixtures/lab/, so the
# parser tests run on real output without a lab. Run after lab/up.sh and lab/traffic.sh.
set -euo pipefail
LAB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="$LAB/../tests/fixtures/lab"
mkdir -p "$OUT"
# oldest first, as they were written
for f in $(ls -tr /var/log/mail.log*); do
    case $f in *.gz) zcat -- "$f" ;; *) cat -- "$f" ;; esac
done > "$OUT/maillog.txt"
/usr/sbin/postqueue -j > "$OUT/postqueue-j.txt"
/usr/sbin/postqueue -p > "$OUT/postqueue-p.txt"
date -u +%Y-%m-%dT%H:%M:%SZ > "$OUT/captured-at.txt"
echo "capture-fixtures.sh: $(wc -l < "$OUT/maillog.txt") log lines, $(wc -l < "$OUT/postqueue-j.txt") queued messages -> $OUT"
