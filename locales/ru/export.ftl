# Выгрузка CSV: строка заголовков и значения перечислений.
# Параметры запроса выгрузки остаются английскими на любом языке.

csv-key = ключ
csv-id = id
csv-project = проект
csv-stage = этап
csv-title = название
csv-description = описание
csv-priority = приоритет
csv-status = статус
csv-performer = исполнитель
csv-author = автор
csv-deadline = срок
csv-created_at = создан
csv-updated_at = изменён
csv-closed_at = закрыт
csv-plan = план
csv-x = x
csv-y = y
csv-location = место

status-new = новый
status-in_progress = в работе
status-review = на проверке
status-closed = закрыт
status-cancelled = отменён

priority-low = низкий
priority-medium = средний
priority-high = высокий
