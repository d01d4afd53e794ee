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
use crate::i18n::Msg;
use std::io::Read;

use image::ImageFormat;

use crate::error::AppResult;

/// The largest colour profile a PNG may carry, inflated. Profiles of RGB and grey
/// images (all a PNG can hold) are a few KB; the larger CMYK printing profiles cannot
/// appear in a PNG.
pub(super) const MAX_PROFILE_BYTES: u64 = 1024 * 1024;

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
                    return Err(super::bad(|field| Msg::ImageCorrupt { field }));
                }
                if inflated_profile_size(data) > MAX_PROFILE_BYTES {
                    return Err(super::bad(|field| Msg::ImageProfileTooLarge { field }));
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

/// What a progressive JPEG's decoder holds besides the bitmap: zune-jpeg (0.5) keeps
/// every DCT coefficient of every component, two bytes each, until the last scan — up
/// to twice the RGB bitmap for 4:4:4 sampling, more for CMYK. Counted at full resolution
/// from the frame header (the worst case, whatever the sampling); 0 for a baseline JPEG,
/// which is decoded a row of blocks at a time, and for other formats.
pub(super) fn coefficient_bytes(bytes: &[u8], format: ImageFormat) -> u64 {
    if format != ImageFormat::Jpeg {
        return 0;
    }
    let mut rest = bytes.get(2..).unwrap_or_default();
    loop {
        // Markers may be preceded by fill bytes (0xFF).
        let at = rest.iter().position(|&b| b != 0xFF).unwrap_or(rest.len());
        let Some((&marker, after)) = rest.get(at..).and_then(<[u8]>::split_first) else {
            return 0;
        };
        if at == 0 {
            return 0; // not a marker: malformed, left to the decoder
        }
        if marker == 0x01 || (0xD0..=0xD8).contains(&marker) {
            rest = after;
            continue;
        }
        let Some(len) = after
            .get(..2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return 0;
        };
        match (marker, after.get(2..len)) {
            // Start of scan: the frame header, if any, has been seen already.
            (0xDA, _) | (_, None) => return 0,
            // SOF2, SOF6, SOF10, SOF14: progressive frames. Precision, height, width,
            // components.
            (0xC2 | 0xC6 | 0xCA | 0xCE, Some(frame)) if frame.len() >= 6 => {
                let height = u64::from(u16::from_be_bytes([frame[1], frame[2]]));
                let width = u64::from(u16::from_be_bytes([frame[3], frame[4]]));
                let components = u64::from(frame[5]);
                // Blocks of up to 16×16 pixels (an MCU), padded.
                return width.next_multiple_of(16) * height.next_multiple_of(16) * components * 2;
            }
            _ => rest = after.get(len..).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use image::ImageDecoder;

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

    /// SOI, an APP0 segment, a frame header of `sof` (8-bit, 100×50, `n` components),
    /// a start of scan.
    fn jpeg_head(sof: u8, n: u8) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0xAB, 0xCD, 0xFF, 0xFF, sof];
        let frame = [
            &[0, 8 + 3 * n, 8, 0, 50, 0, 100, n][..],
            &[1, 0x11, 0].repeat(usize::from(n)),
        ]
        .concat();
        out.extend(frame);
        out.extend([0xFF, 0xDA, 0, 2]);
        out
    }

    #[test]
    fn progressive_jpegs_count_their_coefficients_and_baseline_ones_nothing() {
        let jpeg = ImageFormat::Jpeg;
        assert_eq!(
            coefficient_bytes(&jpeg_head(0xC2, 3), jpeg),
            112 * 64 * 3 * 2
        );
        assert_eq!(
            coefficient_bytes(&jpeg_head(0xC2, 4), jpeg),
            112 * 64 * 4 * 2
        );
        assert_eq!(coefficient_bytes(&jpeg_head(0xC0, 3), jpeg), 0);
        assert_eq!(coefficient_bytes(&jpeg_head(0xC2, 3)[..12], jpeg), 0);
        assert_eq!(coefficient_bytes(&jpeg_head(0xC2, 3), ImageFormat::Png), 0);
        assert_eq!(coefficient_bytes(b"\xFF\xD8junk", jpeg), 0);
        // A real file's segments (APP0, DQT, SOF0, DHT) before its scan: baseline, and
        // the same file with its frame marked progressive.
        let mut real = Cursor::new(Vec::new());
        image::RgbImage::new(100, 30)
            .write_to(&mut real, ImageFormat::Jpeg)
            .unwrap();
        let mut real = real.into_inner();
        assert_eq!(coefficient_bytes(&real, jpeg), 0);
        let sof = real.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        real[sof + 1] = 0xC2;
        assert_eq!(coefficient_bytes(&real, jpeg), 112 * 32 * 3 * 2);
    }

    /// Defence in depth: the PNG decoder's own inflation of a profile is bounded by
    /// `max_alloc` (the file's side allowance, not the image crate's 512 MiB default),
    /// so a profile that slipped past [`check`] would be dropped after a few MiB.
    #[test]
    fn the_png_decoder_inflates_a_profile_no_further_than_its_max_alloc() {
        let bomb = with_profile(64 * 1024 * 1024, 1);
        let mut decoder = super::super::decoder(&bomb, ImageFormat::Png).unwrap();
        assert_eq!(decoder.icc_profile().unwrap().map(|p| p.len()), None);
        let ordinary = with_profile(3_000, 1);
        let mut decoder = super::super::decoder(&ordinary, ImageFormat::Png).unwrap();
        assert_eq!(decoder.icc_profile().unwrap().map(|p| p.len()), Some(3_000));
    }
}
