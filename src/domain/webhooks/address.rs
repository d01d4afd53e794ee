//! Where a webhook may point (NOTIFY.md, "URLs"): `http` or `https`, no user info, at
//! most 2,048 characters, and no loopback, private, link-local, unspecified or
//! otherwise internal address, checked when the URL is set (the literal, or every
//! address its name resolves to) and again at each delivery: a literal before the
//! request, a name inside the HTTP client's resolver ([`Guard`]), so the address
//! connected to is the address checked (no check-then-connect race for a name whose
//! DNS answer changes). `WEBHOOK_ALLOW_PRIVATE=true` lifts the address rule.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

use crate::{
    error::{AppError, AppResult},
    i18n::Msg,
};

/// The longest URL accepted.
pub const MAX_URL: usize = 2048;
/// How long resolving a name may take when a URL is set.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

fn refused(msg: fn(String) -> Msg) -> AppError {
    AppError::BadUserInput(msg("url".into()))
}

/// Checks a URL as given to `createWebhook`/`updateWebhook`; BAD_USER_INPUT naming `url`.
pub async fn check(raw: &str, allow_private: bool) -> AppResult<Url> {
    if raw.chars().count() > MAX_URL {
        return Err(AppError::BadUserInput(Msg::AtMostChars {
            field: "url".into(),
            max: MAX_URL,
        }));
    }
    let url =
        Url::parse(raw.trim()).map_err(|_| refused(|field| Msg::WebhookUrlInvalid { field }))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(refused(|field| Msg::WebhookUrlInvalid { field }));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused(|field| Msg::WebhookUrlUserInfo { field }));
    }
    if allow_private {
        return Ok(url);
    }
    if let Some(ip) = literal(&url) {
        return if internal(ip) {
            Err(refused(|field| Msg::WebhookUrlPrivate { field }))
        } else {
            Ok(url)
        };
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    // A name that does not resolve now is accepted (the receiver may come later); each
    // delivery resolves it again through `Guard`.
    let found = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await;
    if let Ok(Ok(mut addrs)) = found
        && addrs.any(|a| internal(a.ip()))
    {
        return Err(refused(|field| Msg::WebhookUrlPrivate { field }));
    }
    Ok(url)
}

/// The URL's host when it is an IP address (the client connects to it without
/// resolving, so a delivery checks it itself).
pub fn literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether an address is one no webhook may reach: loopback, private, link-local,
/// unspecified, shared (CGNAT), broadcast, multicast, documentation; in IPv6 also
/// unique-local, site-local, and every IPv4-mapped or -compatible address (an IPv4
/// address in IPv6 clothing is refused whatever it embeds).
pub fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || a >= 240
}

fn internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || ip.to_ipv4_mapped().is_some()
        || ip.segments()[..6].iter().all(|&s| s == 0) // IPv4-compatible ::/96
        || (ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]) // NAT64 64:ff9b::/96
}

/// The HTTP client's resolver at delivery: the system's, with every internal address
/// removed; a name left with none fails the attempt (before any connection).
#[derive(Clone, Copy, Debug, Default)]
pub struct Guard;

#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to addresses webhooks may not reach")]
pub struct Refused(pub String);

impl Resolve for Guard {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| !internal(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_in_every_spelling() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fec0::1",
            "64:ff9b::7f00:1",
        ] {
            assert!(internal(ip.parse().expect(ip)), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "93.184.216.34",
            "2606:4700::1111",
            "2001:4860:4860::8888",
        ] {
            assert!(!internal(ip.parse().expect(ip)), "{ip} must be allowed");
        }
    }

    #[tokio::test]
    async fn url_shapes() {
        let code = |r: AppResult<Url>| r.map(|_| "OK".to_owned()).unwrap_or_else(|e| e.to_string());
        assert_eq!(code(check("https://93.184.216.34/hook", false).await), "OK");
        for bad in [
            "ftp://93.184.216.34/",
            "not a url",
            "https://user:pw@93.184.216.34/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://0x7f.1/",
            "http://localhost:9/",
        ] {
            let got = code(check(bad, false).await);
            assert!(got.starts_with("url:"), "{bad}: {got}");
        }
        let long = format!("https://93.184.216.34/{}", "a".repeat(MAX_URL));
        assert!(code(check(&long, false).await).starts_with("url:"));
        assert_eq!(code(check("http://127.0.0.1:8080/", true).await), "OK");
    }
}
