//! The SMTP transport for notification e-mails (lettre), built once from `SMTP_URL`
//! and `SMTP_FROM`. PLACEHOLDER: the sending half lands with the e-mail work.

/// A configured SMTP sender.
pub struct Mailer {
    pub url: String,
    pub from: String,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> Self {
        Mailer {
            url: url.to_owned(),
            from: from.to_owned(),
        }
    }
}
