# Notifications: the one line of each kind (`Notification.text`, the e-mail's subject)
# and the rest of the e-mail. `$key` is the defect's key (`SK1-042`), `$title` its
# title, `$actor` the display name of who did it, `$deadline` a date already written
# in the language, `$days` a whole number of days (plural variants select on it),
# `$status` the status in words (`status-*` of export.ftl).

notify-assigned = { $key } “{ $title }”: assigned to you
notify-deadline_changed = { $key } “{ $title }”: the deadline is now { $deadline }
notify-deadline_removed = { $key } “{ $title }”: the deadline was removed
notify-status_changed = { $key } “{ $title }”: status changed to { $status }
notify-review_requested = { $key } “{ $title }”: waiting for your review
notify-commented = { $key } “{ $title }”: { $actor } commented
notify-mentioned = { $key } “{ $title }”: { $actor } mentioned you
notify-due_soon = { $key } “{ $title }”: due tomorrow
notify-overdue = { $key } “{ $title }”: { $days ->
        [0] overdue
        [one] overdue by { $days } day
       *[other] overdue by { $days } days
    }
notify-escalated = { $key } “{ $title }”: escalated, { $days ->
        [0] overdue
        [one] overdue by { $days } day
       *[other] overdue by { $days } days
    }
# Who did it, when their name is unknown.
notify-someone = someone

# The e-mail's body, below the line.
email-project = Project: { $project }
email-status = Status: { $status }
email-deadline = Deadline: { $deadline }
email-comment = { $actor } wrote:
email-open = Open the defect: { $link }
email-footer = You receive this because e-mail notifications are on in your notification settings.
