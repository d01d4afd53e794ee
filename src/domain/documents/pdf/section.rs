//! One defect's section: heading, fields, description, its place on the plan, photos,
//! other attachments and the status history.
use super::{
    Ctx,
    data::{Details, Row},
    fonts::Weight,
    images::{self, Plans},
    page::{BLACK, CONTENT_W, Flow, GREY, MARGIN, Op, RED, RULE, SHADE},
};
use crate::{entities::attachments, error::AppResult};

const SIZE: f32 = 9.0;
const LABEL_W: f32 = 92.0;
/// Photos shown per defect; the rest are listed by name.
pub(super) const MAX_PHOTOS: usize = 6;
const PHOTO_GAP: f32 = 12.0;
const PHOTO_W: f32 = (CONTENT_W - PHOTO_GAP) / 2.0;
const PHOTO_MAX_H: f32 = 190.0;
const EXCERPT_W: f32 = 300.0;
const EXCERPT_H: f32 = 200.0;

/// `label  value`, the value wrapped beside the label.
async fn field(
    flow: &mut Flow,
    label: &str,
    value: &str,
    color: super::page::Rgb,
) -> AppResult<()> {
    if value.trim().is_empty() {
        return Ok(());
    }
    flow.room(SIZE * 1.35).await?;
    flow.text(MARGIN, SIZE, Weight::Regular, GREY, label);
    flow.paragraph(
        MARGIN + LABEL_W,
        CONTENT_W - LABEL_W,
        SIZE,
        Weight::Regular,
        color,
        value,
    )
    .await
}

async fn heading(flow: &mut Flow, text: &str) -> AppResult<()> {
    flow.y += 6.0;
    flow.room(SIZE * 1.35 * 3.0).await?;
    flow.text(MARGIN, SIZE, Weight::Bold, BLACK, text);
    flow.y += SIZE * 1.5;
    Ok(())
}

/// A box for an image that could not be read.
fn missing(ctx: &Ctx<'_>, flow: &mut Flow, (x, y, w, h): (f32, f32, f32, f32)) {
    flow.push(Op::Rect {
        x,
        y,
        w,
        h,
        fill: Some(SHADE),
        stroke: Some(RULE),
    });
    let y0 = flow.y;
    flow.y = y + h / 2.0 - SIZE;
    flow.text(
        x + 8.0,
        SIZE,
        Weight::Regular,
        GREY,
        &ctx.words.t("doc-image-missing"),
    );
    flow.y = y0;
}

fn is_image(f: &attachments::Model) -> bool {
    f.content_type.starts_with("image/")
}

/// A photo's box: the stored aspect ratio (4:3 when unknown) within the column.
fn photo_box(f: &attachments::Model) -> (f32, f32) {
    let aspect = match (f.width, f.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => w as f32 / h as f32,
        _ => 4.0 / 3.0,
    };
    let (mut w, mut h) = (PHOTO_W, PHOTO_W / aspect);
    if h > PHOTO_MAX_H {
        h = PHOTO_MAX_H;
        w = h * aspect;
    }
    (w, h)
}

async fn place(ctx: &Ctx<'_>, flow: &mut Flow, plans: &mut Plans, d: &Row) -> AppResult<()> {
    let w = ctx.words;
    heading(flow, &w.t("doc-place")).await?;
    let (Some(plan_id), Some(x), Some(y)) = (d.plan_id, d.location_x, d.location_y) else {
        return flow
            .paragraph(
                MARGIN,
                CONTENT_W,
                SIZE,
                Weight::Regular,
                BLACK,
                &w.t("doc-not-pinned"),
            )
            .await;
    };
    let plan = ctx.names.plans.get(&plan_id);
    let title = plan.map_or_else(|| format!("#{plan_id}"), |p| p.title.clone());
    let pin = w.with(
        "doc-pin",
        &[
            ("plan", title),
            ("x", format!("{x:.3}")),
            ("y", format!("{y:.3}")),
        ],
    );
    flow.paragraph(MARGIN, CONTENT_W, SIZE, Weight::Regular, BLACK, &pin)
        .await?;
    if let Some(label) = d.location_label.as_deref().filter(|l| !l.trim().is_empty()) {
        let line = w.with("doc-pin-label", &[("label", label.to_owned())]);
        flow.paragraph(MARGIN, CONTENT_W, SIZE, Weight::Regular, BLACK, &line)
            .await?;
    }
    let Some(plan) = plan else { return Ok(()) };
    if !plan.content_type.starts_with("image/") {
        return flow
            .paragraph(
                MARGIN,
                CONTENT_W,
                SIZE,
                Weight::Regular,
                GREY,
                &w.t("doc-pdf-plan"),
            )
            .await;
    }
    if !ctx.photos {
        return Ok(());
    }
    flow.y += 4.0;
    flow.room(EXCERPT_H).await?;
    let (bx, by) = (MARGIN, flow.y);
    if flow.drawing() {
        let excerpt = plans
            .excerpt(
                ctx.storage,
                (plan_id, &plan.storage_key),
                (x, y),
                (EXCERPT_W, EXCERPT_H),
            )
            .await;
        match excerpt {
            Some(e) => {
                flow.push(Op::Image {
                    x: bx,
                    y: by,
                    w: EXCERPT_W,
                    h: EXCERPT_H,
                    jpeg: e.jpeg,
                });
                flow.push(Op::Rect {
                    x: bx,
                    y: by,
                    w: EXCERPT_W,
                    h: EXCERPT_H,
                    fill: None,
                    stroke: Some(RULE),
                });
                flow.push(Op::Pin {
                    cx: bx + e.pin_x * EXCERPT_W,
                    cy: by + e.pin_y * EXCERPT_H,
                    r: 5.0,
                });
            }
            None => missing(ctx, flow, (bx, by, EXCERPT_W, EXCERPT_H)),
        }
    }
    flow.y += EXCERPT_H + 4.0;
    Ok(())
}

