//! `GET /api/plans/{id}/file` by signed link, as the attachment downloads are tested: a
//! link with only one of `exp`/`sig` is a broken link (403 FORBIDDEN, also with a bearer
//! token), and so are an expired one, a tampered signature or expiry, another plan's or
//! an attachment's signature; the link GraphQL gave works without any header.
use axum::http::StatusCode;
use defect_control::storage::FileKind;
use serde_json::Value;

use super::{get_bytes, site, upload};
use crate::{files, helpers::apps};

/// `exp` and `sig` of a link.
fn parts(url: &str) -> (String, String) {
    let (mut exp, mut sig) = (None, None);
    for kv in url.split_once('?').unwrap().1.split('&') {
        match kv.split_once('=').unwrap() {
            ("exp", v) => exp = Some(v.to_owned()),
            ("sig", v) => sig = Some(v.to_owned()),
            _ => {}
        }
    }
    (exp.unwrap(), sig.unwrap())
}

fn flip_last(hex: &str) -> String {
    let mut s = hex.to_owned();
    let last = s.pop().unwrap();
    s.push(if last == '0' { '1' } else { '0' });
    s
}

#[tokio::test]
async fn only_a_whole_valid_unexpired_link_opens_a_plan() {
    for app in apps().await {
        let s = site(&app).await;
        let png = files::png(40, 30);
        let mut ids = Vec::new();
        let mut urls = Vec::new();
        for (title, bytes) in [("L3", png.clone()), ("L4", files::png(8, 8))] {
            let body = upload(&app, &s.manager, s.project, None, title, "l.png", &bytes).await;
            let plan = &body["data"]["uploadPlan"];
            ids.push(plan["id"].as_str().unwrap().parse::<i32>().unwrap());
            urls.push(plan["url"].as_str().unwrap().to_owned());
        }
        let (id, url) = (ids[0], &urls[0]);
        let (exp, sig) = parts(url);
        let path = format!("/api/plans/{id}/file");

        // The link as given: the bytes, no header needed.
        assert_eq!(
            get_bytes(&app, url, None).await,
            (StatusCode::OK, png.clone())
        );

        let expired = app.state.links.plan_url(id, 1_000);
        let (old_exp, old_sig) = parts(&expired);
        let (other_exp, other_sig) = parts(&urls[1]);
        let attachment =
            app.state
                .links
                .url(id, FileKind::Original, defect_control::time::unix_now());
        let (att_exp, att_sig) = parts(&attachment);
        let later = exp.parse::<u64>().unwrap() + 60;
        let refused = [
            // Exactly one of the two.
            (format!("{path}?exp={exp}"), "only exp"),
            (format!("{path}?sig={sig}"), "only sig"),
            (format!("{path}?exp=&sig={sig}"), "empty exp"),
            // Expired, though correctly signed for its expiry.
            (expired.clone(), "expired"),
            (
                format!("{path}?exp={old_exp}&sig={old_sig}"),
                "expired, spelled out",
            ),
            // Tampered.
            (
                format!("{path}?exp={exp}&sig={}", flip_last(&sig)),
                "signature changed",
            ),
            (format!("{path}?exp={exp}&sig=zz{sig}"), "signature not hex"),
            (
                format!("{path}?exp={later}&sig={sig}"),
                "expiry pushed back",
            ),
            (format!("{path}?exp=soon&sig={sig}"), "expiry not a number"),
            // Another plan's link, an attachment's signature for the same id.
            (
                format!("{path}?exp={other_exp}&sig={other_sig}"),
                "another plan's",
            ),
            (
                format!("{path}?exp={att_exp}&sig={att_sig}"),
                "an attachment's",
            ),
            // A plan that does not exist says no more than a bad link.
            (
                format!("/api/plans/999999/file?exp={exp}&sig={sig}"),
                "no such plan",
            ),
        ];
        for (link, what) in &refused {
            for token in [None, Some(s.manager.token.as_str())] {
                let (status, body) = get_bytes(&app, link, token).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "[{}] {what} (token: {})",
                    app.backend,
                    token.is_some()
                );
                let body: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(body["error"]["code"], "FORBIDDEN", "{what}: {body}");
            }
        }
        // Neither: the token decides (401 without one).
        assert_eq!(
            get_bytes(&app, &path, None).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            get_bytes(&app, &path, Some(&s.observer.token)).await,
            (StatusCode::OK, png)
        );
    }
}
