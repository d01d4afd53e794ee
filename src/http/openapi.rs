//! The REST shim described as OpenAPI 3.1, generated from the handlers' annotations; the
//! committed `openapi.json` is checked against it by a test, like `schema.graphql`.
use axum::Json;
use serde::Serialize;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};

// What is written is `error::RestErrorBody` (borrowed strings, no schema derive); a test
// below keeps the two the same shape. (A `///` line here would change `openapi.json`.)
/// Every REST error.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// One of the contract's codes, e.g. `UNAUTHENTICATED`, `BAD_USER_INPUT`, `RATE_LIMITED`.
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct StatusBody {
    /// `ok` (health) or `ready` (ready).
    pub status: String,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "defect-control REST shim",
        description = "Login and refresh, CSV export, the handover PDF, attachment and plan downloads and health. Everything else is GraphQL at POST /graphql (see schema.graphql).",
        version = env!("CARGO_PKG_VERSION")
    ),
    paths(
        super::auth::login,
        super::auth::refresh,
        super::attachments::file,
        super::attachments::thumbnail,
        super::plans::file,
        super::export::export,
        super::handover::handover,
        super::documents::file,
        super::health::health,
        super::health::ready,
    ),
    components(schemas(ErrorBody, ErrorDetail, StatusBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// The document as served and committed.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|_| "{}".into())
        + "\n"
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_error_is_the_written_one() {
        let documented = ErrorBody {
            error: ErrorDetail {
                code: "NOT_FOUND".into(),
                message: "defect not found".into(),
            },
        };
        let written = crate::error::RestErrorBody::new("NOT_FOUND", "defect not found");
        assert_eq!(
            serde_json::to_value(&documented).expect("documented"),
            serde_json::to_value(&written).expect("written")
        );
    }
}
