# Shared by the benchmark scripts: a fresh database, release binaries, and `paygate serve` configured
# for the load generators (Dinie's inbound side with the generator's secret; loopback partners).
# BENCH_GATEWAY=path runs another build of the gateway (an A/B comparison on the same machine state).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-18181}
SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
cargo build --release --locked -q -p gateway --bin paygate --example inbound_bench --example outbound_bench
# Every run starts from an empty database: a table bloated by earlier runs measures the bloat.
# BENCH_DATABASE names another database to run on as it is (bench/growth.sh: a preloaded one); it
# is vacuumed first, as autovacuum would keep it, since this machine's Postgres runs without.
# A subscription an earlier run left active points at a receiver that is gone: every webhook of
# this run would also fan out to it and fail, so it is disabled and its backlog marked dead first.
if [ -n "${BENCH_DATABASE:-}" ]; then
  psql -h 127.0.0.1 -U postgres -d "$BENCH_DATABASE" -q \
    -c "update subscription set status = 'disabled', disabled_reason = 'left by an earlier benchmark run' where status = 'active'" \
    -c "update delivery set status = 'dead', locked_until = null where status in ('pending', 'delivering')" \
    -c "vacuum analyze"
else
  psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_bench" -c "create database paygate_bench"
fi
export PAYGATE_SERVER__PORT=$PORT PAYGATE_DATABASE__LOCAL_DATABASE=${BENCH_DATABASE:-paygate_bench} PAYGATE_DATABASE__MAX_CONNECTIONS=32 \
  PAYGATE_TELEMETRY__LOG_FILTER=warn PAYGATE_PROVIDERS__DINIE__ENABLED=true \
  PAYGATE_PROVIDERS__DINIE__BASE_URL=http://127.0.0.1:1/v3 PAYGATE_PROVIDERS__DINIE__CLIENT_ID=bench \
  PAYGATE_PROVIDERS__DINIE__CLIENT_SECRET=bench PAYGATE_PROVIDERS__DINIE__WEBHOOK_SECRETS="[\"$SECRET\"]" \
  PAYGATE_PROVIDERS__DELBANK__ENABLED=true PAYGATE_PROVIDERS__DELBANK__BASE_URL=http://127.0.0.1:1 \
  PAYGATE_PROVIDERS__DELBANK__API_KEY=bench PAYGATE_PROVIDERS__DELBANK__ACCOUNT_ID=bench \
  PAYGATE_PROVIDERS__DELBANK__WEBHOOKS='[{path="bench-pix",event_type="PIX_RECEIVED",scheme="BEARER",credential="bench-token-0123456789"}]' \
  PAYGATE_DELIVERY__ALLOW_PRIVATE_NETWORKS='["127.0.0.0/8"]' PAYGATE_DELIVERY__MAX_CONCURRENCY_PER_SUBSCRIPTION=32 \
  PAYGATE_DELIVERY__BATCH_SIZE=64 PAYGATE_DELIVERY__POLL_INTERVAL_MS=20

# user+system clock ticks of the gateway and of all postgres processes.
ticks() {
  local gateway postgres=0 pid t
  gateway=$(awk '{print $14+$15}' "/proc/$1/stat")
  for pid in $(pgrep -x postgres); do
    t=$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    postgres=$((postgres + t))
  done
  echo "$gateway $postgres"
}

start_gateway() {
  # Dirty pages of an earlier step (a preload, a vacuum, the pgbench reference) are flushed now,
  # not by a checkpoint in the middle of the run (the `postgres` CPU seconds include the
  # checkpointer's).
  psql -h 127.0.0.1 -U postgres -qc "checkpoint"
  "${BENCH_GATEWAY:-./target/release/paygate}" serve > target/bench-serve.log 2>&1 &
  GATEWAY=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  BEFORE=$(ticks "$GATEWAY")
}

stop_gateway() {
  local after
  after=$(ticks "$GATEWAY")
  read -r g0 p0 <<< "$BEFORE"
  read -r g1 p1 <<< "$after"
  printf 'cpu seconds: gateway %d.%02d, postgres %d.%02d\n' $(( (g1 - g0) / 100 )) $(( (g1 - g0) % 100 )) \
    $(( (p1 - p0) / 100 )) $(( (p1 - p0) % 100 ))
  grep VmHWM "/proc/$GATEWAY/status"
  kill "$GATEWAY"
  wait "$GATEWAY" || true
}

# Postgres's own ceiling in this run, the yardstick of the speed targets (this machine's speed
# varies by up to 40% from hour to hour, so targets are ratios to it): pgbench's transactions per
# second of one webhook's durable writes as one transaction (bench/inbound.sql), 64 clients,
# PGBENCH_SECONDS (default 10), on a scratch database with the gateway's schema as it was before
# partitioning (migrations up to YARDSTICK_SCHEMA). The yardstick stays one fixed workload, so that
# it measures the machine: a heavier write set of the gateway's own (the partitioned one adds the
# exactly-once key's row, bench/inbound_partitioned.sql) lowers the gateway's figure, not the bar.
YARDSTICK_SCHEMA=20261203000018
pgbench_ceiling() {
  local migration
  psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_pgbench" -c "create database paygate_pgbench"
  for migration in migrations/2*.sql; do
    if [ "$(basename "$migration" | cut -d_ -f1)" -le "$YARDSTICK_SCHEMA" ]; then
      psql -h 127.0.0.1 -U postgres -d paygate_pgbench -q -v ON_ERROR_STOP=1 -1 -f "$migration" >/dev/null
    fi
  done
  pgbench -h 127.0.0.1 -U postgres -n -c 64 -j 2 -T "${PGBENCH_SECONDS:-10}" -f bench/inbound.sql paygate_pgbench 2>/dev/null \
    | awk '/^tps/ { print int($3) }'
  psql -h 127.0.0.1 -U postgres -qc "drop database paygate_pgbench"
}

# Prints MEASURED per second (the first number after LABEL in FILE) as a ratio to CEILING.
print_ratio() {
  local label=$1 file=$2 ceiling=$3 measured
  measured=$(grep -o "$label: [0-9.]*" "$file" | head -1 | awk '{ print $NF }')
  awk -v m="$measured" -v c="$ceiling" -v l="$label" \
    'BEGIN { printf "pgbench single-webhook ceiling in this run: %d/s; %s %d/s = %.2f× that ceiling\n", c, l, m, m / c }'
}
