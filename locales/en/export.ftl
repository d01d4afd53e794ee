# The CSV export's human form (`?lang=en`), for a spreadsheet: the header row and the
# values of enums in it. The machine form (the default) does not use this file: its
# column names and values are the API's spellings (`created_at`, `in_progress`).
# Query parameters of the export keep those spellings in every language.

csv-key = Key
csv-id = ID
csv-project = Project
csv-stage = Stage
csv-title = Title
csv-description = Description
csv-priority = Priority
csv-status = Status
csv-performer = Performer
csv-author = Author
csv-deadline = Deadline
csv-created_at = Created
csv-updated_at = Updated
csv-closed_at = Closed
csv-plan = Plan
csv-x = X
csv-y = Y
csv-location = Location

status-new = New
status-in_progress = In progress
status-review = In review
status-closed = Closed
status-cancelled = Cancelled

priority-low = Low
priority-medium = Medium
priority-high = High
