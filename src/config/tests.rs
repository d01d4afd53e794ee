use super::*;

fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    })
}

#[test]
fn defaults_are_the_documented_ones() {
    let c = with(&[]).unwrap();
    assert_eq!(c.database_url, DEFAULT_DATABASE_URL);
    assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8000");
    assert_eq!(c.storage_url, "./data/media");
    assert_eq!(c.max_upload_bytes, 20 * 1024 * 1024);
    assert_eq!(c.access_token_ttl, Duration::from_secs(900));
    assert_eq!(c.refresh_token_ttl, Duration::from_secs(7 * 24 * 3600));
    assert!(c.jwt_secret.is_none());
    assert_eq!(c.header_read_timeout, Duration::from_secs(10));
    assert_eq!(c.max_connections, 512);
    assert_eq!(c.max_connections_per_address, 128);
    assert_eq!(c.ws_reserved_connections, 64);
    assert_eq!((c.ws_max_per_user, c.ws_max_per_address), (64, 64));
    assert_eq!(c.ws_ping_interval, Duration::from_secs(30));
    assert_eq!(c.ws_idle_timeout, Duration::from_secs(75));
    // A small cap keeps a quarter for HTTP by default.
    let small = with(&[("MAX_CONNECTIONS", "10")]).unwrap();
    assert_eq!(small.ws_reserved_connections, 2);
    assert_eq!(c.max_subscriptions_per_user, 64);
}

#[test]
fn bad_values_name_their_key() {
    for (key, value) in [
        ("BIND_ADDR", "nowhere"),
        ("MAX_UPLOAD_BYTES", "20MB"),
        ("MAX_JSON_BODY_BYTES", "0"),
        ("ACCESS_TOKEN_TTL", "-1"),
        ("DATABASE_URL", "mysql://x"),
        ("CORS_ORIGINS", "example.com"),
        ("JWT_SECRET", "short"),
        ("APP_ENV", "staging"),
        ("GRAPHIQL", "maybe"),
        ("API_DOCS", "maybe"),
        ("REQUEST_TIMEOUT_SECS", "1"),
        ("SHUTDOWN_GRACE_SECS", "soon"),
        ("PUBLIC_URL", "defects.example.com"),
        ("HEADER_READ_TIMEOUT_SECS", "0"),
        ("MAX_CONNECTIONS", "0"),
        ("MAX_SUBSCRIPTIONS_PER_USER", "0"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "proxy.local"),
        ("TRUSTED_PROXY_HEADER", "x-real-ip"),
        ("LOGIN_MAX_FAILURES_PER_USER", "0"),
        ("LOGIN_LOCKOUT_SECS", "0"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "0"),
        ("WS_RESERVED_CONNECTIONS", "512"),
        ("WS_MAX_PER_USER", "0"),
        ("WS_MAX_PER_ADDRESS", "128"),
        ("WS_PING_INTERVAL_SECS", "0"),
        ("WS_IDLE_TIMEOUT_SECS", "30"),
    ] {
        let e = with(&[(key, value)]).expect_err(key);
        assert_eq!(e.key, key);
        assert!(e.to_string().contains(key));
    }
}

#[test]
fn production_requires_a_jwt_secret_and_a_public_url() {
    let e = with(&[("APP_ENV", "production")]).unwrap_err();
    assert_eq!(e.key, "JWT_SECRET");
    let secret = "x".repeat(40);
    let e = with(&[("APP_ENV", "production"), ("JWT_SECRET", &secret)]).unwrap_err();
    assert_eq!(
        e.key, "PUBLIC_URL",
        "links must not take their origin from Host"
    );
    let url = ("PUBLIC_URL", "https://defects.example.com");
    assert!(with(&[("APP_ENV", "production"), ("JWT_SECRET", &secret), url]).is_ok());
}

#[test]
fn trusted_proxies_take_blocks_and_addresses() {
    let c = with(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7 ,::1")]).unwrap();
    let nets: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
    assert_eq!(nets, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
    assert!(with(&[]).unwrap().trusted_proxies.is_empty());
}

#[test]
fn cors_origins_are_split_on_commas() {
    let c = with(&[("CORS_ORIGINS", "https://a.example, http://localhost:3000")]).unwrap();
    assert_eq!(
        c.cors_origins,
        vec!["https://a.example", "http://localhost:3000"]
    );
}

#[test]
fn smtp_settings_are_checked_at_boot() {
    let c = with(&[]).unwrap();
    assert_eq!(c.smtp_url, None);
    assert_eq!(c.smtp_from, "defect-control <noreply@localhost>");
    for url in [
        "smtp://127.0.0.1:1025",
        "smtps://user:p%40ss@mail.example.com",
        "smtp://mail.example.com:587?tls=required",
    ] {
        let c = with(&[
            ("SMTP_URL", url),
            ("SMTP_FROM", "Defects <noreply@example.com>"),
        ])
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(c.smtp_url.as_deref(), Some(url));
        assert_eq!(c.smtp_from, "Defects <noreply@example.com>");
    }
    assert_eq!(with(&[("SMTP_URL", "  ")]).unwrap().smtp_url, None);
    for url in [
        "mail.example.com",
        "http://mail.example.com",
        "smtp://",
        "smtp://host?tls=maybe",
        "smtp://user:hunter2@?tls=x",
    ] {
        let e = with(&[("SMTP_URL", url)]).expect_err(url);
        assert_eq!(e.key, "SMTP_URL", "{url}");
        assert!(!e.message.contains("hunter2"), "{}", e.message);
    }
    for from in ["noreply", "Defects <noreply>", "a@b.c, d@e.f", "<>"] {
        let e = with(&[("SMTP_FROM", from)]).expect_err(from);
        assert_eq!(e.key, "SMTP_FROM", "{from}");
        assert!(e.to_string().contains("SMTP_FROM"));
    }
}
