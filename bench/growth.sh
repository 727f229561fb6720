#!/bin/bash
# Growth benchmark: bench/growth.sh [EVENTS] (default 10,000,000). The inbound and end-to-end
# benchmarks on an empty database, then the same on a database preloaded (bench/growth.sql:
# generate_series, not the API) with EVENTS events over 400 days, a delivery each and 1.1 attempts
# each, all in one invocation so that both sets come from the same machine state.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-10000000}
# The whole history is kept while measuring: with the default retention (deliveries 90 days,
# attempts 30) the gateway's first start would drop most of the preload. The last step applies
# the defaults.
export PAYGATE_RETENTION__EVENTS_DAYS=401 PAYGATE_RETENTION__DELIVERIES_DAYS=401 PAYGATE_RETENTION__ATTEMPTS_DAYS=401
echo "== empty database: inbound"; bench/inbound.sh
echo "== empty database: end to end, one subscription"; bench/outbound.sh
echo "== preloading $EVENTS events into paygate_growth"
psql -h 127.0.0.1 -U postgres -qc "drop database if exists paygate_growth" -c "create database paygate_growth"
DATABASE_URL=postgres://postgres@127.0.0.1/paygate_growth ./target/release/paygate migrate >/dev/null
started=$(date +%s)
psql -h 127.0.0.1 -U postgres -q -v events="$EVENTS" -v batch=1000000 -f bench/growth.sql paygate_growth
echo "preload took $(( $(date +%s) - started )) s"
echo "== $EVENTS events: inbound"; BENCH_DATABASE=paygate_growth bench/inbound.sh
echo "== $EVENTS events: end to end, one subscription"; BENCH_DATABASE=paygate_growth bench/outbound.sh
echo "== $EVENTS events: inbound, round 2"; BENCH_DATABASE=paygate_growth bench/inbound.sh
echo "== $EVENTS events: end to end, round 2"; BENCH_DATABASE=paygate_growth bench/outbound.sh
psql -h 127.0.0.1 -U postgres -d paygate_growth -Atc \
  "select 'partitions: ' || count(*) from pg_inherits where inhparent in ('event'::regclass, 'delivery'::regclass, 'delivery_attempt'::regclass)"
echo "== retention with the defaults (events 400 days, deliveries 90, attempts 30): paygate partitions maintain"
env -u PAYGATE_RETENTION__EVENTS_DAYS -u PAYGATE_RETENTION__DELIVERIES_DAYS -u PAYGATE_RETENTION__ATTEMPTS_DAYS \
  DATABASE_URL=postgres://postgres@127.0.0.1/paygate_growth PAYGATE_TELEMETRY__LOG_FILTER=warn \
  ./target/release/paygate partitions maintain | awk '/^dropped/ { n++; next } { print } END { print "dropped " n " partitions" }'
psql -h 127.0.0.1 -U postgres -d paygate_growth -Atc \
  "select 'after retention: ' || pg_size_pretty(pg_database_size(current_database())) || ', events ' || (select count(*) from event) || ', deliveries ' || (select count(*) from delivery) || ', attempts ' || (select count(*) from delivery_attempt)"
unset PAYGATE_RETENTION__EVENTS_DAYS PAYGATE_RETENTION__DELIVERIES_DAYS PAYGATE_RETENTION__ATTEMPTS_DAYS
echo "== $EVENTS events, default retention: inbound"; BENCH_DATABASE=paygate_growth bench/inbound.sh
echo "== $EVENTS events, default retention: end to end"; BENCH_DATABASE=paygate_growth bench/outbound.sh

