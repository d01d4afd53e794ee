//! The SMTP transport for notification e-mails (lettre), built once from `SMTP_URL`
//! and `SMTP_FROM`. Building it connects to nothing: each [`Mailer::send`] opens its own
//! connection (no pool), so a dead server costs the job that tries it, never a request.
use std::time::Duration;

use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
};

use crate::config::ConfigError;

/// The longest one e-mail may take: connecting (lettre's own timeout) and, around it,
/// the whole conversation, so a server that accepts and then stalls cannot hold the job
/// past its lease.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A configured SMTP sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// Why an e-mail was not sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again later: no connection, a timeout, a 4xx reply, a TLS failure.
    #[error("{0}")]
    Transient(String),
    /// Trying again cannot help: a 5xx reply (unknown recipient, refused sender,
    /// authentication refused) or an address that is not one.
    #[error("{0}")]
    Permanent(String),
}

/// `SMTP_FROM` as a mailbox (`Defects <noreply@example.com>` or a bare address).
pub fn parse_from(from: &str) -> Result<Mailbox, ConfigError> {
    from.trim().parse().map_err(|e| ConfigError {
        key: "SMTP_FROM",
        message: format!(
            "expected an address such as `Defects <noreply@example.com>`, got {from:?} ({e})"
        ),
    })
}

/// The transport `SMTP_URL` describes (`smtp://host:port`, `smtps://user:pass@host`,
/// `smtp://host:587?tls=required`), without connecting.
fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, ConfigError> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(bad_url("must start with smtp:// or smtps://"));
    }
    // The URL may carry a password: the message names the cause, never the URL.
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| bad_url(&format!("not an SMTP URL: {e}")))?;
    Ok(builder.timeout(Some(TIMEOUT)).build())
}

fn bad_url(why: &str) -> ConfigError {
    ConfigError {
        key: "SMTP_URL",
        message: format!(
            "{why} (expected smtp://host:port, smtps://user:password@host or smtp://host:587?tls=required)"
        ),
    }
}

impl Mailer {
    /// Fails on a bad `SMTP_URL` or `SMTP_FROM`; connects to nothing.
    pub fn new(url: &str, from: &str) -> Result<Self, ConfigError> {
        Ok(Mailer {
            transport: transport(url)?,
            from: parse_from(from)?,
        })
    }

    /// Sends one plain-text (UTF-8) e-mail to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), SendError> {
        let to: Mailbox = to
            .trim()
            .parse()
            .map_err(|e| SendError::Permanent(format!("the recipient {to:?}: {e}")))?;
        // A Message-ID in the sender's domain (lettre's default names `localhost`).
        let id = format!(
            "<{:032x}@{}>",
            rand::random::<u128>(),
            self.from.email.domain()
        );
        let message = Message::builder()
            .message_id(Some(id))
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())
            .map_err(|e| SendError::Permanent(format!("the message: {e}")))?;
        match tokio::time::timeout(TIMEOUT, self.transport.send(message)).await {
            Err(_) => Err(SendError::Transient(format!(
                "no answer from the SMTP server within {} s",
                TIMEOUT.as_secs()
            ))),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            Ok(Err(e)) => Err(SendError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn building_connects_to_nothing_and_checks_both_settings() {
        // Port 9 (discard) on a documentation address: building must not try it.
        for url in [
            "smtp://127.0.0.1:1025",
            "smtp://mail.example.com:587?tls=required",
            "smtps://user:p%40ss@192.0.2.1",
        ] {
            assert!(
                Mailer::new(url, "Defects <noreply@example.com>").is_ok(),
                "{url}"
            );
        }
        for url in [
            "http://mail.example.com",
            "smtp://",
            "smtp://host?tls=maybe",
        ] {
            let e = Mailer::new(url, "noreply@example.com").err().expect(url);
            assert_eq!(e.key, "SMTP_URL", "{url}");
        }
        let secret = Mailer::new("smtp://user:hunter2@?tls=maybe", "a@b.c")
            .err()
            .expect("no host");
        assert!(!secret.message.contains("hunter2"), "{}", secret.message);
        for from in ["", "noreply", "Defects <noreply>", "a@b.c, d@e.f"] {
            let e = Mailer::new("smtp://127.0.0.1:1025", from)
                .err()
                .expect(from);
            assert_eq!(e.key, "SMTP_FROM", "{from:?}");
        }
        assert!(Mailer::new("smtp://127.0.0.1:1025", "noreply@example.com").is_ok());
    }

    #[tokio::test]
    async fn nothing_listening_is_transient_and_a_bad_recipient_permanent() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let m = Mailer::new(&format!("smtp://127.0.0.1:{port}"), "a@example.com").expect("mailer");
        let e = m.send("b@example.com", "s", "b").await.expect_err("dead");
        assert!(matches!(e, SendError::Transient(_)), "{e:?}");
        let e = m.send("not an address", "s", "b").await.expect_err("bad");
        assert!(matches!(e, SendError::Permanent(_)), "{e:?}");
    }
}
