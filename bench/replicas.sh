#!/bin/bash
# Replicas benchmark: bench/replicas.sh [COUNTS] (default "1 3"). For each count N, N `paygate
# serve` processes on one database on this machine, the load generators spreading webhooks over
# them round-robin (as a load balancer would): inbound webhooks/s (REQUESTS, default 20000), then
# deliveries/s end to end to one subscription (EVENTS, default 10000). Each measurement starts from
# a fresh, migrated database; every replica gets 32/N pool connections, so the fleet has as many
# as one process. KILL=1 (with more than one replica): one second into each run, the second replica
# is killed with SIGKILL and restarted; the generators send what it did not acknowledge to another
# replica, as a provider retries.
source "$(dirname "$0")/common.sh"
COUNTS=${1:-"1 3"} REQUESTS=${REQUESTS:-20000} EVENTS=${EVENTS:-10000} KILL=${KILL:-}
# A killed replica's claimed deliveries are redone once their claim expires: with KILL, claims last
# 10 s (CLAIM_TIMEOUT) rather than 60, so the run's tail shows the takeover, not the default wait.
if [ -n "$KILL" ]; then export PAYGATE_DELIVERY__CLAIM_TIMEOUT_SECS=${CLAIM_TIMEOUT:-10}; fi

fresh_database() {
  psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_bench" -c "create database paygate_bench"
  ./target/release/paygate migrate >/dev/null
}

start_replica() {
  local n=$1 i=$2
  PAYGATE_SERVER__PORT=$((PORT + i)) PAYGATE_DATABASE__MIGRATE_ON_START=false \
    PAYGATE_DATABASE__MAX_CONNECTIONS=$((32 / n)) \
    "${BENCH_GATEWAY:-./target/release/paygate}" serve >> "target/bench-serve-$i.log" 2>&1 &
  PIDS[$i]=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((PORT + i))/healthz" >/dev/null && break; sleep 0.1; done
}

start_fleet() {
  local n=$1 i
  PIDS=() URLS=()
  for i in $(seq 0 $((n - 1))); do
    start_replica "$n" "$i"
    URLS+=("http://127.0.0.1:$((PORT + i))")
  done
}

# In the background: one second in, SIGKILL the second replica, restart it on its port.
chaos() {
  local n=$1
  [ -n "$KILL" ] && [ "$n" -gt 1 ] || return 0
  sleep 1
  kill -9 "${PIDS[1]}"
  echo "killed replica ${PIDS[1]} with SIGKILL"
  start_replica "$n" 1
  echo "restarted it as ${PIDS[1]}"
  echo "${PIDS[1]}" > target/bench-chaos.pid
}

# Runs the chaos in the background while "$@" runs; the restarted replica's pid comes back.
with_chaos() {
  local n=$1 chaos
  shift
  rm -f target/bench-chaos.pid
  chaos "$n" > target/bench-chaos.log &
  chaos=$!
  "$@"
  wait "$chaos"
  cat target/bench-chaos.log
  if [ -s target/bench-chaos.pid ]; then PIDS[1]=$(cat target/bench-chaos.pid); fi
}

stop_fleet() {
  local pid
  for pid in "${PIDS[@]}"; do grep VmHWM "/proc/$pid/status" | sed "s/^/replica $pid /"; kill "$pid"; done
  # A restarted replica is not this shell's child: wait for it to be gone, not for its status.
  for pid in "${PIDS[@]}"; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done
}

joined() { local IFS=,; echo "$*"; }

for n in $COUNTS; do
  echo "== $n replica(s): inbound"
  fresh_database
  start_fleet "$n"
  hooks=()
  for url in "${URLS[@]}"; do hooks+=("$url/webhooks/dinie"); done
  with_chaos "$n" ./target/release/examples/inbound_bench "$(joined "${hooks[@]}")" "$SECRET" "$REQUESTS" 64 0
  stop_fleet
  echo "== $n replica(s): end to end, one subscription"
  fresh_database
  KEY=$(./target/release/paygate keys create --name bench --scope admin | awk '/^key:/{print $2}')
  start_fleet "$n"
  with_chaos "$n" ./target/release/examples/outbound_bench "$(joined "${URLS[@]}")" "$SECRET" "$KEY" "$EVENTS" 1 64 0
  stop_fleet
done
