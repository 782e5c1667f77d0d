#!/usr/bin/env bash
# Size, cold start, idle resident memory and idle CPU of the release binary, serving with the
# example config and the console off. Build it first: cargo build --release --bin sevbot
# (BIN=path measures another build).
set -euo pipefail
# Waits (5 s at most) for the start-up line in $1.
started() {
  for _ in $(seq 1000); do grep -q "sevbot started" "$1" 2>/dev/null && return; sleep 0.005; done
  echo "sevbot did not start:"; cat "$1"; exit 1
}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin="${BIN:-$repo/target/release/sevbot}"
ls -l "$bin" | awk '{printf "size: %d bytes (%.1f MiB)\n", $5, $5/1048576}'
d=$(mktemp -d)
# Starts the binary serving on database $d/s.db, logging to $1; prints ms to "sevbot started".
start() {
  local t0 t1
  t0=$(date +%s%N)
  DATABASE_URL=sqlite://$d/s.db SEVBOT_HTTP_ADDR=127.0.0.1:0 RUST_LOG=sevbot=info \
    "$bin" --config "$repo/config/sevbot.toml" run --console off 2> "$1" &
  pid=$!
  started "$1"
  t1=$(date +%s%N)
  elapsed=$(( (t1 - t0) / 1000000 ))
}
start "$d/log"
echo "cold start to 'sevbot started' (fresh database, migrations included): $elapsed ms"
sleep 10
grep VmRSS /proc/$pid/status
t1=$(awk '{print $14+$15}' /proc/$pid/stat); sleep 10; t2=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "idle CPU over 10 s: $(( t2 - t1 )) ticks of 10 ms"
kill $pid
wait $pid 2>/dev/null || true
start "$d/log2"
echo "warm start (existing database): $elapsed ms"
kill $pid
wait $pid 2>/dev/null || true
rm -rf "$d"
