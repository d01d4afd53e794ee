# The CSV export: the header row (column names) and the values of enums in it.
# Query parameters of the export keep their English spellings in every language.

csv-key = key
csv-id = id
csv-project = project
csv-stage = stage
csv-title = title
csv-description = description
csv-priority = priority
csv-status = status
csv-performer = performer
csv-author = author
csv-deadline = deadline
csv-created_at = created_at
csv-updated_at = updated_at
csv-closed_at = closed_at
csv-plan = plan
csv-x = x
csv-y = y
csv-location = location

status-new = new
status-in_progress = in_progress
status-review = review
status-closed = closed
status-cancelled = cancelled

priority-low = low
priority-medium = medium
priority-high = high
