#!/bin/bash
# Console pages on a database holding history: bench/console.sh [EVENTS] [ITEMS] (defaults 100,000
# events with their deliveries and attempts, bench/growth.sql, and 20,000 reconciliation items over
# 400 days plus a week of intake counts, bench/console.sql). Signs in with a fresh admin key, then
# times each page ROUNDS times (default 50) one after another and prints p50, p95 and max in ms.
set -euo pipefail
EVENTS=${1:-100000}
ITEMS=${2:-20000}
ROUNDS=${ROUNDS:-50}
cd "$(dirname "$0")/.."
psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_console" -c "create database paygate_console"
cargo build --release --locked -q -p gateway --bin paygate
DATABASE_URL=postgres://postgres@127.0.0.1/paygate_console ./target/release/paygate migrate >/dev/null
psql -h 127.0.0.1 -U postgres -q -v events="$EVENTS" -v batch=1000000 -f bench/growth.sql paygate_console
psql -h 127.0.0.1 -U postgres -q -v items="$ITEMS" -f bench/console.sql paygate_console
export BENCH_DATABASE=paygate_console
source bench/common.sh
start_gateway
base="http://127.0.0.1:$PORT"
key=$(DATABASE_URL=postgres://postgres@127.0.0.1/paygate_console ./target/release/paygate keys create \
  --name console-bench --scope admin | grep -o 'pgk_[A-Za-z0-9_-]*' | head -1)
jar=$(mktemp)
csrf=$(curl -sf -c "$jar" "$base/console/login" | grep -o 'name="csrf" value="[0-9a-f]*"' | head -1 | cut -d'"' -f4)
curl -sf -b "$jar" -c "$jar" -o /dev/null --data-urlencode "api_key=$key" --data "csrf=$csrf" "$base/console/login"
q() { psql -h 127.0.0.1 -U postgres -d paygate_console -Atc "$1"; }
event="evt_$(q "select replace(event_id::text, '-', '') from event order by event_id desc offset 5000 limit 1")"
middle="evt_$(q "select replace(event_id::text, '-', '') from event order by event_id desc offset $((EVENTS / 2)) limit 1")"
resource=$(q "select resource_id from event order by event_id desc limit 1")
sub="sub_$(q "select replace(subscription_id::text, '-', '') from subscription limit 1")"
pages=(
  "/console/events"
  "/console/events?type=pix.*"
  "/console/events?resource_id=$resource"
  "/console/events?starting_after=$middle"
  "/console/events/$event"
  "/console/subscriptions"
  "/console/subscriptions/$sub"
  "/console/subscriptions/$sub?status=succeeded&starting_after=dlv_$(q "select replace(delivery_id::text, '-', '') from delivery order by delivery_id offset $((EVENTS / 2)) limit 1")"
  "/console/reconciliation"
  "/console/reconciliation?from="
  "/console/reconciliation?status=amount_mismatch&from="
  "/console/intake?hours=168"
)
printf '%-70s %8s %8s %8s\n' page p50_ms p95_ms max_ms
for page in "${pages[@]}"; do
  status=$(curl -s -b "$jar" -o /dev/null -w '%{http_code}' "$base$page")
  [ "$status" = 200 ] || { echo "$page answered $status" >&2; exit 1; }
  for _ in $(seq "$ROUNDS"); do
    curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$page"
  done | sort -n | awk -v page="$page" '{ t[NR] = $1 * 1000 } END {
    printf "%-70s %8.1f %8.1f %8.1f\n", substr(page, 1, 70), t[int(NR * 0.5)], t[int(NR * 0.95)], t[NR] }'
done
stop_gateway
rm -f "$jar"
