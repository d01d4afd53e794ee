# Выгрузка CSV в виде для человека (`?lang=ru`, для Excel): строка заголовков и значения
# перечислений. Машинный вид (по умолчанию) этот файл не использует.
# Параметры запроса выгрузки остаются английскими на любом языке.

csv-key = Ключ
csv-id = ID
csv-project = Проект
csv-stage = Этап
csv-title = Название
csv-description = Описание
csv-priority = Приоритет
csv-status = Статус
csv-performer = Исполнитель
csv-author = Автор
csv-deadline = Срок
csv-created_at = Создан
csv-updated_at = Изменён
csv-closed_at = Закрыт
csv-plan = План
csv-x = X
csv-y = Y
csv-location = Место

status-new = Новый
status-in_progress = В работе
status-review = На проверке
status-closed = Закрыт
status-cancelled = Отменён

priority-low = Низкий
priority-medium = Средний
priority-high = Высокий