async fn photos(ctx: &Ctx<'_>, flow: &mut Flow, shown: &[&attachments::Model]) -> AppResult<()> {
    if shown.is_empty() {
        return Ok(());
    }
    heading(flow, &ctx.words.t("doc-photos")).await?;
    for pair in shown.chunks(2) {
        let boxes: Vec<(f32, f32)> = pair.iter().map(|f| photo_box(f)).collect();
        let height = boxes.iter().map(|b| b.1).fold(0.0, f32::max);
        flow.room(height).await?;
        let (mut x, y) = (MARGIN, flow.y);
        for (f, (w, h)) in pair.iter().zip(boxes) {
            if flow.drawing() {
                match images::photo(ctx.storage, &f.storage_key).await {
                    Some(jpeg) => flow.push(Op::Image { x, y, w, h, jpeg }),
                    None => missing(ctx, flow, (x, y, w, h)),
                }
            }
            x += PHOTO_W + PHOTO_GAP;
        }
        flow.y += height + PHOTO_GAP;
    }
    Ok(())
}

pub(super) async fn section(
    ctx: &Ctx<'_>,
    flow: &mut Flow,
    plans: &mut Plans,
    d: &Row,
    details: &Details,
) -> AppResult<()> {
    let w = ctx.words;
    flow.room(90.0).await?;
    flow.push(Op::Line {
        x1: MARGIN,
        y1: flow.y,
        x2: MARGIN + CONTENT_W,
        y2: flow.y,
        color: RULE,
    });
    flow.y += 8.0;
    let title = format!("{} — {}", ctx.names.key(d), d.title);
    flow.paragraph(MARGIN, CONTENT_W, 12.0, Weight::Bold, BLACK, &title)
        .await?;
    flow.y += 4.0;
    let zone = ctx.names.zone(d.project_id);
    let overdue = d.overdue(ctx.names, ctx.now);
    let deadline = d.deadline.map(|day| match overdue {
        true => format!("{} ({})", w.date(day), w.t("doc-overdue")),
        false => w.date(day),
    });
    field(flow, &w.t("doc-col-status"), &w.status(d.status), BLACK).await?;
    field(
        flow,
        &w.t("doc-col-priority"),
        &w.priority(d.priority),
        BLACK,
    )
    .await?;
    field(flow, &w.t("doc-stage"), ctx.names.stage(d.stage_id), BLACK).await?;
    field(
        flow,
        &w.t("doc-performer"),
        ctx.names.user(d.performer_id),
        BLACK,
    )
    .await?;
    field(
        flow,
        &w.t("doc-author"),
        ctx.names.user(Some(d.author_id)),
        BLACK,
    )
    .await?;
    let color = if overdue { RED } else { BLACK };
    field(
        flow,
        &w.t("doc-deadline"),
        deadline.as_deref().unwrap_or(""),
        color,
    )
    .await?;
    field(
        flow,
        &w.t("doc-created"),
        &w.time(d.created_at, zone),
        BLACK,
    )
    .await?;
    if !d.description.trim().is_empty() {
        heading(flow, &w.t("doc-description")).await?;
        flow.paragraph(
            MARGIN,
            CONTENT_W,
            SIZE,
            Weight::Regular,
            BLACK,
            &d.description,
        )
        .await?;
    }
    place(ctx, flow, plans, d).await?;
    let files = details.files.get(&d.id).map_or(&[][..], Vec::as_slice);
    let (shown, listed): (Vec<&attachments::Model>, Vec<&attachments::Model>) = if ctx.photos {
        let images: Vec<_> = files
            .iter()
            .filter(|f| is_image(f))
            .take(MAX_PHOTOS)
            .collect();
        let rest = files
            .iter()
            .filter(|f| !images.iter().any(|i| i.id == f.id))
            .collect();
        (images, rest)
    } else {
        (Vec::new(), files.iter().collect())
    };
    photos(ctx, flow, &shown).await?;
    if !listed.is_empty() {
        heading(flow, &w.t("doc-files")).await?;
        for f in listed {
            flow.paragraph(
                MARGIN + 8.0,
                CONTENT_W - 8.0,
                SIZE,
                Weight::Regular,
                BLACK,
                &format!("• {}", f.filename),
            )
            .await?;
        }
    }
    let history = details.history.get(&d.id).map_or(&[][..], Vec::as_slice);
    if !history.is_empty() {
        heading(flow, &w.t("doc-history")).await?;
        for h in history {
            let change = match h.from_status {
                Some(from) => format!("{} → {}", w.status(from), w.status(h.to_status)),
                None => w.with("doc-history-created", &[("to", w.status(h.to_status))]),
            };
            let mut line = format!(
                "{}  {change}  {}",
                w.time(h.changed_at, zone),
                ctx.names.user(Some(h.changed_by))
            );
            if let Some(c) = h.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                line.push_str(&format!(": {c}"));
            }
            flow.paragraph(MARGIN, CONTENT_W, SIZE, Weight::Regular, BLACK, &line)
                .await?;
        }
    }
    flow.y += 16.0;
    Ok(())
}
