# Error messages, English: the source language. The server matches the English text it
# produced against these messages (placeables { $x } match any text) and answers with
# the message of the same id from the request's language. A field name before ": "
# (title: must not be empty) is an API name and stays as it is.
#
# Translators: keep each id and its { $variables }; change only the text.

## Generic
internal = internal server error
rate-limited = too many failed attempts; retry in { $seconds } s
already-exists = already exists
referenced = the object is referenced by other data
db-busy = the database is busy; retry shortly
db-down = the database does not answer
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
graphiql-disabled = GraphiQL is disabled (GRAPHIQL=false)

## Not found
not-found-defect = defect not found
not-found-deleted-defect = deleted defect not found
not-found-project = project not found
not-found-stage = stage not found
not-found-user = user not found
not-found-attachment = attachment not found
not-found-plan = plan not found
not-found-file = file not found
not-found-thumbnail = thumbnail not found
not-found-any = { $what } not found

## Sign-in and tokens
auth-required = authentication required
bad-credentials = invalid username or password
bad-token = invalid or expired token
bad-refresh-token = invalid or expired refresh token
ws-only = subscriptions need a WebSocket connection
bad-link = the link is invalid or has expired

## Field checks
must-not-be-empty = must not be empty
must-not-be-null = must not be null
must-not-be-negative = must not be negative
at-most-chars = must be at most { $max } characters
at-least-chars = must be at least { $min } characters
at-most = must be at most { $max }
no-control-chars = must not contain control characters
no-control-chars-but-breaks = must not contain control characters other than tabs and line breaks
end-before-start = must not be before startDate
bad-email = is not a valid e-mail address
bad-username = must be 3-150 letters, digits or . _ - @ +
already-taken = is already taken
bad-cursor = not a valid cursor
bad-cursor-order = not a valid cursor for this order
bad-event-cursor = not a cursor of an event
no-such-object = no such object
no-such-user = no such user
no-such-stage = no such stage
between-0-and-1 = must be between 0 and 1

## Users
own-deactivation = you cannot deactivate your own account
own-role = you cannot change your own role
user-deactivated = the user is deactivated
only-admins-manage-users = only admins may manage users
only-managers-list-users = only managers and admins may list users
only-managers-look-up-users = only managers and admins may look up users

## Projects and stages
only-managers-change-projects = only managers and admins may change projects
project-has-defects = the project still has { $count } defect(s); delete or move them first
stage-has-defects = the stage still has { $count } defect(s)
member-performs = the user performs { $count } open defect(s) in this project; reassign them first
project-closed = the project is closed; no new defects
stage-not-in-project = the stage does not belong to the project
code-format = must be 2 to 10 letters or digits
code-taken = another project already has this code
code-fixed = the code is fixed once the project has defects (their keys use it)

## Defects
stage-not-in-defect-project = the stage does not belong to the defect's project
performer-not-engineer = the performer must be an ENGINEER
performer-not-member = the performer must be a member of the defect's project
needs-performer = a defect in progress or in review needs a performer
no-register = you may not register defects in this project
only-managers-assign = only managers may assign a performer
only-own-edit = you may edit only defects you authored or perform
only-managers-delete = only managers may delete defects
only-managers-restore = only managers may restore defects
only-managers-deleted = only managers may see deleted defects
only-admins-purge = only admins may purge defects
stale-version = the defect was changed by someone else (now at version { $version }); reload and try again
final-defect = the defect is { $status } and final: { $consequence }
final-no-edit = editing is not possible, only comments
final-no-assign = assignment is not possible, only comments
final-no-upload = uploads are not possible
final-keeps-attachments = its attachments are kept
no-comment = you may not comment
key-format = expected a defect key such as СК1-042
key-too-long = too long for a defect key such as СК1-042

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
file-types = only JPEG, PNG, WebP and PDF files are accepted
pdf-corrupt = the PDF is truncated or corrupt
image-corrupt = the image is corrupt or truncated
image-too-large = the image is too large (at most 50 megapixels, 20000 px a side)
image-too-large-to-process = the image is too large to process
image-profile-too-large = the image's colour profile is too large (at most 1 MiB)
file-empty = is empty
file-missing = no file was sent
file-too-large = the file is larger than { $limit } bytes

## Plans
plan-not-in-project = the plan does not belong to the defect's project
plans-per-project = a project holds at most { $max } plans
plan-pinned = { $count } defect(s) are pinned to this plan; move or unpin them first

## Reports and export
reports-audience = reports are for admins, managers and observers
export-audience = the export is for admins and managers
expected-any-of = expected any of { $choices }
unknown-parameter = unknown parameter; expected any of { $choices }
given-twice = given more than once
expected-date = expected a date as YYYY-MM-DD
expected-timestamp = expected an RFC 3339 timestamp
expected-bool = expected true or false
expected-id = expected a numeric id

## Live updates
too-many-subscriptions = this user already runs { $max } subscriptions; complete one first
subscription-too-complex = a subscription's selection may cost at most { $max } per event; this one costs { $cost }
