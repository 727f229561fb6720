#!/bin/bash
# Replicas benchmark: bench/replicas.sh [COUNTS] (default "1 3"). For each count N, N `paygate
# serve` processes on one database on this machine, the load generators spreading webhooks over
# them round-robin (as a load balancer would): inbound webhooks/s (REQUESTS, default 20000), then
# deliveries/s end to end to one subscription (EVENTS, default 10000). Each measurement starts from
# a fresh, migrated database; every replica gets 32/N pool connections, so the fleet has as many
# as one process.
source "$(dirname "$0")/common.sh"
COUNTS=${1:-"1 3"} REQUESTS=${REQUESTS:-20000} EVENTS=${EVENTS:-10000}

fresh_database() {
  psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_bench" -c "create database paygate_bench"
  ./target/release/paygate migrate >/dev/null
}

start_fleet() {
  local n=$1 i
  PIDS=() URLS=()
  for i in $(seq 0 $((n - 1))); do
    PAYGATE_SERVER__PORT=$((PORT + i)) PAYGATE_DATABASE__MIGRATE_ON_START=false \
      PAYGATE_DATABASE__MAX_CONNECTIONS=$((32 / n)) \
      "${BENCH_GATEWAY:-./target/release/paygate}" serve > "target/bench-serve-$i.log" 2>&1 &
    PIDS+=($!) URLS+=("http://127.0.0.1:$((PORT + i))")
  done
  for url in "${URLS[@]}"; do
    for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done
  done
}

stop_fleet() {
  local pid
  for pid in "${PIDS[@]}"; do grep VmHWM "/proc/$pid/status" | sed "s/^/replica $pid /"; kill "$pid"; done
  for pid in "${PIDS[@]}"; do wait "$pid" || true; done
}

joined() { local IFS=,; echo "$*"; }

for n in $COUNTS; do
  echo "== $n replica(s): inbound"
  fresh_database
  start_fleet "$n"
  hooks=()
  for url in "${URLS[@]}"; do hooks+=("$url/webhooks/dinie"); done
  ./target/release/examples/inbound_bench "$(joined "${hooks[@]}")" "$SECRET" "$REQUESTS" 64 0
  stop_fleet
  echo "== $n replica(s): end to end, one subscription"
  fresh_database
  KEY=$(./target/release/paygate keys create --name bench --scope admin | awk '/^key:/{print $2}')
  start_fleet "$n"
  ./target/release/examples/outbound_bench "$(joined "${URLS[@]}")" "$SECRET" "$KEY" "$EVENTS" 1 64 0
  stop_fleet
done
