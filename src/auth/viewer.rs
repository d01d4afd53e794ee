//! The authenticated caller, resolved once per request by the transport.
use crate::i18n::Msg;
use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Query},
};

pub use crate::config::ProxyHeader;
use crate::{
    auth::{api_tokens, tokens::Keys},
    entities::{
        enums::{ApiTokenScope, Role},
        refresh_tokens, users,
    },
    error::{AppError, AppResult},
};

#[derive(Clone, Debug)]
pub struct Viewer {
    pub id: i32,
    pub username: String,
    pub role: Role,
    /// What the request authenticated with.
    pub via: Via,
}

/// How a viewer proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// A login session's access token (JWT).
    Session,
    /// An API token (`dct_…`): its id, scope and expiry (seconds since the epoch).
    ApiToken {
        id: i32,
        scope: ApiTokenScope,
        expires_at: Option<u64>,
    },
}

impl Viewer {
    pub fn from_user(user: &users::Model) -> Self {
        Viewer {
            id: user.id,
            username: user.username.clone(),
            role: user.role,
            via: Via::Session,
        }
    }

    /// A `READ` API token: queries, subscriptions and downloads only.
    pub fn read_only(&self) -> bool {
        matches!(
            self.via,
            Via::ApiToken {
                scope: ApiTokenScope::Read,
                ..
            }
        )
    }
}

/// What the request's `Authorization` header amounts to. An invalid header does not
/// fail the whole request: `login` still works, everything else is UNAUTHENTICATED.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    Authenticated(Viewer),
    Invalid(AppError),
}

impl Auth {
    pub fn viewer(&self) -> AppResult<&Viewer> {
        match self {
            Auth::Authenticated(v) => Ok(v),
            Auth::Anonymous => Err(AppError::Unauthenticated(Msg::AuthRequired)),
            Auth::Invalid(e) => Err(e.clone()),
        }
    }
}

/// The client's address as the login budget keys it: an IPv4 address, or the /64 network
/// of an IPv6 one (a single host is routinely given a whole /64, so keying by address
/// would hand it 2^64 budgets).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

impl ClientAddr {
    /// The connection's peer, or — when the peer is one of `trusted` proxies — the
    /// right-most address in the one header those proxies write (`header`) that is not a
    /// trusted proxy itself. Only that header is read: the other one passes through a
    /// proxy untouched, so a client could write anything there (the probe's spoof: a
    /// client-written `Forwarded` won over nginx's appended `X-Forwarded-For`). Headers
    /// from any other peer are ignored.
    pub fn resolve(
        peer: IpAddr,
        headers: &HeaderMap,
        trusted: &[IpNet],
        header: ProxyHeader,
    ) -> Self {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
        if !is_trusted(&peer) {
            return Self::of(peer);
        }
        let chain = match header {
            ProxyHeader::Forwarded => forwarded_for(headers),
            ProxyHeader::XForwardedFor => x_forwarded_for(headers),
        };
        // Read from the nearest hop back: each trusted proxy appended the address it saw.
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Some(ip) = hop else { break };
            client = *ip;
            if !is_trusted(ip) {
                break;
            }
        }
        Self::of(client)
    }

    /// The budget key of an address: IPv4 as it is (an IPv4-mapped IPv6 address too),
    /// IPv6 by its /64.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => ClientAddr(v4.to_string()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientAddr(v4.to_string()),
                None => {
                    let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
                    ClientAddr(net.map_or_else(|_| v6.to_string(), |n| n.to_string()))
                }
            },
        }
    }
}

/// `Forwarded: for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"` (RFC 7239), in
/// order; an entry that is not an address (`unknown`, an obfuscated name) is `None`.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all(axum::http::header::FORWARDED)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_node(v.trim().trim_matches('"')))
            })
        })
        .collect()
}

fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| parse_node(v.trim()))
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `[::1]`, `[::1]:80` or `::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    node.parse::<std::net::SocketAddr>().ok().map(|s| s.ip())
}

/// What the `Authorization` header of a request amounts to: the token is checked with
/// `keys`, its user and session are re-read from `db`.
pub async fn resolve(db: &DatabaseConnection, keys: &Keys, headers: &HeaderMap) -> Auth {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Auth::Anonymous;
    };
    let invalid = || Auth::Invalid(AppError::Unauthenticated(Msg::BadToken));
    let Some(token) = value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) else {
        return invalid();
    };
    from_token(db, keys, &BearerToken(token.trim().to_owned())).await
}

/// An access token as presented, kept by a long-lived connection (a WebSocket) so the
/// viewer can be checked again later exactly as a request would check it.
#[derive(Clone, Debug)]
pub struct BearerToken(pub String);

/// What an access token amounts to now: signature and expiry, then the user (active,
/// role) and its session re-read from `db`. An API token (`dct_…`) is looked up by its
/// hash instead, with its user, in one statement (`api_tokens::resolve`).
pub async fn from_token(db: &DatabaseConnection, keys: &Keys, token: &BearerToken) -> Auth {
    if token.0.starts_with(api_tokens::PREFIX) {
        return api_tokens::resolve(db, &token.0).await;
    }
    let claims = match keys.verify_access(&token.0) {
        Ok(c) => c,
        Err(e) => return Auth::Invalid(e),
    };
    match load_active(db, claims.user_id, &claims.session).await {
        Ok(Some(user)) => Auth::Authenticated(Viewer::from_user(&user)),
        Ok(None) => Auth::Invalid(AppError::Unauthenticated(Msg::BadToken)),
        Err(e) => Auth::Invalid(e),
    }
}

/// Role and active flag come from the database on every request, so a role change or a
/// deactivation takes effect whatever tokens the user still holds. The same statement
/// checks that the token's session (refresh family) has not been revoked — by reuse
/// detection, a password change or a deactivation — so revoking it stops its access
/// tokens at once without an extra round trip.
async fn load_active(
    db: &DatabaseConnection,
    id: i32,
    session: &str,
) -> AppResult<Option<users::Model>> {
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(refresh_tokens::Entity)
        .and_where(
            Expr::col((refresh_tokens::Entity, refresh_tokens::Column::FamilyId)).eq(session),
        )
        .and_where(
            Expr::col((refresh_tokens::Entity, refresh_tokens::Column::UserId))
                .equals((users::Entity, users::Column::Id)),
        )
        .and_where(Expr::col((refresh_tokens::Entity, refresh_tokens::Column::RevokedAt)).is_null())
        .to_owned();
    Ok(users::Entity::find_by_id(id)
        .filter(users::Column::IsActive.eq(true))
        .filter(Expr::exists(live_session))
        .one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn resolve(peer: &str, pairs: &[(&str, &str)], trusted: &[&str]) -> String {
        resolve_with(peer, pairs, trusted, ProxyHeader::XForwardedFor)
    }

    fn resolve_with(
        peer: &str,
        pairs: &[(&str, &str)],
        trusted: &[&str],
        header: ProxyHeader,
    ) -> String {
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        ClientAddr::resolve(peer.parse().unwrap(), &headers(pairs), &trusted, header).0
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let spoof = [("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")];
        assert_eq!(resolve("9.9.9.9", &spoof, &[]), "9.9.9.9");
        assert_eq!(resolve("9.9.9.9", &spoof, &["10.0.0.0/8"]), "9.9.9.9");
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let t = ["10.0.0.0/8"];
        assert_eq!(
            resolve("10.0.0.2", &[("x-forwarded-for", "1.2.3.4")], &t),
            "1.2.3.4"
        );
        // The client may prepend lies; only the hop the trusted proxy appended counts.
        assert_eq!(
            resolve(
                "10.0.0.2",
                &[("x-forwarded-for", "6.6.6.6, 1.2.3.4, 10.0.0.7")],
                &t
            ),
            "1.2.3.4"
        );
        let fwd = ProxyHeader::Forwarded;
        assert_eq!(
            resolve_with(
                "10.0.0.2",
                &[(
                    "forwarded",
                    "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https"
                )],
                &t,
                fwd
            ),
            "2001:db8::/64"
        );
        assert_eq!(
            resolve_with("10.0.0.2", &[("forwarded", "for=unknown")], &t, fwd),
            "10.0.0.2",
            "an unknown hop stops the walk at the proxy"
        );
        assert_eq!(resolve("10.0.0.2", &[], &t), "10.0.0.2");
    }

    /// Issue 19: behind nginx's default setup (`X-Forwarded-For: $proxy_add_x_forwarded_for`)
    /// a client-written `Forwarded` header won, so every guess got a fresh budget. Only
    /// the header the proxy writes is read; the other is the client's word.
    #[test]
    fn a_header_the_proxy_does_not_write_is_ignored() {
        let t = ["10.0.0.0/8"];
        let spoof = [
            ("forwarded", "for=203.0.113.99"),
            ("x-forwarded-for", "198.51.100.7"),
        ];
        assert_eq!(resolve("10.0.0.2", &spoof, &t), "198.51.100.7");
        assert_eq!(
            resolve_with("10.0.0.2", &spoof, &t, ProxyHeader::Forwarded),
            "203.0.113.99"
        );
        // A client-written X-Forwarded-For alone (the proxy writes Forwarded): the proxy.
        assert_eq!(
            resolve_with(
                "10.0.0.2",
                &[("x-forwarded-for", "198.51.100.7")],
                &t,
                ProxyHeader::Forwarded
            ),
            "10.0.0.2"
        );
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64_and_mapped_ipv4_is_ipv4() {
        let a = resolve("2001:db8:1:2:aaaa::1", &[], &[]);
        let b = resolve("2001:db8:1:2:ffff:1:2:3", &[], &[]);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, resolve("2001:db8:1:3::1", &[], &[]));
        assert_eq!(resolve("::ffff:192.0.2.1", &[], &[]), "192.0.2.1");
        assert_eq!(resolve("192.0.2.1", &[], &[]), "192.0.2.1");
        assert_eq!(
            ProxyHeader::parse(" Forwarded "),
            Some(ProxyHeader::Forwarded)
        );
        assert_eq!(ProxyHeader::parse("x-real-ip"), None);
    }
}
