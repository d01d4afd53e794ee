//! A realistic, deterministic dataset for benchmarks, bulk-loaded with PostgreSQL COPY:
//! projects × stages, users across roles, engineers in 3–6 projects, defects spread over
//! two years in every status with consistent history, ~2 comments per defect, Russian and
//! English titles.
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};

use defect_control::{db, domain::search::normalize as search_text};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection};

pub struct Spec {
    pub defects: u64,
    pub projects: usize,
    pub stages_per_project: usize,
    pub users: usize,
}

const TITLES: [&str; 24] = [
    "Трещина в стяжке пола",
    "Оголение арматуры",
    "Отклонение колонны от вертикали",
    "Раковины в бетоне",
    "Протечка кровли",
    "Не закреплён отлив",
    "Неровность стен",
    "Сколы плитки",
    "Повреждение гидроизоляции",
    "Непровар сварного шва",
    "Нет огнезащиты воздуховода",
    "Трещина штукатурки",
    "Cracked screed",
    "Missing fire seal",
    "Exposed rebar",
    "Water ingress at wall",
    "Honeycombing in concrete",
    "Door does not close",
    "Paint peeling",
    "Cable tray not earthed",
    "Sprinkler head misplaced",
    "Ceiling tiles stained",
    "Skirting board gap",
    "Handrail loose",
];
const PLACES: [&str; 8] = [
    "секция 1",
    "секция 2",
    "level 3",
    "level 7",
    "ось А/4",
    "grid C-D/7",
    "подвал",
    "roof",
];

/// splitmix64: the same input, the same "random" number, on every run.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn csv_text(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

