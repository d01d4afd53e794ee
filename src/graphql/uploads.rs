//! Reading a multipart `Upload` into memory under the configured limit, for every
//! mutation that takes a file (attachments, plans).
use crate::i18n::Msg;
use async_graphql::{Context, Upload};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{
    domain::defects::attachments,
    error::{AppError, GqlResultExt},
    graphql::context::ContextExt,
};

/// The file's name and at most `MAX_UPLOAD_BYTES + 1` of its bytes (one past the limit,
/// so the service can answer PAYLOAD_TOO_LARGE).
pub async fn read(ctx: &Context<'_>, file: Upload) -> async_graphql::Result<attachments::Upload> {
    let value = file
        .value(ctx)
        .map_err(|_| {
            AppError::BadUserInput(Msg::FileMissing {
                field: "file".into(),
            })
        })
        .gql()?;
    let limit = ctx.state().config.max_upload_bytes;
    let mut bytes = Vec::new();
    // The multipart reader already enforces the limit; reading one byte past it keeps
    // this safe even if that ever changes.
    let mut file = tokio::fs::File::from_std(value.content);
    // One file may be mapped to several variables (the multipart spec allows it);
    // each gets a handle on the same temp file, sharing its offset, so every reader
    // starts from the beginning. Mutations run one after another, so reads do not
    // interleave.
    file.seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(AppError::internal)
        .gql()?;
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(AppError::internal)
        .gql()?;
    Ok(attachments::Upload {
        filename: value.filename,
        bytes,
    })
}
