//! The e-mail copy of a notification (NOTIFY.md, "E-mail"): the engine's handler of
//! `email` jobs, which `store::insert` queues in the transaction that inserts the
//! notification. A mutation never waits for SMTP: it only commits the job's row; this
//! handler runs later, in the engine's job loop, and a dead server makes it retry with
//! backoff for a day (then the job is `failed`), never fail or slow the change.
//!
//! Each attempt reads the world as it is now: a user deactivated, without an address or
//! who turned e-mail off since, a defect deleted since, or a project the user left gets
//! no e-mail (the job is done).
use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::NaiveDate;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{
    store::{self, EMAIL_JOB},
    text::{self, Facts},
};
use crate::{
    domain::{defects::journal::FieldChange, defects::keys, projects},
    engine::{Handler, jobs},
    entities::{
        comments, defect_events, defects,
        enums::{DefectStatus, NotificationKind},
        jobs as job_rows, notifications, project_members, users,
    },
    error::AppResult,
    i18n::{self, Lang},
    mail::{Mailer, SendError},
    time,
};

/// The first retry comes within this (half of it fixed, half random).
pub const FIRST_RETRY: Duration = Duration::from_secs(30);
/// Retries are at most this far apart.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// A job still failing this long after it was queued is given up (`failed`).
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest comment quoted in an e-mail (characters).
const QUOTE_MAX: usize = 2000;

/// Sends the e-mail of one notification per job.
pub struct Email {
    pub mailer: Arc<Mailer>,
    /// `PUBLIC_URL` without a trailing slash; None: the e-mail has no link.
    pub public_url: Option<String>,
}

/// What a job found: an e-mail to send, or nothing to do (and why, for the log).
enum Prepared {
    Send {
        to: String,
        subject: String,
        body: String,
    },
    Skip(&'static str),
}

#[async_trait]
impl Handler for Email {
    fn kind(&self) -> &'static str {
        EMAIL_JOB
    }

    /// Sending takes at most `mail::TIMEOUT` (10 s) plus a few reads.
    fn lease(&self) -> Duration {
        Duration::from_secs(120)
    }

    async fn run(&self, db: &DatabaseConnection, job: &job_rows::Model) -> jobs::Outcome {
        let Some(id) = serde_json::from_str::<serde_json::Value>(&job.payload)
            .ok()
            .and_then(|v| v.get("notification")?.as_i64())
            .and_then(|v| i32::try_from(v).ok())
        else {
            return jobs::Outcome::Failed(format!("not an e-mail job's payload: {}", job.payload));
        };
        let prepared = match self.prepare(db, id).await {
            Ok(p) => p,
            Err(e) => return retry(job, format!("reading the notification: {e}")),
        };
        let (to, subject, body) = match prepared {
            Prepared::Skip(why) => {
                tracing::debug!(notification = id, why, "no e-mail for a notification");
                return jobs::Outcome::Done;
            }
            Prepared::Send { to, subject, body } => (to, subject, body),
        };
        match self.mailer.send(&to, &subject, &body).await {
            Ok(()) => jobs::Outcome::Done,
            Err(SendError::Permanent(e)) => {
                tracing::warn!(notification = id, error = %e, "an e-mail was refused for good");
                jobs::Outcome::Failed(e)
            }
            Err(SendError::Transient(e)) => retry(job, e),
        }
    }
}

/// Again later with backoff, or `failed` once the job is [`GIVE_UP_AFTER`] old.
fn retry(job: &job_rows::Model, error: String) -> jobs::Outcome {
    let now = time::now();
    let age = (now - job.created_at).to_std().unwrap_or_default();
    if age >= GIVE_UP_AFTER {
        tracing::warn!(job = job.id, error = %error, "an e-mail could not be sent for a day; giving up");
        return jobs::Outcome::Failed(error);
    }
    let wait = jobs::backoff(job.attempts, FIRST_RETRY, MAX_RETRY);
    tracing::info!(job = job.id, attempts = job.attempts, error = %error, "an e-mail will be retried");
    jobs::Outcome::Retry {
        error,
        at: now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
    }
}

