//! What an uploaded file is, decided from its bytes: the type by content sniffing
//! (`infer`), images decoded under dimension and allocation limits (`image`), a
//! thumbnail for images, and a filename that is metadata only.
use crate::i18n::Msg;
use std::io::Cursor;

use bytes::Bytes;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{AppError, AppResult};

mod metadata;

use metadata::MAX_PROFILE_BYTES;

/// Longest side of a thumbnail.
pub const THUMBNAIL_MAX: u32 = 320;
/// Images above this many pixels are refused before decoding (a decompression bomb
/// declares huge dimensions in a few bytes).
pub const MAX_PIXELS: u64 = 50_000_000;
const MAX_SIDE: u32 = 20_000;
/// The largest bitmap a decode may allocate (50 MP of 16-bit RGBA is 400 MB).
const MAX_BITMAP_BYTES: u64 = 512 * 1024 * 1024;
const MIB: u64 = 1024 * 1024;

#[derive(Debug, PartialEq)]
pub struct Inspected {
    pub content_type: &'static str,
    pub sha256: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// A JPEG thumbnail, for images.
    pub thumbnail: Option<Vec<u8>>,
}

/// BAD_USER_INPUT against `file`.
fn bad(message: fn(String) -> Msg) -> AppError {
    AppError::BadUserInput(message("file".into()))
}

/// What image decoding may hold at once across all uploads, in MiB. Decoding needs the
/// whole bitmap (a 49-megapixel PNG of a few KB is 147 MB of RGB), so concurrent uploads
/// of such images would otherwise add up to gigabytes. Each decode reserves what it will
/// hold first (the bitmap, from the header, a progressive JPEG's coefficients, and the
/// decoder's own allocations, see [`side_alloc`]) and waits its turn; an image larger
/// than the whole budget runs alone.
/// Not a setting: it is sized for the 50 MP limit below.
pub const DECODE_BUDGET_MIB: u32 = 256;
static DECODE_BUDGET: Semaphore = Semaphore::const_new(DECODE_BUDGET_MIB as usize);

/// What a decoder may allocate besides the bitmap, for a file of `len` bytes: its copy
/// of the file (JPEG), the metadata it keeps (PNG chunk buffers grow by doubling, so
/// twice the largest chunk, plus the text chunks; JPEG segments, once per header read)
/// and the inflated colour profile. It is the decoder's `max_alloc`, which the PNG
/// decoder enforces on all of its own allocations, and part of every reservation.
fn side_alloc(len: usize) -> u64 {
    3 * len as u64 + MAX_PROFILE_BYTES
}

async fn reserve(bytes: u64) -> AppResult<SemaphorePermit<'static>> {
    let mib = u32::try_from(bytes.div_ceil(MIB))
        .unwrap_or(u32::MAX)
        .clamp(1, DECODE_BUDGET_MIB);
    DECODE_BUDGET
        .acquire_many(mib)
        .await
        .map_err(AppError::internal)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(AppError::internal)?
}

/// [`inspect`] on the blocking pool, under the decoding memory budget. Nothing is read
/// on the runtime's threads: sniffing the type and checking the metadata (which inflates
/// a PNG's colour profile, counted with a fixed buffer) run first, on the blocking pool
/// and outside the budget since they hold no more than a few KB; reading the header
/// (which makes the decoder inflate that profile again) runs under a reservation of
/// [`side_alloc`]; the decode under a reservation of the bitmap and [`side_alloc`].
/// The two reservations are taken one after the other, never held together: a task
/// holding one while waiting for more could wait forever.
pub async fn inspect_bounded(bytes: Bytes, thumbnail: Thumbnail) -> AppResult<Inspected> {
    let probe = bytes.clone();
    let format = blocking(move || {
        let (_, format) = kind(&probe)?;
        if let Some(format) = format {
            metadata::check(&probe, format)?;
        }
        Ok(format)
    })
    .await?;
    let permit = match format {
        Some(format) => Some(reserve_decode(&bytes, format).await?),
        None => None,
    };
    // The permit moves into the task: if the request is dropped (client gone), the
    // decode still runs to its end, and so must its reservation.
    blocking(move || {
        let result = inspect_for(&bytes, thumbnail);
        drop(permit);
        result
    })
    .await
}

