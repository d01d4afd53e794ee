//! The cover (projects, the filter in words, when, counts by status and priority) and
//! the table of all defects, whose rows break across pages under a repeated header.
use super::{
    Ctx,
    data::Row,
    fonts::{self, Weight},
    page::{BLACK, CONTENT_W, Flow, GREY, MARGIN, Op, RED, RULE, SHADE},
};
use crate::error::AppResult;

pub(super) async fn cover(ctx: &Ctx<'_>, flow: &mut Flow) -> AppResult<()> {
    let w = ctx.words;
    flow.text(MARGIN, 20.0, Weight::Bold, BLACK, &w.t("doc-title"));
    flow.y += 40.0;
    flow.text(MARGIN, 9.0, Weight::Regular, GREY, &w.t("doc-projects"));
    flow.y += 14.0;
    for id in &ctx.selection.projects {
        if let Some(p) = ctx.names.projects.get(id) {
            let line = match &p.code {
                Some(code) => format!("{code} — {}", p.title),
                None => p.title.clone(),
            };
            flow.paragraph(MARGIN, CONTENT_W, 13.0, Weight::Bold, BLACK, &line)
                .await?;
        }
    }
    flow.y += 6.0;
    let mut zones: Vec<&str> = ctx
        .selection
        .projects
        .iter()
        .map(|p| ctx.names.zone(*p))
        .collect();
    zones.dedup();
    if zones.is_empty() {
        zones.push("UTC");
    }
    for zone in zones.iter().take(5) {
        let line = w.with(
            "doc-generated",
            &[
                ("time", w.time(ctx.now, zone)),
                ("zone", (*zone).to_owned()),
            ],
        );
        flow.paragraph(MARGIN, CONTENT_W, 10.0, Weight::Regular, BLACK, &line)
            .await?;
    }
    flow.y += 14.0;
    flow.text(MARGIN, 9.0, Weight::Regular, GREY, &w.t("doc-filter"));
    flow.y += 14.0;
    for line in w.filter(ctx.filter, ctx.names, zones[0]) {
        flow.paragraph(MARGIN, CONTENT_W, 10.0, Weight::Regular, BLACK, &line)
            .await?;
    }
    flow.y += 14.0;
    let total = w.with("doc-total", &[("n", ctx.rows.to_string())]);
    flow.text(MARGIN, 13.0, Weight::Bold, BLACK, &total);
    flow.y += 24.0;
    let (statuses, priorities) = &ctx.tallies;
    let statuses: Vec<(String, i64)> = statuses.iter().map(|(s, n)| (w.status(*s), *n)).collect();
    let priorities: Vec<(String, i64)> = priorities
        .iter()
        .map(|(p, n)| (w.priority(*p), *n))
        .collect();
    tally(flow, &w.t("doc-by-status"), &statuses).await?;
    tally(flow, &w.t("doc-by-priority"), &priorities).await?;
    Ok(())
}

/// A heading and `label  count` lines.
async fn tally(flow: &mut Flow, heading: &str, counts: &[(String, i64)]) -> AppResult<()> {
    flow.room(16.0 + 14.0 * counts.len() as f32).await?;
    flow.text(MARGIN, 10.0, Weight::Bold, BLACK, heading);
    flow.y += 16.0;
    for (label, n) in counts {
        flow.text(MARGIN + 10.0, 10.0, Weight::Regular, BLACK, label);
        let n = n.to_string();
        let x = MARGIN + 200.0 - fonts::width(&n, 10.0, Weight::Regular);
        flow.text(x, 10.0, Weight::Regular, BLACK, &n);
        flow.y += 14.0;
    }
    flow.y += 10.0;
    Ok(())
}

const SIZE: f32 = 8.0;
const LEADING: f32 = 10.5;
const PAD: f32 = 3.0;
/// Key, title, status, priority, performer, deadline: the widths add up to the content.
const WIDTHS: [f32; 6] = [58.0, 181.0, 66.0, 62.0, 80.0, 64.0];

/// One row: each cell's lines, coloured; its height.
struct Cells {
    lines: Vec<(Vec<String>, Weight, super::page::Rgb)>,
    height: f32,
}

impl Cells {
    fn new(cells: Vec<(String, Weight, super::page::Rgb)>) -> Self {
        let lines: Vec<_> = cells
            .into_iter()
            .zip(WIDTHS)
            .map(|((text, weight, color), width)| {
                (
                    fonts::wrap(&text, SIZE, weight, width - 2.0 * PAD),
                    weight,
                    color,
                )
            })
            .collect();
        let most = lines.iter().map(|(l, _, _)| l.len()).max().unwrap_or(1);
        Cells {
            lines,
            height: most as f32 * LEADING + 2.0 * PAD,
        }
    }