impl Email {
    async fn prepare(&self, db: &DatabaseConnection, id: i32) -> AppResult<Prepared> {
        use Prepared::Skip;
        let Some(n) = notifications::Entity::find_by_id(id).one(db).await? else {
            return Ok(Skip("the notification is gone"));
        };
        let Some(user) = users::Entity::find_by_id(n.user_id).one(db).await? else {
            return Ok(Skip("the user is gone"));
        };
        if !user.is_active || user.email.trim().is_empty() {
            return Ok(Skip("the user is inactive or has no address"));
        }
        let settings = store::settings_of(db, [user.id])
            .await?
            .remove(&user.id)
            .unwrap_or_default();
        if !settings.email {
            return Ok(Skip("the user turned e-mail off"));
        }
        let lang = Lang::parse(&settings.language).unwrap_or_default();
        let Some(defect) = defects::Entity::find_by_id(n.defect_id).one(db).await? else {
            return Ok(Skip("the defect is gone"));
        };
        let Some(project) = crate::entities::projects::Entity::find_by_id(defect.project_id)
            .one(db)
            .await?
        else {
            return Ok(Skip("the project is gone"));
        };
        if defect.deleted_at.is_some() || !sees(db, &user, project.id).await? {
            return Ok(Skip("the user cannot see the defect now"));
        }
        let event = match n.event_id {
            Some(e) => defect_events::Entity::find_by_id(e).one(db).await?,
            None => None,
        };
        let actor = match n.actor_id {
            Some(a) => users::Entity::find_by_id(a).one(db).await?,
            None => None,
        };
        let comment = match event.as_ref().and_then(|e| e.comment_id) {
            Some(c) => comments::Entity::find_by_id(c).one(db).await?,
            None => None,
        };
        let key = project.code.as_deref().map_or_else(
            || format!("#{}", defect.number),
            |code| keys::format(code, defect.number),
        );
        let changes: Vec<FieldChange> = event
            .as_ref()
            .and_then(|e| serde_json::from_str(&e.changes).ok())
            .unwrap_or_default();
        let changed = |field: &str| {
            changes
                .iter()
                .find(|c| c.field == field)
                .map(|c| c.to.clone())
        };
        let status = changed("status")
            .flatten()
            .and_then(|s| serde_json::from_value::<DefectStatus>(serde_json::json!(s)).ok())
            .unwrap_or(defect.status);
        let deadline = match (n.deadline, changed("deadline")) {
            (Some(d), _) => Some(d),
            // The event says what the deadline became (also when it was removed).
            (None, Some(to)) => to.and_then(|s| s.parse::<NaiveDate>().ok()),
            (None, None) => defect.deadline,
        };
        let days_late = deadline.map(|d| {
            let then = projects::site_time::today_in(
                projects::site_time::zone(&project.time_zone),
                n.created_at,
            );
            (then - d).num_days()
        });
        let actor_name = actor.as_ref().map(display_name);
        let facts = Facts {
            key: &key,
            title: &defect.title,
            actor: actor_name,
            status: Some(status),
            deadline,
            days_late,
        };
        let subject = text::line(lang.tag(), n.kind, &facts);
        let link = self
            .public_url
            .as_deref()
            .map(|base| defect_link(base, defect.id));
        let quote = comment
            .filter(|_| {
                matches!(
                    n.kind,
                    NotificationKind::Commented | NotificationKind::Mentioned
                )
            })
            .map(|c| (actor_name.unwrap_or_default().to_owned(), c.body));
        let body = Body {
            lang,
            line: &subject,
            project: &project.title,
            status: defect.status,
            deadline: defect.deadline,
            quote: quote.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
            link: link.as_deref(),
        }
        .render();
        Ok(Prepared::Send {
            to: user.email,
            subject,
            body,
        })
    }
}

/// The web client's page of the defect: `PUBLIC_URL` + `/defects/<id>`. `PUBLIC_URL` is
/// the origin people open the application at (the same one attachment links use); the
/// frontend serves `/defects/<id>` as the defect's card (and asks for a login first).
pub fn defect_link(public_url: &str, defect: i32) -> String {
    format!("{}/defects/{defect}", public_url.trim_end_matches('/'))
}

