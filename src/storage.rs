//! Object storage for attachments (`object_store`: a local directory, memory, or S3) and
//! the signed, short-lived download links.
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use hmac::{Hmac, Mac};
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, memory::InMemory, path::Path};
use sha2::Sha256;

use crate::config::ConfigError;

/// How long a signed download link stays valid.
pub const LINK_TTL_SECS: u64 = 900;
/// A finished document's download link lives longer (FIELD.md: at least an hour), so
/// a client that polls rarely still gets a working one.
pub const DOCUMENT_LINK_TTL_SECS: u64 = 2 * 3600;

#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    /// Where this storage lives, for logs (never contains credentials).
    pub description: String,
    /// The directory, for local storage (checked to be writable).
    local_dir: Option<std::path::PathBuf>,
}

/// Creates and removes a uniquely named file in `dir`: a directory the server may not
/// write is found at start and by `/ready`, not by the first upload.
fn probe(dir: &std::path::Path) -> std::io::Result<()> {
    let file = dir.join(format!(".write-probe-{:016x}", rand::random::<u64>()));
    std::fs::write(&file, b"")?;
    std::fs::remove_file(&file)
}

#[derive(Debug, thiserror::Error)]
#[error("storage error: {0}")]
pub struct StorageError(#[from] pub object_store::Error);

impl Storage {
    /// `memory://`, `s3://bucket/prefix` (with the `s3` feature; credentials, region and
    /// endpoint from the standard `AWS_*` variables), `file:///dir` or a plain directory.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let bad = |message: String| ConfigError {
            key: "STORAGE_URL",
            message,
        };
        if url == "memory://" || url == "memory" {
            return Ok(Storage {
                store: Arc::new(InMemory::new()),
                prefix: Path::default(),
                description: "memory".into(),
                local_dir: None,
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("s3:// needs a bucket: s3://bucket/prefix".into()));
            }
            return s3(bucket, prefix, url).map_err(bad);
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        if dir.contains("://") {
            return Err(bad(format!(
                "unsupported storage {url:?}: use a directory, memory:// or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| bad(format!("{dir}: {e}")))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| bad(format!("{dir}: {e}")))?;
        probe(std::path::Path::new(dir))
            .map_err(|e| bad(format!("the directory {dir} is not writable: {e}")))?;
        Ok(Storage {
            store: Arc::new(store),
            prefix: Path::default(),
            description: format!("directory {dir}"),
            local_dir: Some(dir.into()),
        })
    }

    /// `Err` with a reason when a local storage directory cannot be written now.
    pub async fn check_writable(&self) -> Result<(), String> {
        let Some(dir) = self.local_dir.clone() else {
            return Ok(());
        };
        let shown = dir.display().to_string();
        match tokio::task::spawn_blocking(move || probe(&dir)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!(
                "the storage directory {shown} is not writable: {e}"
            )),
            Err(e) => Err(format!("the storage check failed: {e}")),
        }
    }

    fn path(&self, key: &str) -> Path {
        let mut p = self.prefix.clone();
        for part in key.split('/').filter(|p| !p.is_empty()) {
            p = p.join(part);
        }
        p
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Uploads a file in parts (a multipart upload on S3, aborted on failure), a few
    /// parts in memory at most however large the file: a generated document.
    pub async fn put_file(&self, key: &str, mut file: tokio::fs::File) -> Result<(), StorageError> {
        use tokio::io::AsyncWriteExt;
        let mut w = object_store::buffered::BufWriter::new(self.store.clone(), self.path(key));
        let done = match tokio::io::copy(&mut file, &mut w).await {
            Ok(_) => w.shutdown().await,
            Err(e) => Err(w.abort().await.map_or_else(std::io::Error::other, |()| e)),
        };
        done.map_err(|e| {
            object_store::Error::Generic {
                store: "file",
                source: Box::new(e),
            }
            .into()
        })
    }

    /// The object's bytes as a stream, so a download never buffers the whole file.
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<Bytes, object_store::Error>>, StorageError> {
        Ok(self.store.get(&self.path(key)).await?.into_stream())
    }

    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&self.path(key)).await?.bytes().await?)
    }

    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&self.path(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix` (for consistency checks: nothing orphaned, nothing lost).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        use futures_util::TryStreamExt;
        let base = self.path(prefix);
        let metas: Vec<_> = self.store.list(Some(&base)).try_collect().await?;
        Ok(metas.into_iter().map(|m| m.location.to_string()).collect())
    }

    /// Removes an object; one that is already gone is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Best-effort removal of several objects (after the rows that named them are gone);
    /// failures are logged, since the rows no longer reference them.
    pub async fn delete_all(&self, keys: &[String]) {
        for key in keys {
            if let Err(e) = self.delete(key).await {
                tracing::error!(key, error = %e, "could not remove a stored object");
            }
        }
    }
}

#[cfg(feature = "s3")]
fn s3(bucket: &str, prefix: &str, url: &str) -> Result<Storage, String> {
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()
        .map_err(|e| format!("{url}: {e}"))?;
    Ok(Storage {
        store: Arc::new(store),
        prefix: Path::from(prefix.trim_matches('/')),
        description: format!("s3 bucket {bucket}"),
        local_dir: None,
    })
}

#[cfg(not(feature = "s3"))]
fn s3(_bucket: &str, _prefix: &str, url: &str) -> Result<Storage, String> {
    Err(format!(
        "{url}: this build has no S3 support; build with `--features s3`"
    ))
}

/// Which file of an attachment a link opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Original,
    Thumbnail,
}

impl FileKind {
    pub fn segment(self) -> &'static str {
        match self {
            FileKind::Original => "file",
            FileKind::Thumbnail => "thumbnail",
        }
    }
}

/// HMAC-SHA256 over `attachment id : kind : expiry`, keyed separately from the JWT key.
pub struct LinkSigner {
    key: Vec<u8>,
}

type HmacSha256 = Hmac<Sha256>;

impl LinkSigner {
    /// Derives the link key from the server secret, so a link signature is never a
    /// token signature.
    pub fn new(secret: &[u8]) -> Self {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"defect-control attachment links v1");
        LinkSigner {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac_of(&self, subject: &str) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(subject.as_bytes());
        mac
    }

    /// Hex signature of `subject`.
    fn sign(&self, subject: &str) -> String {
        hex::encode(self.mac_of(subject).finalize().into_bytes())
    }

    /// Constant-time check of `sig` over `subject`, and of the expiry.
    fn check(&self, subject: &str, expires: u64, sig: &str, now: u64) -> bool {
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        expires >= now && self.mac_of(subject).verify_slice(&sig).is_ok()
    }

    /// What an attachment link signs: `id : kind : expiry`.
    fn attachment_subject(id: i32, kind: FileKind, expires: u64) -> String {
        format!("{id}:{}:{expires}", kind.segment())
    }

    /// A plan's subject starts with `plan:`, an attachment's with its id: a signature
    /// for one never opens the other.
    fn plan_subject(id: i32, expires: u64) -> String {
        format!("plan:{id}:{expires}")
    }

    /// `/api/plans/{id}/file?exp=…&sig=…`
    pub fn plan_url(&self, id: i32, now: u64) -> String {
        let expires = now + LINK_TTL_SECS;
        let sig = self.sign(&Self::plan_subject(id, expires));
        format!("/api/plans/{id}/file?exp={expires}&sig={sig}")
    }

    /// Constant-time check of a plan link's signature and expiry.
    pub fn verify_plan(&self, id: i32, expires: u64, sig: &str, now: u64) -> bool {
        self.check(&Self::plan_subject(id, expires), expires, sig, now)
    }

    /// `/api/documents/{id}/file?exp=…&sig=…`, valid [`DOCUMENT_LINK_TTL_SECS`]; its
    /// subject starts with `document:`, so it never opens an attachment or a plan.
    pub fn document_url(&self, id: i64, now: u64) -> String {
        let expires = now + DOCUMENT_LINK_TTL_SECS;
        let sig = self.sign(&format!("document:{id}:{expires}"));
        format!("/api/documents/{id}/file?exp={expires}&sig={sig}")
    }

    /// Constant-time check of a document link's signature and expiry.
    pub fn verify_document(&self, id: i64, expires: u64, sig: &str, now: u64) -> bool {
        self.check(&format!("document:{id}:{expires}"), expires, sig, now)
    }

    /// `/api/attachments/{id}/{file|thumbnail}?exp=…&sig=…`
    pub fn url(&self, id: i32, kind: FileKind, now: u64) -> String {
        let expires = now + LINK_TTL_SECS;
        let sig = self.sign(&Self::attachment_subject(id, kind, expires));
        format!(
            "/api/attachments/{id}/{}?exp={expires}&sig={sig}",
            kind.segment()
        )
    }

    /// Constant-time check of a link's signature and expiry.
    pub fn verify(&self, id: i32, kind: FileKind, expires: u64, sig: &str, now: u64) -> bool {
        self.check(
            &Self::attachment_subject(id, kind, expires),
            expires,
            sig,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (u64, String) {
        let q = url.split_once('?').unwrap().1;
        let mut exp = 0;
        let mut sig = String::new();
        for kv in q.split('&') {
            match kv.split_once('=').unwrap() {
                ("exp", v) => exp = v.parse().unwrap(),
                ("sig", v) => sig = v.into(),
                _ => {}
            }
        }
        (exp, sig)
    }

    #[test]
    fn a_link_opens_its_own_file_only_until_it_expires() {
        let s = LinkSigner::new(b"secret");
        let url = s.url(7, FileKind::Original, 1000);
        assert!(url.starts_with("/api/attachments/7/file?"));
        let (exp, sig) = parts(&url);
        assert!(s.verify(7, FileKind::Original, exp, &sig, 1000));
        assert!(
            !s.verify(8, FileKind::Original, exp, &sig, 1000),
            "another attachment"
        );
        assert!(
            !s.verify(7, FileKind::Thumbnail, exp, &sig, 1000),
            "another kind"
        );
        assert!(
            !s.verify(7, FileKind::Original, exp + 1, &sig, 1000),
            "another expiry"
        );
        assert!(
            !s.verify(7, FileKind::Original, exp, &sig, exp + 1),
            "expired"
        );
        assert!(
            !LinkSigner::new(b"other").verify(7, FileKind::Original, exp, &sig, 1000),
            "another key"
        );
        assert!(!s.verify(7, FileKind::Original, exp, "zz", 1000));
    }

    #[test]
    fn plan_links_are_their_own_namespace() {
        let s = LinkSigner::new(b"secret");
        let url = s.plan_url(7, 1000);
        assert!(url.starts_with("/api/plans/7/file?"));
        let (exp, sig) = parts(&url);
        assert!(s.verify_plan(7, exp, &sig, 1000));
        assert!(!s.verify_plan(8, exp, &sig, 1000), "another plan");
        assert!(
            !s.verify(7, FileKind::Original, exp, &sig, 1000),
            "not an attachment link"
        );
        assert!(!s.verify_plan(7, exp, &sig, exp + 1), "expired");
    }

    #[tokio::test]
    async fn storage_urls_are_validated() {
        assert!(Storage::from_url("memory://").is_ok());
        assert_eq!(
            Storage::from_url("ftp://x").err().map(|e| e.key),
            Some("STORAGE_URL")
        );
        assert!(Storage::from_url("s3://").is_err());
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::from_url(dir.path().to_str().unwrap()).unwrap();
        s.put("a/b.bin", Bytes::from_static(b"hi")).await.unwrap();
        assert_eq!(
            s.get_bytes("a/b.bin").await.unwrap(),
            Bytes::from_static(b"hi")
        );
        s.delete("a/b.bin").await.unwrap();
        assert!(!s.exists("a/b.bin").await.unwrap());
        s.delete("a/b.bin").await.unwrap();
    }
}
