//! Every sentence the server says, as data: one [`Msg`] variant per Fluent message, its
//! fields the message's arguments. A message is put into words only at an edge, with
//! the language that edge was given ([`Msg::text`]); nothing looks an English sentence
//! up. The variants are declared through [`messages!`], which also writes
//! [`Msg::examples`] (one of each, with sample arguments) from the same list, so the
//! coverage test enumerates the type itself: a new variant cannot lack an example.
//!
//! A `field` argument is the API name of the input at fault (`title`, `location.planId`,
//! a query parameter); it is never translated.
use super::{Lang, text};

/// An argument's text; messages nest no other message.
pub trait Arg {
    fn arg(&self) -> String;
}

macro_rules! display_args {
    ($($t:ty),*) => { $(impl Arg for $t { fn arg(&self) -> String { self.to_string() } })* };
}
display_args!(String, &'static str, u64, usize, u32, i32, i64);

macro_rules! messages {
    ($(
        $(#[$doc:meta])*
        $name:ident $({ $($arg:ident : $ty:ty = $ex:expr),* $(,)? })? => $id:literal,
    )*) => {
        /// A message and its arguments (see the module comment).
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Msg {
            $( $(#[$doc])* $name $({ $($arg: $ty),* })?, )*
        }

        impl Msg {
            /// The Fluent id (`locales/<lang>/errors.ftl`).
            pub fn id(&self) -> &'static str {
                match self {
                    $( Msg::$name $({ $($arg: _),* })? => $id, )*
                }
            }

            /// The Fluent arguments, by name.
            pub fn args(&self) -> Vec<(&'static str, String)> {
                match self {
                    $( Msg::$name $({ $($arg),* })? => vec![$($( (stringify!($arg), Arg::arg($arg)) ),*)?], )*
                }
            }

            /// One of each variant, with sample arguments: what the coverage test formats
            /// in every language.
            pub fn examples() -> Vec<Msg> {
                vec![$( Msg::$name $({ $($arg: $ex),* })?, )*]
            }
        }
    };
}

impl Msg {
    /// The message in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        text(lang, self.id(), &self.args())
    }
}

/// Shorthand for sample field names in [`Msg::examples`].
fn f(name: &str) -> String {
    name.to_owned()
}

messages! {
    // Generic
    Internal => "internal",
    RateLimited { seconds: u64 = 7 } => "rate-limited",
    AlreadyExists { field: String = f("username") } => "already-exists",
    Referenced => "referenced",
    DbBusy => "db-busy",
    DbDown => "db-down",
    DbReadOnly => "db-read-only",
    /// `/ready`: the storage directory cannot be written; `detail` names it and the cause.
    StorageUnavailable { detail: String = f("the storage directory ./data is not writable: denied") } => "storage-unavailable",
    TooManyConnections => "too-many-connections",
    TooManyConnectionsFromAddress => "too-many-connections-from-address",
    TooManySockets => "too-many-sockets",
    TooManySignIns => "too-many-sign-ins",
    TookTooLong { seconds: u64 = 30 } => "took-too-long",
    BodyTooLarge { limit: usize = 4096 } => "body-too-large",
    /// A request part that did not parse; `detail` is the framework's (axum's) own words.
    Unreadable { field: String = f("body"), detail: String = f("expected value at line 1 column 1") } => "unreadable",
    /// A status that axum (or tower) answered by itself, with its own words.
    RequestRefused { detail: String = f("unsupported media type") } => "request-refused",
    NoSuchEndpoint => "no-such-endpoint",
    NoSuchAsset => "no-such-asset",
    MethodNotAllowed { method: String = f("DELETE") } => "method-not-allowed",
    RequestTooLarge => "request-too-large",
    GraphiqlDisabled => "graphiql-disabled",
    ApiDocsDisabled => "api-docs-disabled",

    // Not found
    DefectNotFound => "defect-not-found",
    DeletedDefectNotFound => "deleted-defect-not-found",
    ProjectNotFound => "project-not-found",
    StageNotFound => "stage-not-found",
    UserNotFound => "user-not-found",
    AttachmentNotFound => "attachment-not-found",
    PlanNotFound => "plan-not-found",
    FileNotFound => "file-not-found",
    ThumbnailNotFound => "thumbnail-not-found",

    // Sign-in and tokens
    AuthRequired => "auth-required",
    BadCredentials => "bad-credentials",
    BadToken => "bad-token",
    BadRefreshToken => "bad-refresh-token",
    WsOnly => "ws-only",
    BadLink => "bad-link",

    // Field checks
    MustNotBeEmpty { field: String = f("title") } => "must-not-be-empty",
    MustNotBeNull { field: String = f("priority") } => "must-not-be-null",
    MustNotBeNegative { field: String = f("first") } => "must-not-be-negative",
    AtMostChars { field: String = f("title"), max: usize = 300 } => "at-most-chars",
    AtLeastChars { field: String = f("password"), min: usize = 8 } => "at-least-chars",
    AtMost { field: String = f("first"), max: u64 = 100 } => "at-most",
    AtMostItems { field: String = f("ids"), max: usize = 500 } => "at-most-items",
    NoControlChars { field: String = f("title") } => "no-control-chars",
    NoControlCharsButBreaks { field: String = f("description") } => "no-control-chars-but-breaks",
    EndBeforeStart { field: String = f("endDate") } => "end-before-start",
    BadEmail { field: String = f("email") } => "bad-email",
    BadUsername { field: String = f("username") } => "bad-username",
    AlreadyTaken { field: String = f("email") } => "already-taken",
    BadCursor { field: String = f("after") } => "bad-cursor",
    BadCursorOrder { field: String = f("after") } => "bad-cursor-order",
    BadEventCursor { field: String = f("after") } => "bad-event-cursor",
    NoSuchObject { field: String = f("defectId") } => "no-such-object",
    NoSuchUser { field: String = f("performerId") } => "no-such-user",
    NoSuchStage { field: String = f("stageId") } => "no-such-stage",
    Between0And1 { field: String = f("location.x") } => "between-0-and-1",

    // Users
    OwnDeactivation { field: String = f("isActive") } => "own-deactivation",
    OwnRole { field: String = f("role") } => "own-role",
    UserDeactivated { field: String = f("userId") } => "user-deactivated",
    OnlyAdminsManageUsers => "only-admins-manage-users",
    OnlyManagersListUsers => "only-managers-list-users",
    OnlyManagersLookUpUsers => "only-managers-look-up-users",

    // Projects and stages
    OnlyManagersChangeProjects => "only-managers-change-projects",
    ProjectHasDefects { count: u64 = 3 } => "project-has-defects",
    StageHasDefects { count: u64 = 3 } => "stage-has-defects",
    ProjectHasDeletedDefects { count: u64 = 2 } => "project-has-deleted-defects",
    StageHasDeletedDefects { count: u64 = 2 } => "stage-has-deleted-defects",
    MemberPerforms { count: u64 = 2 } => "member-performs",
    ProjectClosed { field: String = f("projectId") } => "project-closed",
    StageNotInProject { field: String = f("stageId") } => "stage-not-in-project",
    CodeFormat { field: String = f("code") } => "code-format",
    CodeTaken { field: String = f("code") } => "code-taken",
    CodeFixed { field: String = f("code") } => "code-fixed",
    UnknownTimeZone { field: String = f("timeZone"), name: String = f("Mars/Olympus") } => "unknown-time-zone",
    SlaPriorityTwice { field: String = f("sla"), priority: &'static str = "HIGH" } => "sla-priority-twice",
    DaysBetween { field: String = f("escalateAfterDays"), min: i64 = 1, max: i64 = 365 } => "days-between",

    // Defects
    StageNotInDefectProject { field: String = f("stageId") } => "stage-not-in-defect-project",
    PerformerNotEngineer { field: String = f("performerId") } => "performer-not-engineer",
    PerformerNotMember { field: String = f("performerId") } => "performer-not-member",
    NeedsPerformer { field: String = f("performerId") } => "needs-performer",
    NoRegister => "no-register",
    OnlyManagersAssign => "only-managers-assign",
    OnlyOwnEdit => "only-own-edit",
    OnlyManagersDelete => "only-managers-delete",
    OnlyManagersRestore => "only-managers-restore",
    OnlyManagersDeleted => "only-managers-deleted",
    OnlyAdminsPurge => "only-admins-purge",
    StaleVersion { version: i32 = 4 } => "stale-version",
    FinalNoEdit { field: String = f("status"), status: &'static str = "CLOSED" } => "final-no-edit",
    FinalNoAssign { field: String = f("performerId"), status: &'static str = "CLOSED" } => "final-no-assign",
    FinalNoUpload { field: String = f("defectId"), status: &'static str = "CANCELLED" } => "final-no-upload",
    FinalKeepsAttachments { field: String = f("id"), status: &'static str = "CLOSED" } => "final-keeps-attachments",
    NoComment => "no-comment",
    KeyFormat { field: String = f("key") } => "key-format",
    KeyTooLong { field: String = f("key") } => "key-too-long",

    // Bulk changes and the import (FIELD.md)
    EmptyPatch { field: String = f("patch") } => "empty-patch",
    OnlyManagersImport => "only-managers-import",
    ImportTooManyRows { field: String = f("file"), max: usize = 5000 } => "import-too-many-rows",
    ImportNoTitle { field: String = f("file") } => "import-no-title",
    ImportUnreadable { field: String = f("file") } => "import-unreadable",
    ImportUnpacksTooLarge { field: String = f("file") } => "import-unpacks-too-large",
    PinNeedsPlan { field: String = f("plan") } => "pin-needs-plan",

    // The status machine
    AlreadyInStatus { status: &'static str = "NEW" } => "already-in-status",
    StatusFinal { status: &'static str = "CLOSED" } => "status-final",
    CloseNeedsReview => "close-needs-review",
    ReviewNeedsProgress => "review-needs-progress",
    NoBackToNew => "no-back-to-new",
    ReviewNotCancelled => "review-not-cancelled",
    NoMove { from: &'static str = "NEW", to: &'static str = "CLOSED" } => "no-move",
    OnlyManagersMove { from: &'static str = "REVIEW", to: &'static str = "CLOSED" } => "only-managers-move",
    OnlyPerformerReview => "only-performer-review",
    AssignBeforeStart => "assign-before-start",

    // Files
    OnlyOwnAttach => "only-own-attach",
    OnlyOwnDeleteAttachment => "only-own-delete-attachment",
    FileTypes { field: String = f("file") } => "file-types",
    PdfCorrupt { field: String = f("file") } => "pdf-corrupt",
    ImageCorrupt { field: String = f("file") } => "image-corrupt",
    ImageTooLarge { field: String = f("file") } => "image-too-large",
    ImageTooLargeToProcess { field: String = f("file") } => "image-too-large-to-process",
    ImageProfileTooLarge { field: String = f("file") } => "image-profile-too-large",
    FileEmpty { field: String = f("file") } => "file-empty",
    FileMissing { field: String = f("file") } => "file-missing",
    FileTooLarge { limit: u64 = 1048576 } => "file-too-large",

    // Plans
    PlanNotInProject { field: String = f("location.planId") } => "plan-not-in-project",
    PlansPerProject { field: String = f("projectId"), max: usize = 50 } => "plans-per-project",
    PlanPinned { count: u64 = 2 } => "plan-pinned",

    // Reports and export
    ReportsAudience => "reports-audience",
    ExportAudience => "export-audience",
    ExpectedAnyOf { field: String = f("status"), choices: String = f("NEW, CLOSED") } => "expected-any-of",
    UnknownParameter { field: String = f("colour"), choices: String = f("project, stage") } => "unknown-parameter",
    GivenTwice { field: String = f("project") } => "given-twice",
    ExpectedDate { field: String = f("from") } => "expected-date",
    ExpectedTimestamp { field: String = f("createdFrom") } => "expected-timestamp",
    ExpectedBool { field: String = f("overdue") } => "expected-bool",
    ExpectedId { field: String = f("project") } => "expected-id",
    /// The synchronous handover PDF above `HANDOVER_SYNC_MAX` defects.
    HandoverTooLarge { count: u64 = 301, limit: u64 = 300 } => "handover-too-large",
    SheetTooLong { max: u64 = 1_048_575 } => "sheet-too-long",
    DocumentJobNotFound => "document-job-not-found",

    // Live updates
    TooManySubscriptions { max: usize = 20 } => "too-many-subscriptions",
    SubscriptionTooComplex { max: usize = 100, cost: usize = 150 } => "subscription-too-complex",
    // The `/graphql` transport's refusals before the executor (`http/graphql.rs`).
    RequestLargerThan { limit: &'static str = "MAX_JSON_BODY_BYTES" } => "request-larger-than",
    RequestNoQuery => "request-no-query",
    MutationNeedsPost => "mutation-needs-post",
    TooManyFiles { max: usize = 10 } => "too-many-files",
    QueryStringInvalid => "query-string-invalid",
    ContentTypeMissing => "content-type-missing",
    JsonNotUtf8 => "json-not-utf8",
    ContentTypeUnsupported => "content-type-unsupported",
    BodyNotGraphql => "body-not-graphql",
    MultipartMapInvalid => "multipart-map-invalid",
    MultipartNoOperations => "multipart-no-operations",
    MultipartNoMap => "multipart-no-map",
    MultipartNotUpload => "multipart-not-upload",
    MultipartMissingFiles => "multipart-missing-files",
    BatchUnsupported => "batch-unsupported",
    RequestUnreadable => "request-unreadable",
    ParserShuttingDown => "parser-shutting-down",
    // Safe retries (`domain/idempotency`), naming the header as `field`.
    IdempotencyKeyInvalid { field: String = f("Idempotency-Key"), max: usize = 255 } => "idempotency-key-invalid",
    IdempotencyKeyReused { field: String = f("Idempotency-Key") } => "idempotency-key-reused",
    IdempotencyKeyRunning { field: String = f("Idempotency-Key") } => "idempotency-key-running",
    IdempotencyAnswerNotKept { field: String = f("Idempotency-Key"), limit: usize = 1_048_576 } => "idempotency-answer-not-kept",
    // GraphQL document limits (`graphql/limits.rs`), checked before validation.
    DocumentTooLarge { bytes: usize = 70_000, max: usize = 65_536 } => "document-too-large",
    DocumentTooManyTokens { max: usize = 10_000 } => "document-too-many-tokens",
    DocumentNestedTooDeep { max: usize = 64 } => "document-nested-too-deep",
    DocumentTooManyFragments { count: usize = 101, max: usize = 100 } => "document-too-many-fragments",
    DocumentTooManyAliases { count: usize = 101, max: usize = 100 } => "document-too-many-aliases",
    DocumentTooManyFields { max: u64 = 2_000 } => "document-too-many-fields",
    DocumentIntrospectionTooDeep { count: usize = 3, max: usize = 2 } => "document-introspection-too-deep",
    DocumentTooDeep { depth: usize = 13, max: usize = 12 } => "document-too-deep",
    FragmentCycle { name: String = f("F") } => "fragment-cycle",
    /// A `subscribe` beyond the operations one socket runs at once.
    SocketOperationsFull { max: usize = 32 } => "socket-operations-full",
    /// A `subscribe` beyond the socket's rate.
    SocketOperationsTooFast { rate: u64 = 16, burst: u64 = 64 } => "socket-operations-too-fast",

    // GraphQL: the engine's (async-graphql's) own parse and validation errors, whose
    // precise words (`detail`) are the engine's; in English the message is just those.
    GraphqlParseFailed { detail: String = f("unexpected end of input") } => "graphql-parse-failed",
    GraphqlInvalid { detail: String = f("Unknown field \"nope\" on type \"Query\".") } => "graphql-invalid",
    /// A variable or argument that does not fit its type; `reason` is the type check's.
    VariableMissing { name: String = f("id"), ty: String = f("ID!") } => "variable-missing",
    VariableInvalid { name: String = f("id"), reason: String = f("expected \"ID\", found null") } => "variable-invalid",
    ArgumentInvalid { field: String = f("filter"), reason: String = f("expected \"ID\", found null") } => "argument-invalid",

    // API tokens (NOTIFY.md, "API tokens")
    ApiTokenNotFound => "api-token-not-found",
    ApiTokensPerUser { max: usize = 20 } => "api-tokens-per-user",
    MustBeInFuture { field: String = f("expiresAt") } => "must-be-in-future",
    ReadOnlyToken => "read-only-token",
    TokenCannotCreateTokens => "token-cannot-create-tokens",
    // Webhooks
    WebhookNotFound => "webhook-not-found",
    WebhooksAudience => "webhooks-audience",
    WebhookScope => "webhook-scope",
    WebhookUrlInvalid { field: String = f("url") } => "webhook-url-invalid",
    WebhookUrlUserInfo { field: String = f("url") } => "webhook-url-user-info",
    WebhookUrlPrivate { field: String = f("url") } => "webhook-url-private",
    WebhooksPerScope { field: String = f("projectId"), max: u64 = 20 } => "webhooks-per-scope",

    // The seed file
    SeedNeedsAdmin { field: String = f("users") } => "seed-needs-admin",
    SeedUnknownUser { field: String = f("members"), name: String = f("ivanov") } => "seed-unknown-user",
    SeedUnknownProject { field: String = f("defects"), name: String = f("Tower") } => "seed-unknown-project",
    SeedUnknownStage { field: String = f("defects"), name: String = f("Roof") } => "seed-unknown-stage",
}

/// English, for logs and tests; a response is worded with [`Msg::text`] in its language.
impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}
