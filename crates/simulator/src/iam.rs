//! The two IAM calls clients make: password login (`POST /v3/auth/tokens`) and project lookup.

use serde_json::{json, Value};

use super::query::Query;
use super::server::{Reply, Sim};

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn unauthorized() -> Reply {
    let body = json!({ "error": { "code": 401, "title": "Unauthorized",
        "message": "The username or password is wrong." }, "error_code": "IAM.0004",
        "error_msg": "The username or password is wrong." });
    Reply::json(401, &body)
}

/// Password login: 201 with the token in `X-Subject-Token`.
pub fn login(sim: &Sim, body: &[u8]) -> Reply {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Reply::error(400, "IAM.0002", "The request body is invalid.");
    };
    let identity = &v["auth"]["identity"];
    let password_method = identity["methods"]
        .as_array()
        .is_some_and(|m| m.iter().any(|x| x == "password"));
    let user = field(identity, &["password", "user", "name"]).unwrap_or("");
    let password = field(identity, &["password", "user", "password"]).unwrap_or("");
    let domain = field(identity, &["password", "user", "domain", "name"]).unwrap_or("");
    if !password_method || !sim.creds.password_matches(domain, user, password) {
        sim.with_stats(|s| s.auth_failures += 1);
        return unauthorized();
    }
    let issued = sim.tokens.issue(user, sim.token_lifetime);
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let body = json!({ "token": {
        "expires_at": fmt(issued.expires_at),
        "issued_at": fmt(issued.issued_at),
        "methods": ["password"],
        "user": { "name": user, "id": "u-demo", "domain": { "name": domain, "id": "d-demo" } },
        "project": { "name": sim.creds.project, "id": sim.project_id },
        "catalog": []
    }});
    let mut reply = Reply::json(201, &body);
    reply.headers.push(("x-subject-token", issued.token));
    reply
}

/// `GET /v3/projects?name=`: the SDK's lookup of the project id for AK/SK without one.
pub fn projects(sim: &Sim, q: &Query) -> Reply {
    let matches = q.get("name").is_none_or(|n| n == sim.creds.project);
    let projects: Vec<Value> = matches
        .then(|| json!({ "id": sim.project_id, "name": sim.creds.project, "domain_id": "d-demo", "enabled": true }))
        .into_iter()
        .collect();
    Reply::json(
        200,
        &json!({ "projects": projects, "links": { "self": "/v3/projects", "next": null, "previous": null } }),
    )
}
