# Уведомления: строка каждого вида (`Notification.text`, тема письма) и остальное
# письмо. `$key` — ключ дефекта (`СК1-042`), `$title` — его название, `$actor` — имя
# того, кто это сделал (в именительном падеже), `$deadline` — дата, уже записанная
# по-русски, `$days` — целое число дней (от него зависит форма слова), `$status` —
# статус словами (`status-*` из export.ftl).

notify-assigned = { $key } «{ $title }»: вы назначены исполнителем
notify-deadline_changed = { $key } «{ $title }»: новый срок — { $deadline }
notify-deadline_removed = { $key } «{ $title }»: срок снят
notify-status_changed = { $key } «{ $title }»: новый статус — «{ $status }»
notify-review_requested = { $key } «{ $title }»: ждёт вашей проверки
notify-commented = { $key } «{ $title }»: новый комментарий ({ $actor })
notify-mentioned = { $key } «{ $title }»: вас упомянули в комментарии ({ $actor })
notify-due_soon = { $key } «{ $title }»: срок истекает завтра
notify-overdue = { $key } «{ $title }»: { $days ->
        [0] срок истёк
        [one] срок истёк { $days } день назад
        [few] срок истёк { $days } дня назад
       *[many] срок истёк { $days } дней назад
    }
notify-escalated = { $key } «{ $title }»: эскалация, { $days ->
        [0] срок истёк
        [one] срок истёк { $days } день назад
        [few] срок истёк { $days } дня назад
       *[many] срок истёк { $days } дней назад
    }
# Кто это сделал, когда имя неизвестно.
notify-someone = кто-то

# Тело письма под строкой уведомления.
email-project = Проект: { $project }
email-status = Статус: { $status }
email-deadline = Срок: { $deadline }
email-comment = { $actor } пишет:
email-open = Открыть дефект: { $link }
email-footer = Вы получили это письмо, потому что в настройках уведомлений включена отправка по e-mail.
