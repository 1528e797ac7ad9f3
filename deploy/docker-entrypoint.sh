#!/bin/sh
# Runs helix-sync as the unprivileged `helix` user. A platform volume (Fly mounts /data
# owned by root) is handed to that user first; that is the only thing done as root.
set -eu
if [ "$(id -u)" = "0" ]; then
  db_path="${DATABASE_URL#sqlite://}"
  for dir in /app/data /app/exports /data "${EXPORT_PATH:-}" "$(dirname "$db_path")"; do
    case "$dir" in ""|.|/) continue ;; esac
    if [ -d "$dir" ] || [ "${dir#/data}" != "$dir" ]; then
      mkdir -p "$dir" && chown -R helix:helix "$dir"
    fi
  done
  exec setpriv --reuid=helix --regid=helix --init-groups helix-sync "$@"
fi
exec helix-sync "$@"
