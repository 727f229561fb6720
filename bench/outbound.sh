#!/bin/bash
# Outbound benchmark: bench/outbound.sh [EVENTS] [SUBSCRIPTIONS]
source "$(dirname "$0")/common.sh"
EVENTS=${1:-10000} SUBSCRIPTIONS=${2:-1}
KEY=$(./target/release/paygate keys create --name bench --scope admin | awk '/^key:/{print $2}')
start_gateway
./target/release/examples/outbound_bench "http://127.0.0.1:$PORT" "$SECRET" "$KEY" "$EVENTS" "$SUBSCRIPTIONS"
stop_gateway
