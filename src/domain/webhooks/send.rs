//! One POST of a delivery (NOTIFY.md, "Delivery"): `reqwest` over rustls, a timeout on
//! the whole exchange, no redirects followed, no proxy, at most [`MAX_RESPONSE`] bytes
//! of the answer read, and the address rule applied again (`address::Guard` inside the
//! client's resolver; a literal address before the request).
use std::{sync::Arc, time::Duration};

use reqwest::{Client, Url, redirect::Policy};

use super::address;

/// The most of a receiver's answer read (the rest is dropped with the connection).
pub const MAX_RESPONSE: usize = 64 * 1024;

/// How one attempt ended.
#[derive(Debug)]
pub struct Attempt {
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why it is not delivered (None: a 2xx).
    pub error: Option<String>,
}

/// The HTTP client of deliveries, built once per process.
pub struct Sender {
    client: Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool, timeout: Duration) -> Self {
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut builder = Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!(
                "defect-control-webhooks/",
                env!("CARGO_PKG_VERSION")
            ));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(address::Guard));
        }
        Sender {
            client: builder
                .build()
                .expect("the webhook client's settings are valid"),
            allow_private,
        }
    }

    /// POSTs `body` to `url` with the Standard Webhooks headers.
    pub async fn post(
        &self,
        url: &str,
        headers: [(&'static str, String); 3],
        body: Vec<u8>,
    ) -> Attempt {
        let failed = |error: String| Attempt {
            status: None,
            error: Some(error),
        };
        let Ok(url) = Url::parse(url) else {
            return failed("the URL does not parse".into());
        };
        if !self.allow_private && address::literal(&url).is_some_and(address::internal) {
            return failed("the URL's address is one webhooks may not reach".into());
        }
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return failed(chain(&e)),
        };
        let status = response.status();
        // Read at most MAX_RESPONSE bytes (within the client's timeout), then drop the rest.
        let mut read = 0usize;
        let mut error = None;
        while read < MAX_RESPONSE {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) => break,
                Err(e) => {
                    error = Some(chain(&e));
                    break;
                }
            }
        }
        drop(response);
        Attempt {
            status: Some(status.as_u16()),
            error: if status.is_success() {
                None
            } else {
                Some(error.unwrap_or_else(|| format!("HTTP {}", status.as_u16())))
            },
        }
    }
}

/// An error and its causes, one line, at most 500 characters.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out.chars().take(500).collect()
}