/// The reservation for decoding `bytes`: the header is read under a reservation of
/// [`side_alloc`], which is released before the whole decode's is taken.
async fn reserve_decode(bytes: &Bytes, format: ImageFormat) -> AppResult<SemaphorePermit<'static>> {
    let header = reserve(side_alloc(bytes.len())).await?;
    let probe = bytes.clone();
    let need = blocking(move || {
        let need = decoder(&probe, format).map(|d| {
            d.total_bytes()
                .saturating_add(metadata::coefficient_bytes(&probe, format))
                .saturating_add(side_alloc(probe.len()))
        });
        drop(header);
        need
    })
    .await?;
    reserve(need).await
}

/// A stored image (accepted once as an upload) decoded under the same limits and the
/// same memory budget as an upload, handed to `then` on the blocking pool; the budget
/// is held until `then` returns, so what it derives (a scaled copy) is counted too.
/// For the handover document, which reads images one at a time.
pub async fn decode_bounded<T: Send + 'static>(
    bytes: Bytes,
    then: impl FnOnce(DynamicImage) -> T + Send + 'static,
) -> AppResult<T> {
    let probe = bytes.clone();
    let format = blocking(move || {
        let format = kind(&probe)?
            .1
            .ok_or_else(|| bad(|field| Msg::FileTypes { field }))?;
        metadata::check(&probe, format)?;
        Ok(format)
    })
    .await?;
    let permit = reserve_decode(&bytes, format).await?;
    blocking(move || {
        let result = decode(&bytes, format).map(then);
        drop(permit);
        result
    })
    .await
}

/// The accepted content type, and the image format when it is an image.
fn kind(bytes: &[u8]) -> AppResult<(&'static str, Option<ImageFormat>)> {
    match infer::get(bytes).map(|k| k.mime_type()) {
        Some("image/jpeg") => Ok(("image/jpeg", Some(ImageFormat::Jpeg))),
        Some("image/png") => Ok(("image/png", Some(ImageFormat::Png))),
        Some("image/webp") => Ok(("image/webp", Some(ImageFormat::WebP))),
        Some("application/pdf") => Ok(("application/pdf", None)),
        _ => Err(bad(|field| Msg::FileTypes { field })),
    }
}

/// A decoder that has read the header, under the limits: dimensions (refused before any
/// pixel is decoded: a bomb declares huge ones in a few bytes) and [`side_alloc`] as
/// `max_alloc`. The bitmap is not counted in that `max_alloc` (`ImageReader::decode`
/// would): [`decode`] checks it against [`MAX_BITMAP_BYTES`].
fn decoder(bytes: &[u8], format: ImageFormat) -> AppResult<impl ImageDecoder + '_> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(side_alloc(bytes.len()));
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| image_error(&e))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(bad(|field| Msg::ImageTooLarge { field }));
    }
    Ok(decoder)
}

fn decode(bytes: &[u8], format: ImageFormat) -> AppResult<DynamicImage> {
    let decoder = decoder(bytes, format)?;
    if decoder.total_bytes() > MAX_BITMAP_BYTES {
        return Err(bad(|field| Msg::ImageTooLargeToProcess { field }));
    }
    DynamicImage::from_decoder(decoder).map_err(|e| image_error(&e))
}

/// Whether an image upload gets a thumbnail (attachments) or not (plans: the image is
/// its own preview). The image is decoded either way: that is what finds a corrupt one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Thumbnail {
    Make,
    Skip,
}

/// An upload as received: checked for size and emptiness, then inspected (type by
/// content, image limits) off the runtime threads. Returns the sanitised filename, the
/// bytes to store and what they are. Shared by attachments and plans.
pub async fn accept(
    file: super::attachments::Upload,
    max_bytes: u64,
    thumbnail: Thumbnail,
) -> AppResult<(String, Bytes, Inspected)> {
    if file.bytes.len() as u64 > max_bytes {
        return Err(AppError::PayloadTooLarge(Msg::FileTooLarge {
            limit: max_bytes,
        }));
    }
    if file.bytes.is_empty() {
        return Err(AppError::BadUserInput(Msg::FileEmpty {
            field: "file".into(),
        }));
    }
    let filename = sanitize_filename(&file.filename);
    let bytes = Bytes::from(file.bytes);
    let inspected = inspect_bounded(bytes.clone(), thumbnail).await?;
    Ok((filename, bytes, inspected))
}

