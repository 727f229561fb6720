//! `paygate doctor`: what the gateway's guarantees and speed need from the Postgres it is pointed
//! at, checked against what that server says, each finding with what to change. `/readyz?verbose`
//! shows the same findings.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::config::Settings;
use crate::store::partitions::{self, Partitioned};
use crate::store::server::{self, ServerFacts};

/// How a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// As the gateway needs it.
    Ok,
    /// Works, at a cost the advice names.
    Warn,
    /// Breaks a guarantee (durability, capacity, time): change it.
    Fail,
}

/// One check and its outcome.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Finding {
    /// What was checked, e.g. `synchronous_commit`.
    pub check: &'static str,
    /// How it stands.
    pub level: Level,
    /// What the server has, e.g. `off`.
    pub found: String,
    /// What to change and why; empty when it is fine.
    pub advice: String,
}

impl Finding {
    fn new(check: &'static str, level: Level, found: impl Into<String>, advice: &str) -> Finding {
        Finding {
            check,
            level,
            found: found.into(),
            advice: match level {
                Level::Ok => String::new(),
                Level::Warn | Level::Fail => advice.to_owned(),
            },
        }
    }
}

/// Above this the clocks disagree enough to matter (replay windows, `since` filters, retry times
/// compare the gateway's clock with the database's).
const CLOCK_WARN_MS: i64 = 500;
const CLOCK_FAIL_MS: i64 = 5_000;

/// Reads the server's facts and judges them.
pub async fn examine(pool: &PgPool, settings: &Settings) -> sqlx::Result<Vec<Finding>> {
    let before = Utc::now();
    let facts = server::facts(pool).await?;
    let after = Utc::now();
    let midpoint = before + (after - before) / 2;
    let offset_ms = (facts.clock - midpoint).num_milliseconds();
    let mut findings = judge(&facts, offset_ms, settings.database.max_connections);
    // Partitions and keys are the schema's: a database not migrated yet has neither.
    if !crate::db::migrations_applied(pool).await? {
        findings.push(Finding::new(
            "schema",
            Level::Warn,
            "migrations not applied",
            "run `paygate migrate` (or start a gateway with database.migrate_on_start), then run \
             the doctor again for the partitions and the exactly-once key index",
        ));
        return Ok(findings);
    }
    let mut covered: Option<(Partitioned, DateTime<Utc>)> = None;
    for table in Partitioned::ALL {
        let until = partitions::list(pool, table)
            .await?
            .last()
            .map_or(DateTime::UNIX_EPOCH, |partition| partition.to);
        if covered.is_none_or(|(_, earliest)| until < earliest) {
            covered = Some((table, until));
        }
    }
    if let Some((table, until)) = covered {
        findings.push(judge_partitions(table, until, after));
    }
    let (shared_buffers, key_index) = server::key_cache(pool).await?;
    findings.push(judge_key_cache(shared_buffers, key_index));
    Ok(findings)
}

/// The key cache finding: whether `shared_buffers` can hold the current generation's index of
/// exactly-once keys (sizes in bytes).
pub fn judge_key_cache(shared_buffers: i64, key_index: i64) -> Finding {
    let mib = |bytes: i64| bytes / (1024 * 1024);
    Finding::new(
        "key_cache",
        if key_index <= shared_buffers {
            Level::Ok
        } else {
            Level::Warn
        },
        format!(
            "shared_buffers {} MB; exactly-once key index {} MB",
            mib(shared_buffers),
            mib(key_index)
        ),
        "raise shared_buffers above the key index (25% of RAM is the usual start): every new \
         event's key goes to a random page of that index, and a page not in Postgres's cache is \
         read and dirtied on every insert (BENCHMARKS.md, growth: inbound halves on 10 million \
         keys with 128 MB)",
    )
}

/// The partitions finding: how far ahead of `now` the weekly partitions of `table` (the table
/// covered least far) reach.
pub fn judge_partitions(table: Partitioned, until: DateTime<Utc>, now: DateTime<Utc>) -> Finding {
    let ahead = until - now;
    let level = if ahead < chrono::Duration::days(1) {
        Level::Fail
    } else if ahead < chrono::Duration::days(7) {
        Level::Warn
    } else {
        Level::Ok
    };
    Finding::new(
        "partitions",
        level,
        format!(
            "{} partitioned up to {} ({} days ahead)",
            table.table(),
            until.format("%Y-%m-%d %H:%M UTC"),
            ahead.num_days()
        ),
        "run a gateway (it creates the weeks ahead at start and every retention.check_interval_secs) \
         or `select ensure_weekly_partitions(t, now(), now() + interval '28 days') from \
         unnest('{event,delivery,delivery_attempt}'::regclass[]) t`: an event or delivery for a \
         week with no partition is refused",
    )
}

