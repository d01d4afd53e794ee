//! The images of the document, each read from storage and decoded one at a time under
//! the upload's decoding budget (`defects::files::decode_bounded`), then scaled down and
//! re-encoded as a small JPEG: the document holds the scaled copies, never the originals.
//! An image that cannot be read leaves a labelled empty box, never a failed document.
use std::{io::Cursor, sync::Arc};

use image::{DynamicImage, RgbImage, imageops};

use crate::{domain::defects::files, storage::Storage};

/// Longest side of a photo in the document: about 200 dpi in its box.
const PHOTO_MAX_PX: u32 = 720;
/// Longest side a plan is kept at for cutting excerpts from.
const PLAN_MAX_PX: u32 = 2000;
/// Decoded plans kept: defects of one report are usually pinned on a few plans, and
/// decoding a plan again for each defect would dominate the time. At most
/// 3 × 2000 × 2000 × 3 bytes (36 MB).
const PLAN_CACHE: usize = 3;
/// Pixels per point of an excerpt's box.
const EXCERPT_SCALE: f32 = 2.0;
const QUALITY: u8 = 72;

fn jpeg(img: &RgbImage) -> Option<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(img)
        .ok()?;
    Some(out.into_inner())
}

/// The image scaled down (never up) to fit `max`×`max`, as RGB.
fn fit(img: DynamicImage, max: u32) -> RgbImage {
    if img.width() <= max && img.height() <= max {
        img.to_rgb8()
    } else {
        img.thumbnail(max, max).to_rgb8()
    }
}

/// One stored image, decoded within the budget and handed to `then`; `None` (logged)
/// when it cannot be read.
async fn decoded<T: Send + 'static>(
    storage: &Storage,
    key: &str,
    then: impl FnOnce(DynamicImage) -> T + Send + 'static,
) -> Option<T> {
    let bytes = match storage.get_bytes(key).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(key, error = %e, "handover PDF: image not readable from storage");
            return None;
        }
    };
    match files::decode_bounded(bytes, then).await {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(key, error = %e, "handover PDF: image not decodable");
            None
        }
    }
}

/// A photo scaled to at most [`PHOTO_MAX_PX`], as JPEG.
pub(super) async fn photo(storage: &Storage, key: &str) -> Option<Vec<u8>> {
    decoded(storage, key, |img| jpeg(&fit(img, PHOTO_MAX_PX)))
        .await
        .flatten()
}

/// Where the pin falls in an excerpt, 0..1 from its top-left corner.
pub(super) struct Excerpt {
    pub(super) jpeg: Vec<u8>,
    pub(super) pin_x: f32,
    pub(super) pin_y: f32,
}

/// The window of a `w`×`h` bitmap around (`px`, `py`) with the box's aspect ratio: a
/// third of the plan's width (at least 300 px, at most all of it), moved inside the
/// plan where the pin is near an edge. Returns left, top, width, height.
fn window(w: u32, h: u32, px: f32, py: f32, aspect: f32) -> (u32, u32, u32, u32) {
    let (wf, hf) = (w as f32, h as f32);
    let mut cw = (wf / 3.0).max(300.0).min(wf);
    let mut ch = cw / aspect;
    if ch > hf {
        ch = hf;
        cw = (ch * aspect).min(wf);
    }
    let (cw, ch) = (
        (cw as u32).clamp(1, w.max(1)),
        (ch as u32).clamp(1, h.max(1)),
    );
    let left = (px - cw as f32 / 2.0).clamp(0.0, w.saturating_sub(cw) as f32);
    let top = (py - ch as f32 / 2.0).clamp(0.0, h.saturating_sub(ch) as f32);
    (left as u32, top as u32, cw, ch)
}

/// Decoded image plans, most recently used last.
#[derive(Default)]
pub(super) struct Plans {
    cache: Vec<(i32, Option<Arc<RgbImage>>)>,
}

impl Plans {
    async fn bitmap(&mut self, storage: &Storage, id: i32, key: &str) -> Option<Arc<RgbImage>> {
        if let Some(i) = self.cache.iter().position(|(p, _)| *p == id) {
            let hit = self.cache.remove(i);
            let bitmap = hit.1.clone();
            self.cache.push(hit);
            return bitmap;
        }
        let bitmap = decoded(storage, key, |img| Arc::new(fit(img, PLAN_MAX_PX))).await;
        if self.cache.len() >= PLAN_CACHE {
            self.cache.remove(0);
        }
        // A plan that failed is remembered as failed: not read again for each defect.
        self.cache.push((id, bitmap.clone()));
        bitmap
    }

    /// The region of plan `id` around the pin (`x`, `y` in 0..1) for a box of
    /// `w`×`h` points.
    pub(super) async fn excerpt(
        &mut self,
        storage: &Storage,
        (id, key): (i32, &str),
        (x, y): (f64, f64),
        (w, h): (f32, f32),
    ) -> Option<Excerpt> {
        let bitmap = self.bitmap(storage, id, key).await?;
        tokio::task::spawn_blocking(move || {
            let (bw, bh) = bitmap.dimensions();
            let px = x.clamp(0.0, 1.0) as f32 * bw as f32;
            let py = y.clamp(0.0, 1.0) as f32 * bh as f32;
            let (left, top, cw, ch) = window(bw, bh, px, py, w / h);
            let crop = imageops::crop_imm(&*bitmap, left, top, cw, ch).to_image();
            let out_w = ((w * EXCERPT_SCALE) as u32).min(cw).max(1);
            let out_h = ((h * EXCERPT_SCALE) as u32).min(ch).max(1);
            let scaled = imageops::thumbnail(&crop, out_w, out_h);
            Some(Excerpt {
                jpeg: jpeg(&scaled)?,
                pin_x: (px - left as f32) / cw as f32,
                pin_y: (py - top as f32) / ch as f32,
            })
        })
        .await
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn the_window_surrounds_the_pin_and_stays_inside_the_plan() {
        // Centre: the pin in the middle of a third of the width.
        assert_eq!(
            window(3000, 2000, 1500.0, 1000.0, 1.5),
            (1000, 667, 1000, 666)
        );
        // A corner: moved inside, the pin off-centre.
        let (l, t, w, h) = window(3000, 2000, 10.0, 1990.0, 1.5);
        assert_eq!((l, t + h), (0, 2000));
        assert_eq!(w, 1000);
        // A small plan: all of it, at most.
        let (l, t, w, h) = window(200, 100, 50.0, 50.0, 1.5);
        assert!(l == 0 && t == 0 && w <= 200 && h <= 100);
    }
}
