#!/bin/bash
# Inbound benchmark: bench/inbound.sh [REQUESTS] [CONCURRENCY] [RATE] [mixed]
# RATE 0 sends as fast as the concurrency allows; "mixed" makes every other webhook a Delbank one.
source "$(dirname "$0")/common.sh"
REQUESTS=${1:-20000} CONCURRENCY=${2:-64} RATE=${3:-0} MIX=${4:-}
CEILING=$(pgbench_ceiling)
start_gateway
DELBANK=()
[ "$MIX" = mixed ] && DELBANK=("http://127.0.0.1:$PORT/webhooks/delbank/bench-pix" bench-token-0123456789)
out=$(mktemp)
./target/release/examples/inbound_bench "http://127.0.0.1:$PORT/webhooks/dinie" "$SECRET" \
  "$REQUESTS" "$CONCURRENCY" "$RATE" "${DELBANK[@]}" | tee "$out"
stop_gateway
print_ratio "accepted per second" "$out" "$CEILING"
rm -f "$out"