/// The name people know a user by: the full name, else the username.
fn display_name(u: &users::Model) -> &str {
    if u.full_name.trim().is_empty() {
        &u.username
    } else {
        &u.full_name
    }
}

/// Whether `user` may see the project's defects now (an admin or manager sees every
/// project; others their projects).
async fn sees(db: &DatabaseConnection, user: &users::Model, project: i32) -> AppResult<bool> {
    if projects::policy::sees_all_projects(user.role) {
        return Ok(true);
    }
    Ok(project_members::Entity::find()
        .filter(project_members::Column::ProjectId.eq(project))
        .filter(project_members::Column::UserId.eq(user.id))
        .one(db)
        .await?
        .is_some())
}

/// The plain-text body of an e-mail.
struct Body<'a> {
    lang: Lang,
    /// The notification's line (also the subject): what happened.
    line: &'a str,
    project: &'a str,
    status: DefectStatus,
    deadline: Option<NaiveDate>,
    /// COMMENTED / MENTIONED: who wrote and the comment.
    quote: Option<(&'a str, &'a str)>,
    link: Option<&'a str>,
}

impl Body<'_> {
    fn render(&self) -> String {
        let lang = self.lang;
        let t = |id: &str, args: &[(&str, String)]| i18n::text(lang, id, args);
        let mut out = format!("{}\n\n", self.line);
        if let Some((actor, comment)) = self.quote {
            out.push_str(&t("email-comment", &[("actor", actor.to_owned())]));
            out.push('\n');
            let mut quoted: String = comment.chars().take(QUOTE_MAX).collect();
            if comment.chars().count() > QUOTE_MAX {
                quoted.push('…');
            }
            for l in quoted.lines() {
                out.push_str("> ");
                out.push_str(l);
                out.push('\n');
            }
            out.push('\n');
        }
        out.push_str(&t("email-project", &[("project", self.project.to_owned())]));
        out.push('\n');
        out.push_str(&t(
            "email-status",
            &[("status", text::status(lang, self.status))],
        ));
        out.push('\n');
        if let Some(d) = self.deadline {
            out.push_str(&t("email-deadline", &[("deadline", text::date(lang, d))]));
            out.push('\n');
        }
        if let Some(link) = self.link {
            out.push('\n');
            out.push_str(&t("email-open", &[("link", link.to_owned())]));
            out.push('\n');
        }
        out.push_str("\n-- \n");
        out.push_str(&t("email-footer", &[]));
        out.push('\n');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(lang: Lang, link: Option<&str>) -> String {
        Body {
            lang,
            line: "СК1-042 «Трещина»: новый комментарий (Иван)",
            project: "Tower",
            status: DefectStatus::InProgress,
            deadline: NaiveDate::from_ymd_opt(2026, 12, 9),
            quote: Some(("Иван", "first\nsecond")),
            link,
        }
        .render()
    }

    #[test]
    fn the_body_says_what_happened_and_links_the_defect_when_it_can() {
        let link = defect_link("https://defects.example.com/", 17);
        assert_eq!(link, "https://defects.example.com/defects/17");
        let ru = body(Lang::Ru, Some(&link));
        assert!(
            ru.starts_with("СК1-042 «Трещина»: новый комментарий (Иван)\n\n"),
            "{ru}"
        );
        for part in [
            "Иван пишет:\n> first\n> second\n",
            "Проект: Tower\n",
            "Статус: В работе\n",
            "Срок: 09.12.2026\n",
            "Открыть дефект: https://defects.example.com/defects/17\n",
        ] {
            assert!(ru.contains(part), "{part:?} in {ru}");
        }
        let en = body(Lang::En, None);
        assert!(
            en.contains("Status: In progress\nDeadline: 9 Dec 2026\n"),
            "{en}"
        );
        assert!(
            !en.contains("http") && !en.contains("Open the defect"),
            "{en}"
        );
    }
}
