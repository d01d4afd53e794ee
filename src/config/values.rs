//! Reading one setting: numbers, flags, address lists, and the error that names the key.
use tokio::sync::Semaphore;

use super::ConfigError;

/// A setting as read: trimmed, and an empty one is as if unset (what `KEY=` in an env
/// file means).
pub(super) fn trimmed(get: impl Fn(&str) -> Option<String>) -> impl Fn(&str) -> Option<String> {
    move |key| {
        get(key)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

pub(super) fn err(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        message: message.into(),
    }
}

pub(super) fn number(
    val: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    match val(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| err(key, format!("expected a non-negative integer, got {v:?}"))),
    }
}

pub(super) fn positive_u32(
    val: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: u64,
) -> Result<u32, ConfigError> {
    u32::try_from(number(val, key, default)?)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| err(key, "must be between 1 and 4294967295"))
}

pub(super) fn positive_usize(
    val: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: u64,
) -> Result<usize, ConfigError> {
    usize::try_from(number(val, key, default)?)
        .ok()
        .filter(|n| (1..=Semaphore::MAX_PERMITS).contains(n))
        .ok_or_else(|| err(key, "must be a positive number"))
}

/// `10.0.0.0/8, 192.168.1.7, ::1`: CIDR blocks or single addresses.
pub(super) fn parse_networks(list: &str) -> Result<Vec<ipnet::IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{s:?} is neither an address nor a CIDR block"))
        })
        .collect()
}

pub(super) fn boolean(
    val: &impl Fn(&str) -> Option<String>,
    key: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match val(key).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => Err(err(key, format!("expected true or false, got {v:?}"))),
    }
}

/// `SMTP_URL` (None: no e-mail) and `SMTP_FROM`, checked as the mailer will use them:
/// the URL by lettre's own parser (scheme, host, `?tls=`), without connecting; the
/// sender as one mailbox. A bad URL's message never repeats it (it may hold a password).
pub(super) fn smtp(
    val: &impl Fn(&str) -> Option<String>,
) -> Result<(Option<String>, String), ConfigError> {
    let url = val("SMTP_URL");
    if let Some(u) = &url {
        let why = if !(u.starts_with("smtp://") || u.starts_with("smtps://")) {
            Some("must start with smtp:// or smtps://".to_owned())
        } else {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(u)
                .err()
                .map(|e| format!("not an SMTP URL: {e}"))
        };
        if let Some(why) = why {
            return Err(err(
                "SMTP_URL",
                format!(
                    "{why} (expected smtp://host:port, smtps://user:password@host or \
                     smtp://host:587?tls=required)"
                ),
            ));
        }
    }
    let from = val("SMTP_FROM").unwrap_or_else(|| "defect-control <noreply@localhost>".to_owned());
    if let Err(e) = from.parse::<lettre::message::Mailbox>() {
        return Err(err(
            "SMTP_FROM",
            format!(
                "expected an address such as `Defects <noreply@example.com>`, got {from:?} ({e})"
            ),
        ));
    }
    Ok((url, from))
}
