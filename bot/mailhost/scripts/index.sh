# The present mails of some Cyrus mailboxes, reduced to UID, date, size, GUID, flags, From and
# Subject. Sent as /bin/sh -c SCRIPT mailbot-index MAILBOX...
# shellcheck shell=sh
for mailbox do
  sudo -n -u cyrus /usr/lib/cyrus/bin/mbexamine "$mailbox" 2>/dev/null
done | awk '/^Examining / || /> UID:/ || /GUID:/ || /SYSTEMFLAGS:/ || /^ From>/ { print; next }
  /^ Subjct>/ { print; literal = ($0 ~ /}\r?$/); next }
  literal { print; literal = 0 }'
exit 0
