//! What an image carries besides its pixels, checked from the file's structure before a
//! decoder sees it.
//!
//! Of the formats we accept, PNG alone compresses metadata that the decoder expands on
//! its own: the `png` crate (0.18) inflates the colour profile (`iCCP`) while it reads
//! the header, up to its allocation limit, and silently drops a profile that does not
//! fit — so a 500 KB chunk could cost hundreds of MB before the decoder gave up, and a
//! file whose profile expands that far would still be stored and served to browsers.
//! A profile larger than [`MAX_PROFILE_BYTES`] inflated is therefore refused here,
//! counted with a fixed buffer. The other compressed PNG chunks (`zTXt`, `iTXt`) are
//! inflated only on request (`xmp_metadata`, `iptc_metadata`), which we never make.
//! JPEG segments (ICC profiles in APP2, EXIF and XMP in APP1) and WebP chunks (`ICCP`,
//! `EXIF`, `XMP `) are stored uncompressed: the decoders copy them at most once per
//! header read, which the decoding budget counts as a multiple of the file's size.
use std::io::Read;

use image::ImageFormat;

use crate::error::AppResult;

/// The largest colour profile a PNG may carry, inflated. Profiles of RGB and grey
/// images (all a PNG can hold) are a few KB; the larger CMYK printing profiles cannot
/// appear in a PNG.
pub const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Refuses an image whose metadata would expand beyond its limit when decoded.
pub(super) fn check(bytes: &[u8], format: ImageFormat) -> AppResult<()> {
    match format {
        ImageFormat::Png => check_png(bytes),
        _ => Ok(()),
    }
}

fn check_png(bytes: &[u8]) -> AppResult<()> {
    let mut rest = bytes.strip_prefix(PNG_SIGNATURE).unwrap_or_default();
    let mut profiles = 0;
    while let Some((kind, data, after)) = next_chunk(rest) {
        match kind {
            b"iCCP" => {
                // The decoder refuses a second profile too; refusing it here first means
                // one inflation per file at most.
                profiles += 1;
                if profiles > 1 {
                    return Err(super::bad("the image is corrupt or truncated"));
                }
                if inflated_profile_size(data) > MAX_PROFILE_BYTES {
                    return Err(super::bad(
                        "the image's colour profile is too large (at most 1 MiB)",
                    ));
                }
            }
            b"IEND" => break,
            _ => {}
        }
        rest = after;
    }
    // A truncated or malformed chunk list ends the walk: the decoder refuses the file.
    Ok(())
}

/// The next chunk's type and data, and what follows its CRC.
fn next_chunk(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let len = usize::try_from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    let kind = bytes.get(4..8)?;
    let data = bytes.get(8..8usize.checked_add(len)?)?;
    let after = bytes.get(8 + len + 4..)?;
    Some((kind, data, after))
}

/// How many bytes an `iCCP` chunk's profile inflates to, counted up to one past the
/// limit (the count stops there). A profile the decoder would not inflate (a bad name,
/// an unknown method) counts 0; a corrupt stream counts what came out before the error,
/// as the decoder's inflater gets about as far.
fn inflated_profile_size(data: &[u8]) -> u64 {
    // A name of 1–79 bytes and its NUL, then the compression method (0: zlib).
    let Some(nul) = data.iter().take(80).position(|&b| b == 0) else {
        return 0;
    };
    let Some((&0, stream)) = data.get(nul + 1..).and_then(<[u8]>::split_first) else {
        return 0;
    };
    let mut inflater = flate2::read::ZlibDecoder::new(stream).take(MAX_PROFILE_BYTES + 1);
    let mut buf = [0u8; 16 * 1024];
    let mut total = 0u64;
    while let Ok(n @ 1..) = inflater.read(&mut buf) {
        total += n as u64;
    }
    total
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend(kind);
        out.extend(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(crc.sum().to_be_bytes());
        out
    }

    /// An 8×8 PNG with an `iCCP` chunk holding `zeros` zero bytes, compressed.
    fn with_profile(zeros: u64, copies: usize) -> Vec<u8> {
        let mut png = Cursor::new(Vec::new());
        image::RgbImage::new(8, 8)
            .write_to(&mut png, ImageFormat::Png)
            .unwrap();
        let png = png.into_inner();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::copy(&mut std::io::repeat(0).take(zeros), &mut z).unwrap();
        let mut data = b"bomb\0\0".to_vec();
        data.extend(z.finish().unwrap());
        // After the signature and the IHDR chunk (8 + 25 bytes).
        let mut out = png[..33].to_vec();
        for _ in 0..copies {
            out.extend(chunk(b"iCCP", &data));
        }
        out.extend(&png[33..]);
        out
    }

    fn message(bytes: &[u8]) -> Option<String> {
        check(bytes, ImageFormat::Png).err().map(|e| e.to_string())
    }

    #[test]
    fn a_profile_up_to_the_limit_passes_and_one_byte_more_is_refused() {
        assert_eq!(message(&with_profile(3_000, 1)), None);
        assert_eq!(message(&with_profile(MAX_PROFILE_BYTES, 1)), None);
        assert_eq!(
            message(&with_profile(MAX_PROFILE_BYTES + 1, 1)).as_deref(),
            Some("file: the image's colour profile is too large (at most 1 MiB)")
        );
        assert_eq!(
            message(&with_profile(100, 2)).as_deref(),
            Some("file: the image is corrupt or truncated")
        );
    }

    #[test]
    fn profiles_the_decoder_would_not_inflate_count_nothing() {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&[0; 4096]).unwrap();
        let stream = z.finish().unwrap();
        assert_eq!(
            inflated_profile_size(&[b"p", &[0, 0][..], &stream].concat()),
            4096
        );
        assert_eq!(
            inflated_profile_size(&[b"p", &[0, 1][..], &stream].concat()),
            0
        );
        assert_eq!(inflated_profile_size(&[0; 100]), 0);
        assert_eq!(inflated_profile_size(b"no name end"), 0);
        assert_eq!(
            inflated_profile_size(&[b"p", &[0, 0][..], b"junk"].concat()),
            0
        );
    }

    #[test]
    fn a_cut_chunk_list_ends_the_walk() {
        let png = with_profile(MAX_PROFILE_BYTES * 4, 1);
        assert!(message(&png).is_some());
        // Cut inside the iCCP chunk: not a profile any decoder reads.
        assert_eq!(message(&png[..60]), None);
        assert_eq!(message(b"\x89PNG\r\n\x1a\n"), None);
    }
}
