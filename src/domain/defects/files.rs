//! What an uploaded file is, decided from its bytes: the type by content sniffing
//! (`infer`), images decoded under dimension and allocation limits (`image`), a
//! thumbnail for images, and a filename that is metadata only.
use std::io::Cursor;

use bytes::Bytes;
use image::{ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Longest side of a thumbnail.
pub const THUMBNAIL_MAX: u32 = 320;
/// Images above this many pixels are refused before decoding (a decompression bomb
/// declares huge dimensions in a few bytes).
pub const MAX_PIXELS: u64 = 50_000_000;
const MAX_SIDE: u32 = 20_000;
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

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

fn bad(message: &str) -> AppError {
    AppError::bad_input("file", message)
}

/// What image decoding may hold at once across all uploads, in MiB. Decoding needs the
/// whole bitmap (a 49-megapixel PNG of a few KB is 147 MB of RGB), so concurrent uploads
/// of such images would otherwise add up to gigabytes. Each decode reserves its exact
/// buffer size first (from the header) and waits its turn; an image larger than the
/// whole budget runs alone. Not a setting: it is sized for the 50 MP limit below.
pub const DECODE_BUDGET_MIB: u32 = 256;
static DECODE_BUDGET: Semaphore = Semaphore::const_new(DECODE_BUDGET_MIB as usize);

/// [`inspect`] on the blocking pool, under the decoding memory budget.
pub async fn inspect_bounded(bytes: Bytes, thumbnail: Thumbnail) -> AppResult<Inspected> {
    let (_, format) = kind(&bytes)?;
    let permit = match format {
        Some(format) => {
            let need = reader(&bytes, format)
                .into_decoder()
                .map_err(|e| image_error(&e))?
                .total_bytes();
            let mib = u32::try_from(need.div_ceil(1024 * 1024))
                .unwrap_or(u32::MAX)
                .clamp(1, DECODE_BUDGET_MIB);
            Some(
                DECODE_BUDGET
                    .acquire_many(mib)
                    .await
                    .map_err(AppError::internal)?,
            )
        }
        None => None,
    };
    // The permit moves into the task: if the request is dropped (client gone), the
    // decode still runs to its end, and so must its reservation.
    tokio::task::spawn_blocking(move || {
        let result = inspect_for(&bytes, thumbnail);
        drop(permit);
        result
    })
    .await
    .map_err(AppError::internal)?
}

/// The accepted content type, and the image format when it is an image.
fn kind(bytes: &[u8]) -> AppResult<(&'static str, Option<ImageFormat>)> {
    match infer::get(bytes).map(|k| k.mime_type()) {
        Some("image/jpeg") => Ok(("image/jpeg", Some(ImageFormat::Jpeg))),
        Some("image/png") => Ok(("image/png", Some(ImageFormat::Png))),
        Some("image/webp") => Ok(("image/webp", Some(ImageFormat::WebP))),
        Some("application/pdf") => Ok(("application/pdf", None)),
        _ => Err(bad("only JPEG, PNG, WebP and PDF files are accepted")),
    }
}

fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut r = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    r.limits(limits);
    r
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
        return Err(AppError::PayloadTooLarge(format!(
            "the file is larger than {max_bytes} bytes"
        )));
    }
    if file.bytes.is_empty() {
        return Err(AppError::bad_input("file", "is empty"));
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
            return Err(bad("the PDF is truncated or corrupt"));
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
    // Dimensions come from the header alone: refuse a bomb before decoding a pixel.
    let (width, height) = reader(bytes, format)
        .into_dimensions()
        .map_err(|e| image_error(&e))?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width > MAX_SIDE || height > MAX_SIDE {
        return Err(bad(
            "the image is too large (at most 50 megapixels, 20000 px a side)",
        ));
    }
    let image = reader(bytes, format)
        .decode()
        .map_err(|e| image_error(&e))?;
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
        image::ImageError::Limits(_) => bad("the image is too large to process"),
        _ => bad("the image is corrupt or truncated"),
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
