#!/usr/bin/env bash
# The same load on several builds of sevbot, one after another on this machine, to see what
# a build setting costs (e.g. the release profile's opt-level): size, cold start, idle
# memory, and wrk's closed-loop throughput and latency for signed Slack commands — `/sev
# help` (reads only) and `/sev SEV-1 timeline note …` (one durable write each).
#   benches/builds.sh target/release/sevbot /tmp/sevbot-opt3 …      (needs wrk, python3)
# WRK_SECONDS (default 10) and WRK_CONNECTIONS (default 16) change the load; BENCH_CONFIG
# the config file (default config/sevbot.toml; an older build may need the one of its day).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${WRK_SECONDS:-10}
conns=${WRK_CONNECTIONS:-16}
secret=bench-signing-secret
config=${BENCH_CONFIG:-$repo/config/sevbot.toml}
# A /sev command as Slack sends it (no trigger_id: never a redelivery), signed now; the
# signature stays valid for Slack's 5 minutes, longer than a run.
signed() {
  python3 - "$secret" "$1" <<'PY'
import hashlib, hmac, sys, time, urllib.parse
secret, text = sys.argv[1], sys.argv[2]
body = urllib.parse.urlencode({"team_id": "T0001", "team_domain": "example", "channel_id": "C_GENERAL",
    "channel_name": "general", "user_id": "U_BENCH", "user_name": "bench", "command": "/sev", "text": text,
    "api_app_id": "A0001", "response_url": "https://hooks.slack.com/commands/1/2"})
ts = str(int(time.time()))
sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
print(ts); print(sig); print(body)
PY
}
# A wrk script that POSTs the signed command in file $1.
script() {
  local ts sig body
  { read -r ts; read -r sig; read -r body; } < "$1"
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["X-Slack-Request-Timestamp"] = "$ts"
wrk.headers["X-Slack-Signature"] = "$sig"
wrk.body = "$body"
LUA
}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
for bin in "$@"; do
  d=$(mktemp -d)
  p=$(port)
  echo "== $bin: $(stat -c %s "$bin") bytes"
  t0=$(date +%s%N)
  DATABASE_URL=sqlite://$d/s.db SEVBOT_HTTP_ADDR=127.0.0.1:$p RUST_LOG=warn \
    SLACK_BOT_TOKEN=xoxb-bench SLACK_SIGNING_SECRET=$secret SLACK_API_URL=http://127.0.0.1:9/api \
    "$bin" --config "$config" run --console off > /dev/null 2> "$d/log" &
  pid=$!
  until curl -sf "http://127.0.0.1:$p/healthz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "$bin did not start:"; cat "$d/log"; exit 1; }
    sleep 0.005
  done
  echo "cold start to /healthz (fresh database): $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  sleep 5
  grep VmRSS /proc/$pid/status | awk '{printf "idle resident: %.1f MB\n", $2/1024}'
  signed "declare availability 2 Bench SEV" > "$d/declare"
  script "$d/declare" > "$d/declare.lua"
  { read -r ts; read -r sig; read -r body; } < "$d/declare"
  curl -sf -o /dev/null -H "X-Slack-Request-Timestamp: $ts" -H "X-Slack-Signature: $sig" \
    --data "$body" "http://127.0.0.1:$p/slack/commands"
  for cmd in "help" "SEV-1 timeline note bench note"; do
    signed "$cmd" > "$d/cmd"
    script "$d/cmd" > "$d/cmd.lua"
    echo "-- /sev $cmd"
    wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$d/cmd.lua" "http://127.0.0.1:$p/slack/commands" \
      | grep -E "Requests/sec|^ +(50|99)%|Non-2xx"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$d"
done