async fn copy(
    db: &DatabaseConnection,
    statement: &str,
    data: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let pool = db.get_postgres_connection_pool();
    let mut conn = pool.acquire().await?;
    let mut copy = conn.copy_in_raw(statement).await?;
    for chunk in data.as_bytes().chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    Ok(())
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

pub async fn run(url: &str, spec: Spec) -> Result<(), Box<dyn std::error::Error>> {
    let conn = db::connect(url, None).await?;
    if conn.get_database_backend() != DatabaseBackend::Postgres {
        return Err("the generator loads with COPY: point --database-url at PostgreSQL".into());
    }
    db::migrate(&conn).await?;
    let started = std::time::Instant::now();
    conn.execute_unprepared(
        "TRUNCATE status_changes, comments, attachments, defects, stages, project_members, projects, refresh_tokens, users RESTART IDENTITY CASCADE",
    )
    .await?;
    let now = defect_control::time::now();
    // Every hash goes through a bounded pool (the unbounded helper is gone): one slot here.
    let hash = defect_control::auth::password::HashPool::new(1, 1)
        .hash("bench12345".into())
        .await?;

    // Users: 1 admin, 5% managers, 75% engineers, the rest observers.
    let mut users = String::new();
    let mut engineers = Vec::new();
    let mut managers = Vec::new();
    for i in 1..=spec.users {
        let role = match i {
            1 => "ADMIN",
            _ if i % 20 == 0 => "MANAGER",
            _ if i % 20 < 16 => "ENGINEER",
            _ => "OBSERVER",
        };
        match role {
            "ENGINEER" => engineers.push(i),
            "MANAGER" | "ADMIN" => managers.push(i),
            _ => {}
        }
        let username = format!("{}{i}", role.to_lowercase());
        let full = format!("Bench {role} {i}");
        let email = format!("{username}@bench.local");
        writeln!(
            users,
            "{i},{username},{email},{},{},{role},true,{},{},{}",
            csv_text(&full),
            csv_text(&hash),
            csv_text(&search_text(&[&username, &full, &email])),
            ts(now),
            ts(now)
        )?;
    }
    copy(&conn, "COPY users (id, username, email, full_name, password_hash, role, is_active, search_text, created_at, updated_at) FROM STDIN (FORMAT csv)", &users).await?;

    let mut projects = String::new();
    let mut stages = String::new();
    for p in 1..=spec.projects {
        let title = format!("Объект {p:02} — Site {p:02}");
        writeln!(
            projects,
            "{p},{},ОБ{p:02},об{p:02},Bench project,,,ACTIVE,{},{},{}",
            csv_text(&title),
            csv_text(&search_text(&[&title, "bench project"])),
            ts(now),
            ts(now)
        )?;
        for s in 0..spec.stages_per_project {
            let id = (p - 1) * spec.stages_per_project + s + 1;
            writeln!(
                stages,
                "{id},{p},Stage {},\"\",{},,,{},{}",
                s + 1,
                s + 1,
                ts(now),
                ts(now)
            )?;
        }
    }
    copy(&conn, "COPY projects (id, title, code, code_key, description, start_date, end_date, status, search_text, created_at, updated_at) FROM STDIN (FORMAT csv)", &projects).await?;
    copy(&conn, "COPY stages (id, project_id, title, description, position, start_date, end_date, created_at, updated_at) FROM STDIN (FORMAT csv)", &stages).await?;

    // Every engineer in 3–6 projects; each project's engineers, for performers.
    let mut members = String::new();
    let mut per_project: Vec<Vec<usize>> = vec![Vec::new(); spec.projects + 1];
    for (k, e) in engineers.iter().enumerate() {
        let count = 3 + k % 4;
        for j in 0..count {
            let p = (k * 7 + j * 11) % spec.projects + 1;
            if !per_project[p].contains(e) {
                per_project[p].push(*e);
                writeln!(members, "{p},{e},{}", ts(now))?;
            }
        }
    }
    copy(
        &conn,
        "COPY project_members (project_id, user_id, created_at) FROM STDIN (FORMAT csv)",
        &members,
    )
    .await?;

    // Defects, history and comments, in batches of 100k.
    let span = Duration::days(730).num_seconds() as u64;
    let batch = 100_000u64;
    let mut history_id = 0u64;
    let mut comment_id = 0u64;
    let mut first = 1u64;
    // Defects are made in creation order, so numbering them as they come is the order
    // the migration would give them.
    let mut numbers = vec![0u32; spec.projects + 1];
    while first <= spec.defects {
        let last = (first + batch - 1).min(spec.defects);
        let (mut defects, mut history, mut comments) =
            (String::new(), String::new(), String::new());
        for i in first..=last {
            let r = mix(i);
            let p = (r % spec.projects as u64) as usize + 1;
            let stage = match (r >> 8) % 7 {
                6 => String::new(),
                s => {
                    ((p - 1) * spec.stages_per_project + (s as usize % spec.stages_per_project) + 1)
                        .to_string()
                }
            };
            let title = format!(
                "{} ({})",
                TITLES[((r >> 16) % 24) as usize],
                PLACES[((r >> 24) % 8) as usize]
            );
            let description = if (r >> 28).is_multiple_of(3) {
                String::new()
            } else {
                format!("Found during inspection #{i}; see photos.")
            };
            let priority = (r >> 32) % 3;
            // NEW 20%, IN_PROGRESS 20%, REVIEW 10%, CLOSED 40%, CANCELLED 10%.
            let status = match (r >> 36) % 10 {
                0 | 1 => 0,
                2 | 3 => 1,
                4 => 2,
                9 => 4,
                _ => 3,
            };
            let created =
                now - Duration::seconds((span * (spec.defects - i) / spec.defects) as i64 + 60);
            let deadline = match (r >> 40) % 5 {
                0 => String::new(),
                d => (created + Duration::days(7 + (d as i64) * 10))
                    .date_naive()
                    .to_string(),
            };
            let team = &per_project[p];
            // Half of the NEW and CANCELLED defects have nobody assigned.
            let unassigned = matches!(status, 0 | 4) && (r >> 44).is_multiple_of(2);
            let performer = if team.is_empty() || unassigned {
                None
            } else {
                Some(team[((r >> 48) as usize) % team.len()])
            };
            let status = if performer.is_none() && matches!(status, 1..=3) {
                0
            } else {
                status
            };
            let author = if (r >> 52).is_multiple_of(3) && !team.is_empty() {
                team[((r >> 54) as usize) % team.len()]
            } else {
                managers[((r >> 56) as usize) % managers.len()]
            };
            let manager = managers[((r >> 58) as usize) % managers.len()];
            // The status path and when each step happened.
            let path: &[i16] = match status {
                0 => &[],
                1 => &[1],
                2 => &[1, 2],
                3 => &[1, 2, 3],
                _ => &[4],
            };
            let step = Duration::hours(1 + ((r >> 20) % 72) as i64);
            let mut at = created;
            writeln!(
                history,
                "{},{i},,0,{author},{},",
                {
                    history_id += 1;
                    history_id
                },
                ts(at)
            )?;
            let mut from = 0;
            for to in path {
                at += step;
                let by = if *to == 2 {
                    performer.unwrap_or(manager)
                } else {
                    manager
                };
                writeln!(
                    history,
                    "{},{i},{from},{to},{by},{},",
                    {
                        history_id += 1;
                        history_id
                    },
                    ts(at)
                )?;
                from = *to;
            }
            let updated = at.min(now);
            let closed = if status == 3 {
                ts(updated)
            } else {
                String::new()
            };
            let version = 1 + path.len() + usize::from(performer.is_some());
            let lower = search_text(&[&title, &description]);
            numbers[p] += 1;
            let number = numbers[p];
            writeln!(
                defects,
                "{i},{p},{number},{stage},{},{},{},{priority},{status},{},{author},{deadline},{version},{},{},{closed}",
                csv_text(&title),
                csv_text(&description),
                csv_text(&lower),
                performer.map(|u| u.to_string()).unwrap_or_default(),
                ts(created),
                ts(updated),
            )?;
            for c in 0..((r >> 60) % 5) {
                let who = if c % 2 == 0 {
                    manager
                } else {
                    performer.unwrap_or(author)
                };
                writeln!(
                    comments,
                    "{},{i},{who},{},{}",
                    {
                        comment_id += 1;
                        comment_id
                    },
                    csv_text("Проверено на обходе / checked on site"),
                    ts(created + Duration::hours(c as i64 + 2))
                )?;
            }
        }
        copy(&conn, "COPY defects (id, project_id, number, stage_id, title, description, search_text, priority, status, performer_id, author_id, deadline, version, created_at, updated_at, closed_at) FROM STDIN (FORMAT csv)", &defects).await?;
        copy(&conn, "COPY status_changes (id, defect_id, from_status, to_status, changed_by, changed_at, comment) FROM STDIN (FORMAT csv)", &history).await?;
        copy(
            &conn,
            "COPY comments (id, defect_id, author_id, body, created_at) FROM STDIN (FORMAT csv)",
            &comments,
        )
        .await?;
        eprintln!(
            "  {last} defects ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
        first = last + 1;
    }
    for table in [
        "users",
        "projects",
        "stages",
        "defects",
        "status_changes",
        "comments",
    ] {
        conn.execute_unprepared(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")).await?;
    }
    // COPY bypasses the services: the reports' aggregate is recomputed from the rows.
    let tallied = std::time::Instant::now();
    defect_control::domain::reports::tally::rebuild(&conn).await?;
    eprintln!(
        "  report aggregate rebuilt ({:.1} s)",
        tallied.elapsed().as_secs_f64()
    );
    conn.execute_unprepared(
        "INSERT INTO defect_numbers (project_id, last_number) \
         SELECT project_id, MAX(number) FROM defects GROUP BY project_id",
    )
    .await?;
    // COPY bypasses the journal: the notification engine starts at the journal's end
    // (no notifications for generated history) and the clock's queue is filled from
    // the open defects with a deadline, as the migration does.
    conn.execute_unprepared(
        "TRUNCATE notifications, notification_settings, jobs, clock_queue, defect_watchers; \
         DELETE FROM engine_positions; \
         INSERT INTO engine_positions (consumer, position, updated_at) \
         SELECT c, COALESCE((SELECT MAX(id) FROM defect_events), 0), now() \
         FROM unnest(ARRAY['notifications', 'clock']) c; \
         INSERT INTO clock_queue (defect_id, project_id, deadline, stage, fire_on) \
         SELECT id, project_id, deadline, 0, deadline - 1 FROM defects \
         WHERE deadline IS NOT NULL AND status IN (0, 1, 2) AND deleted_at IS NULL",
    )
    .await?;
    // COPY bypasses the services' watcher rules (domain::defects::watchers): the author,
    // the performer, the commenters and whoever moved the status watch each defect.
    conn.execute_unprepared(
        "INSERT INTO defect_watchers (defect_id, user_id, watching, created_at) \
         SELECT defect_id, user_id, TRUE, MIN(at) FROM ( \
           SELECT id AS defect_id, author_id AS user_id, created_at AS at FROM defects \
           UNION ALL SELECT id, performer_id, created_at FROM defects WHERE performer_id IS NOT NULL \
           UNION ALL SELECT defect_id, author_id, created_at FROM comments \
           UNION ALL SELECT defect_id, changed_by, changed_at FROM status_changes \
         ) w GROUP BY defect_id, user_id",
    )
    .await?;
    // As autovacuum would after a while: statistics, and visibility maps for index-only scans.
    conn.execute_unprepared("VACUUM ANALYZE").await?;
    eprintln!(
        "generated {} defects, {history_id} history rows, {comment_id} comments, {} users, {} projects in {:.0} s",
        spec.defects,
        spec.users,
        spec.projects,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
