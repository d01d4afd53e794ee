# Error messages, English. Each id is a variant of `Msg` (src/i18n/msg.rs), whose fields
# are the { $variables }; the server formats the id in the request's language. A
# { $field } is an API name (title, location.planId) and stays as it is.
#
# Translators: keep each id and its { $variables }; change only the text.

## Generic
internal = internal server error
rate-limited = too many failed attempts; retry in { $seconds } s
already-exists = { $field }: already exists
referenced = the object is referenced by other data
db-busy = the database is busy; retry shortly
db-down = the database does not answer
storage-unavailable = { $detail }
db-read-only = the database is read-only: nothing can be saved
too-many-connections = too many connections; retry shortly
too-many-connections-from-address = too many connections from this address; retry shortly
too-many-sockets = too many WebSocket connections; retry shortly
too-many-sign-ins = too many sign-ins at once; retry shortly
took-too-long = the request took longer than { $seconds } s
body-too-large = the body must be at most { $limit } bytes
no-such-endpoint = no such endpoint
no-such-asset = no such asset
method-not-allowed = method { $method } is not allowed here (see the Allow header)
request-too-large = the request body is too large
unreadable = { $field }: { $detail }
request-refused = { $detail }
graphiql-disabled = GraphiQL is disabled (GRAPHIQL=false)
api-docs-disabled = the REST API documentation page is disabled (API_DOCS=false)

## Not found
defect-not-found = defect not found
deleted-defect-not-found = deleted defect not found
project-not-found = project not found
stage-not-found = stage not found
user-not-found = user not found
attachment-not-found = attachment not found
plan-not-found = plan not found
file-not-found = file not found
thumbnail-not-found = thumbnail not found

## Sign-in and tokens
auth-required = authentication required
bad-credentials = invalid username or password
bad-token = invalid or expired token
bad-refresh-token = invalid or expired refresh token
ws-only = subscriptions need a WebSocket connection
bad-link = the link is invalid or has expired

## Field checks
must-not-be-empty = { $field }: must not be empty
must-not-be-null = { $field }: must not be null
must-not-be-negative = { $field }: must not be negative
at-most-chars = { $field }: must be at most { $max } characters
at-least-chars = { $field }: must be at least { $min } characters
at-most = { $field }: must be at most { $max }
at-most-items = { $field }: at most { $max } items
no-control-chars = { $field }: must not contain control characters
no-control-chars-but-breaks = { $field }: must not contain control characters other than tabs and line breaks
end-before-start = { $field }: must not be before startDate
bad-email = { $field }: is not a valid e-mail address
bad-username = { $field }: must be 3-150 letters, digits or . _ - @ +
already-taken = { $field }: is already taken
bad-cursor = { $field }: not a valid cursor
bad-cursor-order = { $field }: not a valid cursor for this order
bad-event-cursor = { $field }: not a cursor of an event
no-such-object = { $field }: no such object
no-such-user = { $field }: no such user
no-such-stage = { $field }: no such stage
between-0-and-1 = { $field }: must be between 0 and 1

## Users
own-deactivation = { $field }: you cannot deactivate your own account
own-role = { $field }: you cannot change your own role
user-deactivated = { $field }: the user is deactivated
only-admins-manage-users = only admins may manage users
only-managers-list-users = only managers and admins may list users
only-managers-look-up-users = only managers and admins may look up users

## Projects and stages
only-managers-change-projects = only managers and admins may change projects
project-has-defects = the project still has { $count } defect(s); delete or move them first
stage-has-defects = the stage still has { $count } defect(s)
project-has-deleted-defects = the project's { $count } remaining defect(s) are deleted but kept in the trash; restore them or have an admin purge them (deletedDefects, purgeDefect)
stage-has-deleted-defects = the stage's { $count } remaining defect(s) are deleted but kept in the trash; restore them or have an admin purge them (deletedDefects, purgeDefect)
member-performs = the user performs { $count } open defect(s) in this project; reassign them first
project-closed = { $field }: the project is closed; no new defects
stage-not-in-project = { $field }: the stage does not belong to the project
code-format = { $field }: must be 2 to 10 letters or digits
code-taken = { $field }: another project already has this code
code-fixed = { $field }: the code is fixed once the project has defects (their keys use it)
unknown-time-zone = { $field }: “{ $name }” is not an IANA time zone (e.g. Asia/Novosibirsk)
sla-priority-twice = { $field }: at most one rule per priority ({ $priority } is given twice)
days-between = { $field }: must be between { $min } and { $max } days

