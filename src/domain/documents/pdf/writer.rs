//! The PDF writer: krilla's document on a blocking thread (it is not `Send`), fed pages
//! through a bounded channel, so at most a couple of laid-out pages wait in memory.
use krilla::{
    Document,
    color::rgb,
    geom::{PathBuilder, Point, Rect, Size, Transform},
    image::Image,
    metadata::Metadata,
    page::PageSettings,
    paint::{Fill, Stroke},
    surface::Surface,
    text::{Font, TextDirection},
};
use tokio::sync::mpsc;

use super::{
    fonts::{self, Weight},
    page::{Op, PAGE_H, PAGE_W, Page, Rgb, WHITE},
};
use crate::error::{AppError, AppResult};

/// Pages that may wait for the writer.
pub(super) const QUEUE: usize = 2;

fn failed(what: &str) -> AppError {
    AppError::internal(std::io::Error::other(format!("PDF writer: {what}")))
}

fn color(c: Rgb) -> rgb::Color {
    rgb::Color::new(c.0, c.1, c.2)
}

fn fill(c: Rgb) -> Fill {
    Fill {
        paint: color(c).into(),
        ..Fill::default()
    }
}

fn stroke(c: Rgb, width: f32) -> Stroke {
    Stroke {
        paint: color(c).into(),
        width,
        ..Stroke::default()
    }
}

/// A circle of four cubic arcs.
fn circle(cx: f32, cy: f32, r: f32) -> Option<krilla::geom::Path> {
    const K: f32 = 0.552_284_8;
    let k = K * r;
    let mut pb = PathBuilder::new();
    pb.move_to(cx + r, cy);
    pb.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    pb.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    pb.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    pb.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    pb.close();
    pb.finish()
}

fn draw(surface: &mut Surface<'_>, faces: &[Font; 2], op: Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            weight,
            color: c,
            text,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(fill(c)));
            let font = faces[weight as usize].clone();
            surface.draw_text(
                Point::from_xy(x, y),
                font,
                size,
                &text,
                false,
                TextDirection::Auto,
            );
        }
        Op::Rect {
            x,
            y,
            w,
            h,
            fill: f,
            stroke: s,
        } => {
            let Some(rect) = Rect::from_xywh(x, y, w, h) else {
                return;
            };
            let mut pb = PathBuilder::new();
            pb.push_rect(rect);
            if let Some(path) = pb.finish() {
                surface.set_fill(f.map(fill));
                surface.set_stroke(s.map(|c| stroke(c, 0.5)));
                surface.draw_path(&path);
            }
        }
        Op::Line {
            x1,
            y1,
            x2,
            y2,
            color: c,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(x1, y1);
            pb.line_to(x2, y2);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(stroke(c, 0.5)));
                surface.draw_path(&path);
            }
        }
        Op::Pin { cx, cy, r } => {
            if let Some(path) = circle(cx, cy, r) {
                surface.set_fill(Some(fill(super::page::RED)));
                surface.set_stroke(Some(stroke(WHITE, 1.5)));
                surface.draw_path(&path);
            }
        }
        Op::Image { x, y, w, h, jpeg } => {
            // Prepared by `images` as a baseline JPEG; one that krilla cannot read is
            // left out rather than failing the document.
            let (Ok(image), Some(size)) =
                (Image::from_jpeg(jpeg.into(), true), Size::from_wh(w, h))
            else {
                return;
            };
            surface.push_transform(&Transform::from_translate(x, y));
            surface.draw_image(image, size);
            surface.pop();
        }
    }
}

/// Writes every page received until the channel closes, then the document's bytes.
/// Runs on the blocking pool.
pub(super) fn write(mut rx: mpsc::Receiver<Page>, title: String, lang: &str) -> AppResult<Vec<u8>> {
    let faces = [
        Font::new(fonts::REGULAR.into(), 0).ok_or_else(|| failed("regular font"))?,
        Font::new(fonts::BOLD.into(), 0).ok_or_else(|| failed("bold font"))?,
    ];
    debug_assert_eq!(Weight::Bold as usize, 1);
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(title)
            .language(lang.to_owned())
            .creator("defect-control".to_owned()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or_else(|| failed("page size"))?;
    while let Some(ops) = rx.blocking_recv() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, &faces, op);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| failed(&format!("{e:?}")))
}