/// The findings for `facts`, a clock offset (database minus gateway) and the pool size of one
/// replica.
pub fn judge(facts: &ServerFacts, clock_offset_ms: i64, pool_size: u32) -> Vec<Finding> {
    let mut findings = Vec::new();
    let durable = !matches!(facts.synchronous_commit.as_str(), "off");
    findings.push(Finding::new(
        "synchronous_commit",
        if durable { Level::Ok } else { Level::Fail },
        &facts.synchronous_commit,
        "set synchronous_commit = on: with off, a webhook answered 2xx can be lost in a crash \
         (the gateway acknowledges only after its commit)",
    ));
    findings.push(Finding::new(
        "fsync",
        if facts.fsync == "on" {
            Level::Ok
        } else {
            Level::Fail
        },
        &facts.fsync,
        "set fsync = on: with off, a crash can corrupt the database and lose committed events",
    ));
    findings.push(Finding::new(
        "autovacuum",
        if facts.autovacuum == "on" {
            Level::Ok
        } else {
            Level::Warn
        },
        &facts.autovacuum,
        "set autovacuum = on (or run VACUUM on a schedule): deliveries, attempts and idempotency \
         records are updated and deleted all day, and without vacuum their dead rows pile up, \
         so the tables and their indexes bloat and claims, lookups and benchmarks get slower",
    ));
    let usable = facts.max_connections - facts.reserved_connections;
    let replicas = usable / i64::from(pool_size.max(1));
    let level = match replicas {
        0 => Level::Fail,
        1 | 2 => Level::Warn,
        _ => Level::Ok,
    };
    findings.push(Finding::new(
        "max_connections",
        level,
        format!(
            "{} ({usable} usable; room for {replicas} replica(s) of database.max_connections = {pool_size})",
            facts.max_connections
        ),
        "raise max_connections above replicas × database.max_connections plus headroom for \
         migrations and operators, or lower database.max_connections",
    ));
    let level = match facts.version_num {
        150_000.. => Level::Ok,
        140_000..150_000 => Level::Warn,
        _ => Level::Fail,
    };
    findings.push(Finding::new(
        "server_version",
        level,
        &facts.version,
        "use PostgreSQL 15 or later: the gateway is built and measured on 15, and retention \
         needs 14 at least (it detaches partitions concurrently)",
    ));
    let level = match clock_offset_ms.abs() {
        offset if offset > CLOCK_FAIL_MS => Level::Fail,
        offset if offset > CLOCK_WARN_MS => Level::Warn,
        _ => Level::Ok,
    };
    findings.push(Finding::new(
        "clock_offset",
        level,
        format!("{clock_offset_ms} ms"),
        "synchronise both clocks (NTP): time windows and retry times compare the gateway's clock \
         with the database's",
    ));
    findings
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::{Level, judge, judge_key_cache, judge_partitions};
    use crate::store::partitions::Partitioned;
    use crate::store::server::ServerFacts;

    fn healthy() -> ServerFacts {
        ServerFacts {
            synchronous_commit: "on".into(),
            fsync: "on".into(),
            autovacuum: "on".into(),
            max_connections: 100,
            reserved_connections: 3,
            version_num: 150_004,
            version: "15.4".into(),
            clock: Utc::now(),
        }
    }

    fn level_of(facts: &ServerFacts, offset: i64, pool: u32, check: &str) -> Level {
        judge(facts, offset, pool)
            .into_iter()
            .find(|finding| finding.check == check)
            .map(|finding| finding.level)
            .unwrap()
    }

    #[test]
    fn a_healthy_server_has_only_ok_findings_without_advice() {
        let findings = judge(&healthy(), 3, 10);
        assert_eq!(findings.len(), 6);
        assert!(
            findings
                .iter()
                .all(|f| f.level == Level::Ok && f.advice.is_empty())
        );
    }

    #[test]
    fn each_setting_that_breaks_a_guarantee_fails_and_a_costly_one_warns() {
        let mut facts = healthy();
        facts.synchronous_commit = "off".into();
        facts.fsync = "off".into();
        facts.autovacuum = "off".into();
        assert_eq!(level_of(&facts, 0, 10, "synchronous_commit"), Level::Fail);
        assert_eq!(level_of(&facts, 0, 10, "fsync"), Level::Fail);
        assert_eq!(level_of(&facts, 0, 10, "autovacuum"), Level::Warn);
        facts.synchronous_commit = "local".into();
        assert_eq!(level_of(&facts, 0, 10, "synchronous_commit"), Level::Ok);
    }

    #[test]
    fn connections_are_judged_by_how_many_replicas_fit() {
        let facts = healthy();
        assert_eq!(level_of(&facts, 0, 10, "max_connections"), Level::Ok);
        assert_eq!(level_of(&facts, 0, 40, "max_connections"), Level::Warn);
        assert_eq!(level_of(&facts, 0, 98, "max_connections"), Level::Fail);
    }

    #[test]
    fn old_servers_and_drifting_clocks_are_reported() {
        let mut facts = healthy();
        facts.version_num = 140_010;
        assert_eq!(level_of(&facts, 0, 10, "server_version"), Level::Warn);
        facts.version_num = 130_012;
        assert_eq!(level_of(&facts, 0, 10, "server_version"), Level::Fail);
        assert_eq!(level_of(&facts, -800, 10, "clock_offset"), Level::Warn);
        assert_eq!(level_of(&facts, 6_000, 10, "clock_offset"), Level::Fail);
    }

    #[test]
    fn partitions_that_end_within_a_week_warn_and_within_a_day_fail() {
        let now = Utc::now();
        let level = |days: i64| {
            judge_partitions(Partitioned::Events, now + chrono::Duration::days(days), now).level
        };
        assert_eq!(level(28), Level::Ok);
        assert_eq!(level(3), Level::Warn);
        assert_eq!(level(0), Level::Fail);
        assert_eq!(level(-30), Level::Fail);
        let finding = judge_partitions(Partitioned::Deliveries, now, now);
        assert!(finding.found.starts_with("delivery partitioned up to"));
        assert!(finding.advice.contains("ensure_weekly_partitions"));
    }

    #[test]
    fn a_key_index_larger_than_shared_buffers_warns() {
        let mib = 1024 * 1024;
        assert_eq!(judge_key_cache(128 * mib, 64 * mib).level, Level::Ok);
        let big = judge_key_cache(128 * mib, 816 * mib);
        assert_eq!(big.level, Level::Warn);
        assert_eq!(
            big.found,
            "shared_buffers 128 MB; exactly-once key index 816 MB"
        );
        assert!(big.advice.contains("shared_buffers"));
    }
}
