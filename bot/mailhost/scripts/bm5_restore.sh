# BlueMind 5: several restores by id (bm-cli takes one --id a run).
# Sent as /bin/sh -c SCRIPT mailbot-restore BM_CLI EMAIL FOLDER ID...
# shellcheck shell=sh
bmcli=$1 email=$2 folder=$3; shift 3
for id do
  sudo -n "$bmcli" mail unexpunge "$email" --folder "$folder" --id "$id" || exit
done
