//! Real files generated in the tests, and a GraphQL multipart request builder.
use std::io::Cursor;

use axum::{body::Body, http::Request};
use image::{ImageFormat, RgbImage};
use serde_json::json;

pub fn image(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7 % 256) as u8, (y * 3 % 256) as u8, 120])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

pub fn png(w: u32, h: u32) -> Vec<u8> {
    image(ImageFormat::Png, w, h)
}

/// A PNG of pseudo-random pixels: it does not compress, so its size is about w·h·3.
pub fn noisy_png(w: u32, h: u32) -> Vec<u8> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let img = RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png).expect("encode");
    out.into_inner()
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    image(ImageFormat::Jpeg, w, h)
}

pub fn webp(w: u32, h: u32) -> Vec<u8> {
    image(ImageFormat::WebP, w, h)
}

pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid PNG whose header declares 100,000 × 100,000 pixels (a decompression bomb's
/// calling card), with a correct CRC so only the size gives it away.
pub fn png_bomb() -> Vec<u8> {
    let mut bytes = png(8, 8);
    // IHDR data starts after the 8-byte signature, 4-byte length and 4-byte type.
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(data);
    out.extend(crc32(&[&kind[..], data].concat()).to_be_bytes());
    out
}

/// An 8×8 PNG whose colour profile (`iCCP`) is `zeros` zero bytes, zlib-compressed:
/// 512 MiB of them take about 520 KB. A colour-profile bomb when `zeros` is large.
pub fn png_with_profile(zeros: u64) -> Vec<u8> {
    use std::io::Read;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::copy(&mut std::io::repeat(0).take(zeros), &mut z).expect("compress");
    let mut profile = b"ICC profile\0\0".to_vec();
    profile.extend(z.finish().expect("compress"));
    let plain = png(8, 8);
    // The profile goes right after the signature (8 bytes) and IHDR (25 bytes).
    [&plain[..33], &png_chunk(b"iCCP", &profile), &plain[33..]].concat()
}

/// `POST /graphql` as the GraphQL multipart request spec has it: operations, map, file.
pub fn upload_request(
    token: Option<&str>,
    defect_id: &str,
    filename: &str,
    bytes: &[u8],
) -> Request<Body> {
    multipart_request(
        token,
        "mutation($d: ID!, $f: Upload!) { uploadAttachment(defectId: $d, file: $f) { id filename contentType size sha256 width height url thumbnailUrl uploadedBy { username } } }",
        json!({ "d": defect_id, "f": null }),
        filename,
        bytes,
    )
}

/// Any operation with one file, sent as the variable `$f`.
pub fn multipart_request(
    token: Option<&str>,
    query: &str,
    variables: serde_json::Value,
    filename: &str,
    bytes: &[u8],
) -> Request<Body> {
    let boundary = "----defect-control-test-boundary";
    let operations = json!({ "query": query, "variables": variables });
    let map = json!({ "0": ["variables.f"] });
    let mut body = Vec::new();
    for (name, value) in [
        ("operations", operations.to_string()),
        ("map", map.to_string()),
    ] {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = Request::post("/graphql").header(
        "content-type",
        format!("multipart/form-data; boundary={boundary}"),
    );
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    req.body(Body::from(body)).expect("request")
}
