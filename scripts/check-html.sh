#!/usr/bin/env bash
# Checks an exported HTML report: the W3C Nu HTML checker must report no errors, and a headless
# Chromium screenshot of it is written to <out.png>.
#
#   scripts/check-html.sh <file.html> <out.png>
#   scripts/check-html.sh --vnu <file.html>...     (the checker only, on several files at once)
#
# Tools: Java + the `vnu-jar` npm package (set VNU_JAR=/path/to/vnu.jar, or have
# `node_modules/vnu-jar` in this repository or the current directory), and Chromium
# (`chromium`, `chromium-browser` or `google-chrome`; or set CHROMIUM=/path).
# Exit codes: 0 ok, 1 the page has errors or the screenshot failed, 2 usage,
# 77 a tool is missing (the conventional "skipped" code; the reason is printed).
set -euo pipefail

vnu_only=
if [ "${1:-}" = "--vnu" ]; then
  vnu_only=1
  shift
  [ $# -ge 1 ] || { echo "usage: $0 --vnu <file.html>..." >&2; exit 2; }
elif [ $# -ne 2 ]; then
  echo "usage: $0 <file.html> <out.png>" >&2
  exit 2
else
  html=$(realpath "$1")
  png=$2
fi
here=$(cd "$(dirname "$0")/.." && pwd)

skip() { echo "SKIP: $*" >&2; exit 77; }

command -v java >/dev/null 2>&1 || skip "java is not installed (apt-get install -y default-jre-headless)"
jar=${VNU_JAR:-}
if [ -z "$jar" ]; then
  for dir in "$here" "$PWD"; do
    if [ -f "$dir/node_modules/vnu-jar/build/dist/vnu.jar" ]; then
      jar="$dir/node_modules/vnu-jar/build/dist/vnu.jar"
      break
    fi
  done
fi
if [ -z "$jar" ] && command -v node >/dev/null 2>&1; then
  jar=$(node -e 'try { console.log(require("vnu-jar")) } catch (e) {}' 2>/dev/null || true)
fi
[ -n "$jar" ] && [ -f "$jar" ] || skip "vnu.jar not found (npm install vnu-jar, or set VNU_JAR)"

if [ -n "$vnu_only" ]; then
  echo "== Nu HTML checker ($jar) on $# file(s)"
  java -jar "$jar" --errors-only --format text "$@"
  echo "no errors"
  exit 0
fi

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
  done
fi
[ -n "$browser" ] || skip "chromium is not installed (apt-get install -y chromium)"

echo "== Nu HTML checker ($jar)"
java -jar "$jar" --errors-only --format text "$html"
echo "no errors"

echo "== screenshot ($browser)"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$png"
# No network is needed: the page embeds everything; the flags keep Chromium from phoning home.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
  --screenshot="$png" --window-size=1280,2000 "file://$html" >/dev/null 2>&1 || true
if [ ! -s "$png" ]; then
  echo "screenshot failed: $png was not written" >&2
  exit 1
fi
echo "wrote $png ($(wc -c <"$png") bytes)"