/// Decides whether the bytes are an accepted file and describes them. CPU-bound and,
/// for images, memory-hungry: call [`inspect_bounded`] from async code.
pub fn inspect(bytes: &[u8]) -> AppResult<Inspected> {
    inspect_for(bytes, Thumbnail::Make)
}

fn inspect_for(bytes: &[u8], thumbnail: Thumbnail) -> AppResult<Inspected> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    let size = bytes.len() as u64;
    let (content_type, format) = kind(bytes)?;
    let Some(format) = format else {
        if !bytes.windows(5).rev().take(1024).any(|w| w == b"%%EOF") {
            return Err(bad(|field| Msg::PdfCorrupt { field }));
        }
        return Ok(Inspected {
            content_type,
            sha256,
            size,
            width: None,
            height: None,
            thumbnail: None,
        });
    };
    metadata::check(bytes, format)?;
    let image = decode(bytes, format)?;
    let (width, height) = (image.width(), image.height());
    if thumbnail == Thumbnail::Skip {
        return Ok(Inspected {
            content_type,
            sha256,
            size,
            width: Some(width),
            height: Some(height),
            thumbnail: None,
        });
    }
    let thumb = image.thumbnail(THUMBNAIL_MAX, THUMBNAIL_MAX).to_rgb8();
    drop(image);
    let mut out = Cursor::new(Vec::new());
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&thumb)
        .map_err(|e| AppError::internal(std::io::Error::other(e.to_string())))?;
    Ok(Inspected {
        content_type,
        sha256,
        size,
        width: Some(width),
        height: Some(height),
        thumbnail: Some(out.into_inner()),
    })
}

fn image_error(e: &image::ImageError) -> AppError {
    match e {
        image::ImageError::Limits(_) => bad(|field| Msg::ImageTooLargeToProcess { field }),
        _ => bad(|field| Msg::ImageCorrupt { field }),
    }
}

/// Bidirectional controls: `photo\u{202E}gpj.exe` shows as `photoexe.jpg`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// The user's filename as metadata: no directories, no control or bidi characters, no
/// leading dots, at most 255 bytes. Never used as a storage key.
pub fn sanitize_filename(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut out = String::new();
    for c in cleaned.chars() {
        if out.len() + c.len_utf8() > 255 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() { "file".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn images_get_dimensions_and_a_small_thumbnail() {
        let i = inspect(&png(800, 400)).unwrap();
        assert_eq!(
            (i.content_type, i.width, i.height),
            ("image/png", Some(800), Some(400))
        );
        let t = image::load_from_memory(i.thumbnail.as_ref().unwrap()).unwrap();
        assert_eq!((t.width(), t.height()), (320, 160));
        assert_eq!(i.sha256.len(), 64);
    }

    #[test]
    fn the_name_does_not_decide_the_type() {
        assert!(inspect(b"just some text, named photo.png").is_err());
        let mut truncated = png(64, 64);
        truncated.truncate(truncated.len() / 2);
        assert_eq!(
            inspect(&truncated).unwrap_err().to_string(),
            "file: the image is corrupt or truncated"
        );
    }

    #[test]
    fn filenames_lose_directories_and_control_characters() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\x\\фото 1.jpg"), "фото 1.jpg");
        assert_eq!(sanitize_filename("a\u{0}b\r\n.png"), "ab.png");
        assert_eq!(sanitize_filename(".."), "file");
        assert_eq!(sanitize_filename("photo\u{202E}gpj.exe"), "photogpj.exe");
        assert_eq!(
            sanitize_filename("\u{2066}a\u{2069}\u{200E}b\u{200F}\u{061C}\u{202A}.pdf"),
            "ab.pdf"
        );
        assert_eq!(sanitize_filename(".hidden"), "hidden");
        assert_eq!(sanitize_filename(""), "file");
        assert!(sanitize_filename(&"ж".repeat(300)).len() <= 255);
    }
}
