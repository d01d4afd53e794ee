//! The aggregate's upkeep and checks: the exact closed-time SQL shared with the full
//! scan, the daily compaction of past deadline rows, the recomputation from `defects`,
//! and the drift check and rebuild (`reports-check`, `bench drift`).
#[allow(clippy::wildcard_imports)]
use super::*;

/// Microseconds from `created_at` to `closed_at` of one `defects` row, exactly, in SQL.
/// PostgreSQL's EXTRACT of an interval is numeric; SQLite keeps RFC 3339 text
/// (`…T12:00:00.123456+00:00`, 0, 3 or 6 fraction digits) and its date functions stop at
/// milliseconds, so the fraction is read as digits. The one place that knows both.
pub fn closed_micros_sql(backend: DbBackend) -> String {
    match backend {
        DbBackend::Postgres => {
            "CAST(EXTRACT(EPOCH FROM (defects.closed_at - defects.created_at)) * 1000000 AS BIGINT)"
                .to_owned()
        }
        _ => {
            let us = |c: &str| {
                format!(
                    "(CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000 + \
                     CASE WHEN substr({c}, 20, 1) = '.' THEN CAST(substr(substr({c}, 21, \
                     instr(substr({c}, 21), '+') - 1) || '000000', 1, 6) AS INTEGER) ELSE 0 END)"
                )
            };
            format!(
                "({} - {})",
                us("defects.closed_at"),
                us("defects.created_at")
            )
        }
    }
}

/// The aggregate's `SELECT`s computed from scratch over `defects` (the migration's
/// backfill is the same statements): every open defect with a deadline in
/// `report_deadlines`, whatever the date; [`compact`] moves the past ones to `late`.
fn recompute_sql(backend: DbBackend) -> (String, String) {
    let counts = format!(
        "SELECT project_id, performer_id, status, priority, COUNT(*) AS n, CAST(0 AS BIGINT) AS late, \
                CAST(COALESCE(SUM(us / 1000000), 0) AS BIGINT) AS closed_secs, \
                CAST(COALESCE(SUM(us % 1000000), 0) AS BIGINT) AS closed_micros \
         FROM (SELECT project_id, COALESCE(performer_id, 0) AS performer_id, status, priority, \
                      CASE WHEN status = 3 AND closed_at IS NOT NULL THEN {} END AS us \
               FROM defects WHERE deleted_at IS NULL) AS live \
         GROUP BY project_id, performer_id, status, priority",
        closed_micros_sql(backend)
    );
    let deadlines = "SELECT deadline, project_id, COALESCE(performer_id, 0) AS performer_id, status, priority, COUNT(*) AS n \
         FROM defects WHERE deleted_at IS NULL AND deadline IS NOT NULL AND status IN (0, 1, 2) \
         GROUP BY deadline, project_id, COALESCE(performer_id, 0), status, priority"
        .to_owned();
    (counts, deadlines)
}

/// Folds the `report_deadlines` rows before the earliest today of any zone at `now`
/// into `late` (past in every zone, whatever a project's zone is or becomes). Exact at
/// any moment (reports count those rows either way); keeps the rows a report reads
/// bounded by the groups. Returns how many rows it folded.
pub async fn compact(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<u64> {
    let today = site_time::earliest_today(now);
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let param = if backend == DbBackend::Postgres {
        // Writers touch report_deadlines first; holding it first keeps the lock order.
        txn.execute_unprepared("LOCK TABLE report_deadlines IN SHARE ROW EXCLUSIVE MODE")
            .await?;
        "$1"
    } else {
        "?"
    };
    // A write first (on SQLite it takes the write lock before anything is read), in the
    // keys' order (the writers' lock order on PostgreSQL).
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        format!(
            "INSERT INTO report_counts (project_id, performer_id, status, priority, n, late, closed_secs, closed_micros) \
             SELECT project_id, performer_id, status, priority, 0, SUM(n), 0, 0 FROM report_deadlines \
             WHERE deadline < {param} GROUP BY project_id, performer_id, status, priority \
             ORDER BY project_id, performer_id, status, priority \
             ON CONFLICT (project_id, performer_id, status, priority) \
             DO UPDATE SET late = report_counts.late + excluded.late"
        ),
        [today.into()],
    ))
    .await?;
    let folded = deadlines::Entity::delete_many()
        .filter(deadlines::Column::Deadline.lt(today))
        .exec(&txn)
        .await?
        .rows_affected;
    // Future rows whose defects all moved on (a deadline changed back and forth) hold
    // nothing; without this they would stay until their day, which a far-future
    // deadline never reaches.
    deadlines::Entity::delete_many()
        .filter(deadlines::Column::N.eq(0))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(folded)
}

/// The aggregate as reports see it on `today` (the earliest today of any zone): `late`
/// with the deadline rows before it added,
/// the closing time as total microseconds, future deadline rows as they are; zeros left out.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Effective {
    pub counts: BTreeMap<Key, (i64, i64, i128)>,
    pub deadlines: BTreeMap<(NaiveDate, Key), i64>,
}

impl Effective {
    pub(super) fn of(t: Tallies, today: NaiveDate) -> Self {
        let mut e = Effective::default();
        for (k, v) in t.counts {
            let us = i128::from(v.closed_secs) * 1_000_000 + i128::from(v.closed_micros);
            e.counts.insert(k, (v.n, v.late, us));
        }
        for ((day, k), n) in t.deadlines {
            if day < today {
                e.counts.entry(k).or_default().1 += n;
            } else {
                *e.deadlines.entry((day, k)).or_default() += n;
            }
        }
        e.counts.retain(|_, v| *v != (0, 0, 0));
        e.deadlines.retain(|_, n| *n != 0);
        e
    }
}