## Defects
stage-not-in-defect-project = { $field }: the stage does not belong to the defect's project
performer-not-engineer = { $field }: the performer must be an ENGINEER
performer-not-member = { $field }: the performer must be a member of the defect's project
needs-performer = { $field }: a defect in progress or in review needs a performer
no-register = you may not register defects in this project
only-managers-assign = only managers may assign a performer
only-own-edit = you may edit only defects you authored or perform
only-managers-delete = only managers may delete defects
only-managers-restore = only managers may restore defects
only-managers-deleted = only managers may see deleted defects
only-admins-purge = only admins may purge defects
stale-version = the defect was changed by someone else (now at version { $version }); reload and try again
final-no-edit = { $field }: the defect is { $status } and final: editing is not possible, only comments
final-no-assign = { $field }: the defect is { $status } and final: assignment is not possible, only comments
final-no-upload = { $field }: the defect is { $status } and final: uploads are not possible
final-keeps-attachments = { $field }: the defect is { $status } and final: its attachments are kept
no-comment = you may not comment
key-format = { $field }: expected a defect key such as СК1-042
key-too-long = { $field }: too long for a defect key such as СК1-042

## The status machine
already-in-status = the defect is already { $status }
status-final = a { $status } defect is final
close-needs-review = only a defect in review can be closed
review-needs-progress = only a defect in progress can be sent to review
no-back-to-new = a defect cannot go back to NEW
review-not-cancelled = a defect in review can be closed or returned for rework, not cancelled
no-move = a defect cannot move from { $from } to { $to }
only-managers-move = only managers may move a defect from { $from } to { $to }
only-performer-review = only managers and the defect's performer may send it to review
assign-before-start = assign a performer before work can start

## Files
only-own-attach = you may attach files only to defects you authored or perform
only-own-delete-attachment = you may delete only attachments you uploaded
file-types = { $field }: only JPEG, PNG, WebP and PDF files are accepted
pdf-corrupt = { $field }: the PDF is truncated or corrupt
image-corrupt = { $field }: the image is corrupt or truncated
image-too-large = { $field }: the image is too large (at most 50 megapixels, 20000 px a side)
image-too-large-to-process = { $field }: the image is too large to process
image-profile-too-large = { $field }: the image's colour profile is too large (at most 1 MiB)
file-empty = { $field }: is empty
file-missing = { $field }: no file was sent
file-too-large = the file is larger than { $limit } bytes

## Plans
plan-not-in-project = { $field }: the plan does not belong to the defect's project
plans-per-project = { $field }: a project holds at most { $max } plans
plan-pinned = { $count } defect(s) are pinned to this plan; move or unpin them first

## Reports and export
reports-audience = reports are for admins, managers and observers
export-audience = the export is for admins and managers
sheet-too-long = the sheet would have more than { $max } rows; narrow the filter or export CSV
document-job-not-found = document job not found
expected-any-of = { $field }: expected any of { $choices }
unknown-parameter = { $field }: unknown parameter; expected any of { $choices }
given-twice = { $field }: given more than once
handover-too-large = { $count } defects match: the PDF answers directly for up to { $limit }; use requestDocument for this one
expected-date = { $field }: expected a date as YYYY-MM-DD
expected-timestamp = { $field }: expected an RFC 3339 timestamp
expected-bool = { $field }: expected true or false
expected-id = { $field }: expected a numeric id

