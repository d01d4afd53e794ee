//! Pages as lists of drawing operations, and the flow that fills them top to bottom.
//!
//! The layout runs twice over the same data: first counting pages (nothing drawn, no
//! image read), so that every page can say `n / N`; then for real, each finished page
//! handed to the writer thread through a bounded channel. Both runs make the same
//! decisions because nothing in the layout depends on what an image turns out to be:
//! boxes are sized from the dimensions stored with each file.
use tokio::sync::mpsc;

use super::fonts::{self, Weight};
use crate::error::{AppError, AppResult};

/// A4 in points.
pub(super) const PAGE_W: f32 = 595.28;
pub(super) const PAGE_H: f32 = 841.89;
pub(super) const MARGIN: f32 = 42.0;
pub(super) const TOP: f32 = 52.0;
/// Where content ends; the page number sits below it.
pub(super) const BOTTOM: f32 = PAGE_H - 56.0;
pub(super) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rgb(pub u8, pub u8, pub u8);

pub(super) const BLACK: Rgb = Rgb(0x1a, 0x1a, 0x1a);
pub(super) const GREY: Rgb = Rgb(0x66, 0x66, 0x66);
pub(super) const RULE: Rgb = Rgb(0xbb, 0xbb, 0xbb);
pub(super) const SHADE: Rgb = Rgb(0xee, 0xee, 0xee);
pub(super) const RED: Rgb = Rgb(0xc6, 0x28, 0x28);
pub(super) const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);

/// One drawing operation, in points from the page's top-left corner.
#[derive(Debug)]
pub(super) enum Op {
    /// `y` is the baseline.
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        color: Rgb,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<Rgb>,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        color: Rgb,
    },
    /// A pin: a filled circle with a white ring.
    Pin { cx: f32, cy: f32, r: f32 },
    /// A JPEG, scaled to the box.
    Image {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        jpeg: Vec<u8>,
    },
}

pub(super) type Page = Vec<Op>;

/// Where finished pages go.
pub(super) enum Sink {
    /// The counting run: pages are counted and dropped.
    Count,
    /// The drawing run: pages go to the writer; `total` is the count of the first run.
    Draw { tx: mpsc::Sender<Page>, total: u32 },
}

/// The page being filled and the vertical position on it.
pub(super) struct Flow {
    sink: Sink,
    page: Page,
    /// The next free vertical position (top of the next line's box).
    pub(super) y: f32,
    /// Pages finished so far.
    done: u32,
}

impl Flow {
    pub(super) fn new(sink: Sink) -> Self {
        Flow {
            sink,
            page: Vec::new(),
            y: TOP,
            done: 0,
        }
    }

    /// Whether pages are drawn (and images worth reading).
    pub(super) fn drawing(&self) -> bool {
        matches!(self.sink, Sink::Draw { .. })
    }

    pub(super) fn push(&mut self, op: Op) {
        self.page.push(op);
    }

    /// Text on one line with its baseline `size` below the current position; does not
    /// move the position.
    pub(super) fn text(&mut self, x: f32, size: f32, weight: Weight, color: Rgb, text: &str) {
        if text.trim().is_empty() {
            return;
        }
        self.page.push(Op::Text {
            x,
            y: self.y + size,
            size,
            weight,
            color,
            text: text.to_owned(),
        });
    }

    /// Finishes the current page (with its number, after the cover) and starts the next.
    pub(super) async fn new_page(&mut self) -> AppResult<()> {
        let mut page = std::mem::take(&mut self.page);
        self.done += 1;
        if let Sink::Draw { tx, total } = &self.sink {
            if self.done > 1 {
                // `n / N` as three runs with gaps a little wider than a space: drawn as
                // one run, poppler's text extraction drops the spaces ("2/4").
                let size = 8.0;
                let parts = [self.done.to_string(), "/".to_owned(), total.to_string()];
                let gap = 1.5 * fonts::width(" ", size, Weight::Regular);
                let widths: f32 = parts
                    .iter()
                    .map(|p| fonts::width(p, size, Weight::Regular))
                    .sum();
                let mut x = PAGE_W - MARGIN - widths - 2.0 * gap;
                for text in parts {
                    let w = fonts::width(&text, size, Weight::Regular);
                    page.push(Op::Text {
                        x,
                        y: PAGE_H - 30.0,
                        size,
                        weight: Weight::Regular,
                        color: GREY,
                        text,
                    });
                    x += w + gap;
                }
            }
            // The writer only stops early when it failed; its error is the one reported.
            tx.send(page)
                .await
                .map_err(|_| AppError::internal(std::io::Error::other("PDF writer stopped")))?;
        }
        self.y = TOP;
        Ok(())
    }

    /// Makes room for `h` points: a new page when they do not fit below the position
    /// (unless the page is still empty, where nothing would fit better). True when a
    /// page was started.
    pub(super) async fn room(&mut self, h: f32) -> AppResult<bool> {
        if self.y + h > BOTTOM && self.y > TOP {
            self.new_page().await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Lines of wrapped text, each on the page that has room for it.
    pub(super) async fn paragraph(
        &mut self,
        x: f32,
        width: f32,
        size: f32,
        weight: Weight,
        color: Rgb,
        text: &str,
    ) -> AppResult<()> {
        let leading = size * 1.35;
        for line in fonts::wrap(text, size, weight, width) {
            self.room(leading).await?;
            self.text(x, size, weight, color, &line);
            self.y += leading;
        }
        Ok(())
    }

    /// Finishes the last page; the number of pages.
    pub(super) async fn finish(mut self) -> AppResult<u32> {
        if !self.page.is_empty() || self.done == 0 {
            self.new_page().await?;
        }
        Ok(self.done)
    }
}