    fn draw(self, flow: &mut Flow, shade: bool) {
        if shade {
            flow.push(Op::Rect {
                x: MARGIN,
                y: flow.y,
                w: CONTENT_W,
                h: self.height,
                fill: Some(SHADE),
                stroke: None,
            });
        }
        let top = flow.y;
        let mut x = MARGIN;
        for ((lines, weight, color), width) in self.lines.into_iter().zip(WIDTHS) {
            flow.y = top + PAD;
            for line in lines {
                flow.text(x + PAD, SIZE, weight, color, &line);
                flow.y += LEADING;
            }
            x += width;
        }
        flow.y = top + self.height;
        flow.push(Op::Line {
            x1: MARGIN,
            y1: flow.y,
            x2: MARGIN + CONTENT_W,
            y2: flow.y,
            color: RULE,
        });
    }
}

fn header(ctx: &Ctx<'_>) -> Cells {
    let ids = [
        "key",
        "title",
        "status",
        "priority",
        "performer",
        "deadline",
    ];
    Cells::new(
        ids.iter()
            .map(|id| (ctx.words.t(&format!("doc-col-{id}")), Weight::Bold, BLACK))
            .collect(),
    )
}

/// The table's heading on a new page; then the header row.
pub(super) async fn start_table(ctx: &Ctx<'_>, flow: &mut Flow) -> AppResult<()> {
    flow.new_page().await?;
    flow.text(MARGIN, 14.0, Weight::Bold, BLACK, &ctx.words.t("doc-list"));
    flow.y += 26.0;
    if ctx.rows == 0 {
        flow.text(
            MARGIN,
            10.0,
            Weight::Regular,
            BLACK,
            &ctx.words.t("doc-no-defects"),
        );
        flow.y += 16.0;
        return Ok(());
    }
    header(ctx).draw(flow, true);
    Ok(())
}

/// One defect's row, after a new page with the header again when it does not fit.
pub(super) async fn row(ctx: &Ctx<'_>, flow: &mut Flow, d: &Row) -> AppResult<()> {
    let w = ctx.words;
    let overdue = d.overdue(ctx.names, ctx.now);
    let deadline = match d.deadline {
        Some(day) if overdue => format!("{}\n{}", w.date(day), w.t("doc-overdue")),
        Some(day) => w.date(day),
        None => String::new(),
    };
    let cells = Cells::new(vec![
        (ctx.names.key(d), Weight::Bold, BLACK),
        (d.title.clone(), Weight::Regular, BLACK),
        (w.status(d.status), Weight::Regular, BLACK),
        (w.priority(d.priority), Weight::Regular, BLACK),
        (
            ctx.names.user(d.performer_id).to_owned(),
            Weight::Regular,
            BLACK,
        ),
        (
            deadline,
            if overdue {
                Weight::Bold
            } else {
                Weight::Regular
            },
            if overdue { RED } else { BLACK },
        ),
    ]);
    if flow.room(cells.height).await? {
        header(ctx).draw(flow, true);
    }
    cells.draw(flow, false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{self, Lang};

    /// Column headings, a date and the overdue mark each fit their column on one line in
    /// both languages (a word broken inside, "Приорите-т", reads badly).
    #[test]
    fn headings_dates_and_the_overdue_mark_fit_their_columns() {
        let ids = [
            "key",
            "title",
            "status",
            "priority",
            "performer",
            "deadline",
        ];
        for lang in Lang::ALL {
            for (id, width) in ids.iter().zip(WIDTHS) {
                let label = i18n::text(lang, &format!("doc-col-{id}"), &[]);
                assert!(
                    fonts::wrap(&label, SIZE, Weight::Bold, width - 2.0 * PAD).len() == 1,
                    "{label}"
                );
            }
            let deadline = WIDTHS[5] - 2.0 * PAD;
            for text in [
                "30.12.2026".to_owned(),
                "2026-12-30".to_owned(),
                i18n::text(lang, "doc-overdue", &[]),
            ] {
                assert_eq!(
                    fonts::wrap(&text, SIZE, Weight::Bold, deadline).len(),
                    1,
                    "{text}"
                );
            }
        }
        assert!((WIDTHS.iter().sum::<f32>() - CONTENT_W).abs() < 1.0);
    }
}
