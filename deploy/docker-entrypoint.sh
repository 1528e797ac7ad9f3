#!/bin/sh
# Runs helix-sync as the unprivileged `helix` user. A platform volume (Fly mounts /data owned
# by root; a fresh Docker volume may be too) is handed to that user first: the folders of
# DATABASE_URL (SQLite) and EXPORT_PATH, created when missing. That is the only thing done
# as root. Every argument goes to helix-sync: `serve` (the default), `maintenance`, `restore`…
set -eu

# A folder the service writes to: created, and handed to helix.
own() {
  case "$1" in ""|.|/) return 0 ;; esac
  mkdir -p "$1" && chown -R helix:helix "$1"
}

if [ "$(id -u)" = "0" ]; then
  own "${EXPORT_PATH:-}"
  case "${DATABASE_URL:-}" in
    sqlite://*)
      db="${DATABASE_URL#sqlite://}"
      own "$(dirname "${db%%\?*}")"
      ;;
  esac
  exec setpriv --reuid=helix --regid=helix --init-groups helix-sync "$@"
fi
exec helix-sync "$@"
