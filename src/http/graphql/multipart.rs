//! The GraphQL multipart request (`operations`, `map`, files), read as async-graphql's
//! `receive_body` reads it, except that `operations` and `map` are bounded like a JSON
//! body (`MAX_JSON_BODY_BYTES`): the library bounds every field by the file limit, so an
//! authenticated client could have 20 MiB of `operations` held and parsed as JSON before
//! the document's 64 KiB limit was looked at.
use std::io::{Seek, Write};

use async_graphql::{ParseRequestError, Request, UploadValue};
use bytes::Bytes;
use futures_util::Stream;
use multer::{Constraints, Multipart, SizeLimit};
use sha2::{Digest, Sha256};

/// Why a multipart body was not taken.
pub(super) enum Refused {
    /// `operations` or `map` is larger than a JSON body may be.
    TextTooLarge,
    Parse(ParseRequestError),
}

impl From<ParseRequestError> for Refused {
    fn from(e: ParseRequestError) -> Self {
        Refused::Parse(e)
    }
}

impl From<multer::Error> for Refused {
    fn from(e: multer::Error) -> Self {
        match e {
            multer::Error::FieldSizeExceeded { field_name, .. }
                if matches!(field_name.as_deref(), Some("operations" | "map")) =>
            {
                Refused::TextTooLarge
            }
            e => Refused::Parse(e.into()),
        }
    }
}

impl From<std::io::Error> for Refused {
    fn from(e: std::io::Error) -> Self {
        Refused::Parse(ParseRequestError::Io(e))
    }
}

/// The request and, when `digest` is asked (a request with an `Idempotency-Key`), the
/// SHA-256 of each upload's contents in the order of `request.uploads`, computed as the
/// file is written (no second read).
pub(super) async fn receive<S, E>(
    body: S,
    content_type: &str,
    max_file: u64,
    max_text: u64,
    digest: bool,
) -> Result<(Request, Vec<[u8; 32]>), Refused>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + 'static,
{
    let boundary = multer::parse_boundary(content_type)?;
    let limits = SizeLimit::new()
        .per_field(max_file)
        .for_field("operations", max_text)
        .for_field("map", max_text);
    let mut multipart =
        Multipart::with_constraints(body, boundary, Constraints::new().size_limit(limits));
    let (mut request, mut map, mut files) = (None, None, Vec::new());
    while let Some(mut field) = multipart.next_field().await? {
        match field.name() {
            Some("operations") => {
                let text = field.bytes().await?;
                let batch = async_graphql::http::receive_batch_json(&text[..]).await?;
                request = Some(batch.into_single()?);
            }
            Some("map") => {
                let text = field.bytes().await?;
                map = Some(
                    serde_json::from_slice::<std::collections::HashMap<String, Vec<String>>>(&text)
                        .map_err(|e| ParseRequestError::InvalidFilesMap(Box::new(e)))?,
                );
            }
            _ => {
                let (Some(name), Some(filename)) = (
                    field.name().map(str::to_owned),
                    field.file_name().map(str::to_owned),
                ) else {
                    continue;
                };
                let content_type = field.content_type().map(ToString::to_string);
                let mut file = tempfile::tempfile()?;
                let mut hash = digest.then(Sha256::new);
                while let Some(chunk) = field.chunk().await? {
                    file.write_all(&chunk)?;
                    if let Some(h) = hash.as_mut() {
                        h.update(&chunk);
                    }
                }
                file.rewind()?;
                let sha: [u8; 32] = hash.map(|h| h.finalize().into()).unwrap_or_default();
                files.push((name, filename, content_type, file, sha));
            }
        }
    }
    let mut request = request.ok_or(ParseRequestError::MissingOperatorsPart)?;
    let mut map = map.ok_or(ParseRequestError::MissingMapPart)?;
    let mut digests = Vec::new();
    for (name, filename, content_type, content, sha) in files {
        let Some(paths) = map.remove(&name) else {
            continue;
        };
        let upload = UploadValue {
            filename,
            content_type,
            content,
        };
        for path in paths {
            let before = request.uploads.len();
            request.set_upload(&path, upload.try_clone()?);
            // `set_upload` skips a path that names no variable.
            if request.uploads.len() > before {
                digests.push(sha);
            }
        }
    }
    if !map.is_empty() {
        return Err(ParseRequestError::MissingFiles.into());
    }
    Ok((request, digests))
}
