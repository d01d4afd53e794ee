//! `auth`: one small query (`me`) with the login's JWT and with an API token, back to
//! back and twice, so the server CPU per request of the two ways of authenticating can
//! be compared (issue 25: a token may cost at most 0.1 ms more than a JWT). The token
//! is created for the run and revoked after it.
use std::{sync::Arc, time::Duration};

use serde_json::json;

use crate::load::{self, HttpClient, Target, drive, graphql};

const ME: &str = "{ me { id username role } }";

pub async fn auth(
    client: &HttpClient,
    jwt: &Arc<Target>,
    concurrency: usize,
    duration: Duration,
    pid: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let (_, made) = graphql(
        client,
        jwt,
        "mutation { createApiToken(name: \"bench auth\", scope: READ) { secret token { id } } }",
        json!({}),
    )
    .await;
    let made = &made["data"]["createApiToken"];
    let secret = made["secret"]
        .as_str()
        .ok_or("createApiToken failed (20 live tokens already?)")?;
    let api = Arc::new(Target {
        base: jwt.base.clone(),
        token: secret.to_owned(),
    });
    // Alternated, so a change of the machine's load between the two shows as a
    // difference between the rounds rather than as the tokens' cost.
    for _round in 0..2 {
        for (name, target) in [
            ("auth: me, JWT", jwt.clone()),
            ("auth: me, API token (READ)", api.clone()),
        ] {
            let cpu = load::CpuMeter::start(pid);
            let client = client.clone();
            let r = drive(name, concurrency, duration, move |_, _| {
                let (client, target) = (client.clone(), target.clone());
                async move { graphql(&client, &target, ME, json!({})).await.0 }
            })
            .await;
            println!("{}", r.row(concurrency, cpu.stop()));
        }
    }
    graphql(
        client,
        jwt,
        "mutation($id: ID!) { revokeApiToken(id: $id) }",
        json!({ "id": made["token"]["id"] }),
    )
    .await;
    Ok(())
}