/// The tables as they are, in the shape of [`recompute_sql`]'s answer.
const MAINTAINED_SQL: (&str, &str) = (
    "SELECT project_id, performer_id, status, priority, n, late, closed_secs, closed_micros \
     FROM report_counts",
    "SELECT deadline, project_id, performer_id, status, priority, n FROM report_deadlines",
);

async fn load_maintained(db: &impl ConnectionTrait) -> AppResult<Tallies> {
    load(db, MAINTAINED_SQL.0, MAINTAINED_SQL.1).await
}

async fn load_fresh(db: &impl ConnectionTrait) -> AppResult<Tallies> {
    let (counts_sql, deadlines_sql) = recompute_sql(db.get_database_backend());
    load(db, &counts_sql, &deadlines_sql).await
}

/// Reads count rows (key, n, late, closed_secs, closed_micros) and deadline rows
/// (deadline, key, n) into tallies.
async fn load(
    db: &impl ConnectionTrait,
    counts_sql: &str,
    deadlines_sql: &str,
) -> AppResult<Tallies> {
    let backend = db.get_database_backend();
    let key = |r: &sea_orm::QueryResult| -> Result<Key, sea_orm::DbErr> {
        Ok(Key {
            project_id: r.try_get("", "project_id")?,
            performer_id: r.try_get("", "performer_id")?,
            status: r.try_get("", "status")?,
            priority: r.try_get("", "priority")?,
        })
    };
    let mut t = Tallies::default();
    for r in db
        .query_all_raw(sea_orm::Statement::from_string(backend, counts_sql))
        .await?
    {
        t.counts.insert(
            key(&r)?,
            Tally {
                n: r.try_get("", "n")?,
                late: r.try_get("", "late")?,
                closed_secs: r.try_get("", "closed_secs")?,
                closed_micros: r.try_get("", "closed_micros")?,
            },
        );
    }
    for r in db
        .query_all_raw(sea_orm::Statement::from_string(backend, deadlines_sql))
        .await?
    {
        t.deadlines
            .insert((r.try_get("", "deadline")?, key(&r)?), r.try_get("", "n")?);
    }
    Ok(t)
}

/// One difference between the maintained aggregate and a recomputation.
#[derive(Debug, PartialEq, Eq)]
pub struct Drift {
    pub what: String,
    pub maintained: String,
    pub fresh: String,
}

/// Recomputes the aggregate from `defects` (one consistent snapshot on PostgreSQL) and
/// lists every bucket where the maintained one differs, as reports would see it at `now`
/// (deadline rows before the earliest today of any zone folded, the others compared
/// row by row).
pub async fn drift(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<Vec<Drift>> {
    let today = site_time::earliest_today(now);
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
    }
    let maintained = Effective::of(load_maintained(&txn).await?, today);
    let fresh = Effective::of(load_fresh(&txn).await?, today);
    txn.commit().await?;
    let mut out = Vec::new();
    let show = |v: Option<&(i64, i64, i128)>| {
        v.map_or("none".to_owned(), |(n, late, us)| {
            format!("n={n} overdue={late} closed_us={us}")
        })
    };
    let keys: std::collections::BTreeSet<_> = maintained
        .counts
        .keys()
        .chain(fresh.counts.keys())
        .collect();
    for k in keys {
        let (m, f) = (maintained.counts.get(k), fresh.counts.get(k));
        if m != f {
            out.push(Drift {
                what: format!("counts {k:?}"),
                maintained: show(m),
                fresh: show(f),
            });
        }
    }
    let keys: std::collections::BTreeSet<_> = maintained
        .deadlines
        .keys()
        .chain(fresh.deadlines.keys())
        .collect();
    for k in keys {
        let (m, f) = (maintained.deadlines.get(k), fresh.deadlines.get(k));
        if m != f {
            out.push(Drift {
                what: format!("deadline {} {:?}", k.0, k.1),
                maintained: format!("{m:?}"),
                fresh: format!("{f:?}"),
            });
        }
    }
    Ok(out)
}

/// Replaces the aggregate with a recomputation from `defects` (after a bulk load, or to
/// repair drift), then compacts. On PostgreSQL the tables are locked against writers for
/// the duration, so a change committed meanwhile is either in the recomputation or
/// applied on top of it.
pub async fn rebuild(db: &DatabaseConnection) -> AppResult<()> {
    let backend = db.get_database_backend();
    let (counts_sql, deadlines_sql) = recompute_sql(backend);
    let txn = db.begin().await?;
    if backend == DbBackend::Postgres {
        txn.execute_unprepared("LOCK TABLE report_deadlines, report_counts IN EXCLUSIVE MODE")
            .await?;
    }
    txn.execute_unprepared("DELETE FROM report_deadlines")
        .await?;
    txn.execute_unprepared("DELETE FROM report_counts").await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO report_counts (project_id, performer_id, status, priority, n, late, closed_secs, closed_micros) {counts_sql}"
    ))
    .await?;
    txn.execute_unprepared(&format!(
        "INSERT INTO report_deadlines (deadline, project_id, performer_id, status, priority, n) {deadlines_sql}"
    ))
    .await?;
    txn.commit().await?;
    compact(db, time::now()).await?;
    Ok(())
}
