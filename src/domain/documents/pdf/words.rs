//! The document's words in its language (`locales/<lang>/documents.ftl`, statuses and
//! priorities from `export.ftl`), dates in the reader's form and the filter in words.
use chrono::{DateTime, NaiveDate, Utc};

use super::data::Names;
use crate::{
    domain::{
        defects::filter::DefectFilter,
        projects::site_time,
        reports::export::{priority_label, status_label},
    },
    entities::enums::{DefectStatus, Priority},
    i18n::{self, Lang},
};

#[derive(Clone, Copy)]
pub(super) struct Words {
    pub(super) lang: Lang,
}

impl Words {
    pub(super) fn t(&self, id: &str) -> String {
        i18n::text(self.lang, id, &[])
    }

    pub(super) fn with(&self, id: &str, args: &[(&str, String)]) -> String {
        i18n::text(self.lang, id, args)
    }

    pub(super) fn status(&self, s: DefectStatus) -> String {
        self.t(&format!("status-{}", status_label(s)))
    }

    pub(super) fn priority(&self, p: Priority) -> String {
        self.t(&format!("priority-{}", priority_label(p)))
    }

    pub(super) fn date(&self, d: NaiveDate) -> String {
        match self.lang {
            Lang::Ru => d.format("%d.%m.%Y").to_string(),
            Lang::En => d.format("%Y-%m-%d").to_string(),
        }
    }

    /// A timestamp in the project's zone.
    pub(super) fn time(&self, t: DateTime<Utc>, zone: &str) -> String {
        let local = t.with_timezone(&site_time::zone(zone));
        match self.lang {
            Lang::Ru => local.format("%d.%m.%Y %H:%M").to_string(),
            Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    fn range<T>(
        &self,
        from: Option<T>,
        to: Option<T>,
        show: impl Fn(T) -> String,
    ) -> Option<String> {
        match (from.map(&show), to.map(&show)) {
            (Some(from), Some(to)) => {
                Some(self.with("doc-range-both", &[("from", from), ("to", to)]))
            }
            (Some(from), None) => Some(self.with("doc-range-from", &[("from", from)])),
            (None, Some(to)) => Some(self.with("doc-range-to", &[("to", to)])),
            (None, None) => None,
        }
    }

    /// The filter as `label: value` lines (the project is on the cover already); one line
    /// saying "everything" when it narrows nothing.
    pub(super) fn filter(&self, f: &DefectFilter, names: &Names, zone: &str) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = |id: &str, value: String| lines.push(format!("{}: {value}", self.t(id)));
        if let Some(s) = f.stage_id {
            line("doc-f-stage", names.stage(Some(s)).to_owned());
        }
        if let Some(p) = f.plan_id {
            let title = names
                .plans
                .get(&p)
                .map_or_else(|| format!("#{p}"), |p| p.title.clone());
            line("doc-f-plan", title);
        }
        if let Some(u) = f.performer_id {
            line("doc-f-performer", names.user(Some(u)).to_owned());
        }
        if let Some(u) = f.author_id {
            line("doc-f-author", names.user(Some(u)).to_owned());
        }
        if !f.status.is_empty() {
            let v: Vec<String> = f.status.iter().map(|s| self.status(*s)).collect();
            line("doc-f-status", v.join(", "));
        }
        if !f.priority.is_empty() {
            let v: Vec<String> = f.priority.iter().map(|p| self.priority(*p)).collect();
            line("doc-f-priority", v.join(", "));
        }
        if let Some(r) = self.range(f.created_from, f.created_to, |t| self.time(t, zone)) {
            line("doc-f-created", r);
        }
        if let Some(r) = self.range(f.deadline_from, f.deadline_to, |d| self.date(d)) {
            line("doc-f-deadline", r);
        }
        if let Some(s) = &f.search {
            line("doc-f-search", format!("«{s}»"));
        }
        if let Some(o) = f.overdue {
            lines.push(self.t(if o {
                "doc-f-overdue-yes"
            } else {
                "doc-f-overdue-no"
            }));
        }
        if lines.is_empty() {
            lines.push(self.t("doc-filter-none"));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every id the document uses exists in both languages (English would otherwise
    /// stand in for a missing Russian text, or the bare id for both).
    #[test]
    fn every_text_exists_in_both_languages() {
        let ids = include_str!("../../../../locales/en/documents.ftl")
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim()))
            .filter(|id| !id.starts_with('#'))
            .collect::<Vec<_>>();
        assert!(ids.len() > 30);
        for id in ids {
            let en = i18n::text(Lang::En, id, &[]);
            let ru = i18n::text(Lang::Ru, id, &[]);
            assert!(en != id && ru != id, "{id}: {en} / {ru}");
        }
    }
}