## Live updates
too-many-subscriptions = this user already runs { $max } subscriptions; complete one first
subscription-too-complex = a subscription's selection may cost at most { $max } per event; this one costs { $cost }
request-larger-than = the request is larger than { $limit } allows
request-no-query = the request has no query
mutation-needs-post = mutations must be sent with POST
too-many-files = at most { $max } files per request
query-string-invalid = the query string is not a valid GraphQL request
content-type-missing = a Content-Type is required: application/json or multipart/form-data
json-not-utf8 = application/json bodies must be UTF-8
content-type-unsupported = POST /graphql takes application/json or multipart/form-data
body-not-graphql = the body is not a valid GraphQL request
multipart-map-invalid = the multipart map is invalid
multipart-no-operations = the multipart body has no operations part
multipart-no-map = the multipart body has no map part
multipart-not-upload = the multipart map points at a non-file field
multipart-missing-files = the multipart map names missing files
batch-unsupported = batched requests are not supported
request-unreadable = the request could not be read
parser-shutting-down = the parser is shutting down
idempotency-key-invalid = { $field }: must be 1 to { $max } visible ASCII characters
idempotency-key-reused = { $field }: this key was used for a different request in the last 24 hours; send a new request with a new key
idempotency-key-running = { $field }: the first request with this key is still running; retry in a moment
idempotency-answer-not-kept = { $field }: the request with this key was done, but its answer was larger than { $limit } bytes and was not kept; read the result with a query
document-too-large = the document is { $bytes } bytes; the limit is { $max }
document-too-many-tokens = the document has more than { $max } tokens
document-nested-too-deep = the document nests brackets deeper than { $max }
document-too-many-fragments = the document defines { $count } fragments; the limit is { $max }
document-too-many-aliases = the document has { $count } aliases; the limit is { $max }
document-too-many-fields = the document selects more than { $max } fields with its fragments expanded
document-introspection-too-deep = the document nests { $count } introspection lists (fields, interfaces, possibleTypes, inputFields); the limit is { $max }
document-too-deep = the document nests fields { $depth } deep with its fragments followed; the limit is { $max }
fragment-cycle = fragment "{ $name }" spreads itself (a cycle)
socket-operations-full = this connection already runs { $max } operations; complete one (or open another connection) first
socket-operations-too-fast = operations are started too fast on this connection (at most { $rate } a second after a burst of { $burst }); retry shortly

## GraphQL requests
graphql-parse-failed = { $detail }
graphql-invalid = { $detail }
variable-missing = Variable "${ $name }" of required type "{ $ty }" was not provided.
variable-invalid = Variable "${ $name }" got an invalid value: { $reason }
argument-invalid = { $field }: { $reason }

## API tokens
api-token-not-found = no such API token
api-tokens-per-user = a user may hold at most { $max } live API tokens; revoke one first
must-be-in-future = { $field }: must be in the future
read-only-token = this API token may only read (scope READ): mutations are refused
token-cannot-create-tokens = an API token cannot create API tokens; sign in to create one

## The seed file
seed-needs-admin = { $field }: the seed needs at least one ADMIN
seed-unknown-user = { $field }: unknown user "{ $name }"
seed-unknown-project = { $field }: unknown project "{ $name }"
seed-unknown-stage = { $field }: unknown stage "{ $name }"

# Bulk changes and the import (FIELD.md)
empty-patch = { $field }: give at least one field to change
only-managers-import = the import is for admins and managers
import-too-many-rows = { $field }: at most { $max } rows
import-no-title = { $field }: the header row has no title column
import-unreadable = { $field }: not a CSV (UTF-8) or XLSX laid out like the export
import-unpacks-too-large = { $field }: the spreadsheet unpacks to more than is accepted
pin-needs-plan = { $field }: a pin needs its plan, x and y
# Webhooks
webhook-not-found = webhook not found
webhooks-audience = webhooks are managed by admins and project managers
webhook-scope = a manager sets up webhooks only for a project they are a member of; webhooks for every project are for admins
webhook-url-invalid = { $field }: must be an http or https URL with a host
webhook-url-user-info = { $field }: must not contain a user name or password
webhook-url-private = { $field }: points to a loopback, private, link-local or unspecified address, which webhooks may not reach
webhooks-per-scope = { $field }: at most { $max } webhooks per project (and { $max } for every project)
