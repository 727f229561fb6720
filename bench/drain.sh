#!/bin/bash
# Backlog drain: bench/drain.sh [EVENTS] [SUBSCRIPTIONS] [RATE] (defaults 100,000 events × 10
# subscriptions = 1,000,000 pending deliveries, each subscription limited to RATE deliveries per
# second, default 400). The backlog is preloaded with SQL (bench/drain.sql) while the gateway is
# down, as after a partner outage; then the gateway starts and drains it into a receiver that
# counts per subscription and second, while the gateway's RSS is sampled every 100 ms.
# ORDER=blocks enqueues each subscription's backlog as one block (the head-of-line case).
set -euo pipefail
EVENTS=${1:-100000} SUBSCRIPTIONS=${2:-10} RATE=${3:-400}
RECEIVER_PORT=${RECEIVER_PORT:-18190}
cd "$(dirname "$0")/.."
psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_drain" -c "create database paygate_drain"
export BENCH_DATABASE=paygate_drain
cargo build --release --locked -q -p gateway --bin paygate --example drain_bench
DATABASE_URL=postgres://postgres@127.0.0.1/paygate_drain ./target/release/paygate migrate >/dev/null
source bench/common.sh
KEY=$(./target/release/paygate keys create --name drain --scope admin | awk '/^key:/{print $2}')
start_gateway
./target/release/examples/drain_bench setup "http://127.0.0.1:$PORT" "$KEY" "$RECEIVER_PORT" "$SUBSCRIPTIONS" "$RATE"
kill "$GATEWAY"; wait "$GATEWAY" || true
echo "== preloading $EVENTS events × $SUBSCRIPTIONS subscriptions"
started=$(date +%s)
ORDER_BY='e.event_id, s.subscription_id'
[ "${ORDER:-}" = blocks ] && ORDER_BY='s.subscription_id, e.event_id'
psql -h 127.0.0.1 -U postgres -q -v events="$EVENTS" -v order_by="$ORDER_BY" -f bench/drain.sql paygate_drain
echo "preload took $(( $(date +%s) - started )) s"
expected=$((EVENTS * SUBSCRIPTIONS))
pidfile=$(mktemp -u)
./target/release/examples/drain_bench receive "$RECEIVER_PORT" "$expected" "$pidfile" "$RATE" &
receiver=$!
sleep 0.5
start_gateway
echo "$GATEWAY" > "$pidfile"
wait "$receiver"
stop_gateway
rm -f "$pidfile"
