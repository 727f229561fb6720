#!/bin/bash
# Outbound benchmark: bench/outbound.sh [EVENTS] [SUBSCRIPTIONS] [CONCURRENCY] [RATE]
# CONCURRENCY: inbound webhooks in flight at once (default 64, as bench/inbound.sh); RATE paces
# them (webhooks per second, 0 for as fast as possible).
source "$(dirname "$0")/common.sh"
EVENTS=${1:-10000} SUBSCRIPTIONS=${2:-1} CONCURRENCY=${3:-64} RATE=${4:-0}
KEY=$("${BENCH_GATEWAY:-./target/release/paygate}" keys create --name bench --scope admin | awk '/^key:/{print $2}')
CEILING=$(pgbench_ceiling)
start_gateway
out=$(mktemp)
./target/release/examples/outbound_bench "http://127.0.0.1:$PORT" "$SECRET" "$KEY" "$EVENTS" "$SUBSCRIPTIONS" "$CONCURRENCY" "$RATE" | tee "$out"
stop_gateway
print_ratio "deliveries per second" "$out" "$CEILING"
rm -f "$out"
