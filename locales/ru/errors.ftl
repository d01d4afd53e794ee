# Сообщения об ошибках, русский. Идентификаторы и { $переменные } — как в en/errors.ftl;
# переводится только текст. Имя поля перед «: » — имя из API, его не переводят.

## Generic
internal = внутренняя ошибка сервера
rate-limited = слишком много неудачных попыток; повторите через { $seconds } с
already-exists = уже существует
referenced = на объект ссылаются другие данные
db-busy = база данных занята; повторите чуть позже
db-down = база данных не отвечает
db-read-only = база данных доступна только для чтения: сохранить ничего нельзя
too-many-connections = слишком много соединений; повторите чуть позже
too-many-connections-from-address = слишком много соединений с этого адреса; повторите чуть позже
too-many-sockets = слишком много соединений WebSocket; повторите чуть позже
too-many-sign-ins = слишком много входов одновременно; повторите чуть позже
took-too-long = запрос выполнялся дольше { $seconds } с
body-too-large = тело запроса должно быть не больше { $limit } байт
no-such-endpoint = такого адреса нет
no-such-asset = такого файла нет
method-not-allowed = метод { $method } здесь не поддерживается (см. заголовок Allow)
request-too-large = тело запроса слишком большое
graphiql-disabled = GraphiQL отключён (GRAPHIQL=false)

## Not found
not-found-defect = дефект не найден
not-found-deleted-defect = удалённый дефект не найден
not-found-project = проект не найден
not-found-stage = этап не найден
not-found-user = пользователь не найден
not-found-attachment = вложение не найдено
not-found-plan = план не найден
not-found-file = файл не найден
not-found-thumbnail = миниатюра не найдена
not-found-any = не найдено: { $what }

## Sign-in and tokens
auth-required = требуется вход
bad-credentials = неверное имя пользователя или пароль
bad-token = недействительный или просроченный токен
bad-refresh-token = недействительный или просроченный токен обновления
ws-only = подписки работают только через WebSocket
bad-link = ссылка недействительна или устарела

## Field checks
must-not-be-empty = не может быть пустым
must-not-be-null = не может быть null
must-not-be-negative = не может быть отрицательным
at-most-chars = не больше { $max } символов
at-least-chars = не меньше { $min } символов
at-most = не больше { $max }
no-control-chars = не должно содержать управляющих символов
no-control-chars-but-breaks = не должно содержать управляющих символов, кроме табуляции и переводов строки
end-before-start = не может быть раньше startDate
bad-email = неверный адрес электронной почты
bad-username = от 3 до 150 букв, цифр или символов . _ - @ +
already-taken = уже занято
bad-cursor = недействительный курсор
bad-cursor-order = курсор не подходит к этой сортировке
bad-event-cursor = это не курсор события
no-such-object = такого объекта нет
no-such-user = такого пользователя нет
no-such-stage = такого этапа нет
between-0-and-1 = должно быть от 0 до 1

## Users
own-deactivation = нельзя деактивировать собственную учётную запись
own-role = нельзя изменить собственную роль
user-deactivated = пользователь деактивирован
only-admins-manage-users = управлять пользователями могут только администраторы
only-managers-list-users = список пользователей доступен только менеджерам и администраторам
only-managers-look-up-users = искать пользователей могут только менеджеры и администраторы

## Projects and stages
only-managers-change-projects = изменять проекты могут только менеджеры и администраторы
project-has-defects = в проекте ещё есть дефекты ({ $count }); сначала удалите или перенесите их
stage-has-defects = на этапе ещё есть дефекты ({ $count })
member-performs = пользователь исполняет открытые дефекты в этом проекте ({ $count }); сначала переназначьте их
project-closed = проект закрыт; новые дефекты не принимаются
stage-not-in-project = этап не относится к проекту
code-format = от 2 до 10 букв или цифр
code-taken = этот код уже занят другим проектом
code-fixed = код нельзя изменить, когда в проекте есть дефекты (он входит в их ключи)

## Defects
stage-not-in-defect-project = этап не относится к проекту дефекта
performer-not-engineer = исполнителем может быть только инженер (ENGINEER)
performer-not-member = исполнитель должен быть участником проекта дефекта
needs-performer = у дефекта в работе или на проверке должен быть исполнитель
no-register = вы не можете регистрировать дефекты в этом проекте
only-managers-assign = назначать исполнителя могут только менеджеры
only-own-edit = вы можете изменять только дефекты, которые вы создали или исполняете
only-managers-delete = удалять дефекты могут только менеджеры
only-managers-restore = восстанавливать дефекты могут только менеджеры
only-managers-deleted = удалённые дефекты видят только менеджеры
only-admins-purge = окончательно удалять дефекты могут только администраторы
stale-version = дефект уже изменил кто-то другой (теперь версия { $version }); обновите данные и повторите
final-defect = дефект в статусе { $status } и окончателен: { $consequence }
final-no-edit = изменения невозможны, только комментарии
final-no-assign = назначение невозможно, только комментарии
final-no-upload = загрузка файлов невозможна
final-keeps-attachments = его вложения сохраняются
no-comment = вы не можете комментировать
key-format = ожидается ключ дефекта, например СК1-042
key-too-long = слишком длинный текст для ключа дефекта, например СК1-042

## The status machine
already-in-status = дефект уже в статусе { $status }
status-final = дефект в статусе { $status } окончателен
close-needs-review = закрыть можно только дефект на проверке
review-needs-progress = отправить на проверку можно только дефект в работе
no-back-to-new = дефект нельзя вернуть в статус NEW
review-not-cancelled = дефект на проверке можно закрыть или вернуть в работу, но не отменить
no-move = дефект нельзя перевести из { $from } в { $to }
only-managers-move = перевести дефект из { $from } в { $to } могут только менеджеры
only-performer-review = отправить на проверку могут только менеджеры и исполнитель дефекта
assign-before-start = назначьте исполнителя, прежде чем начинать работу

## Files
only-own-attach = вы можете прикреплять файлы только к дефектам, которые вы создали или исполняете
only-own-delete-attachment = вы можете удалять только загруженные вами вложения
file-types = принимаются только файлы JPEG, PNG, WebP и PDF
pdf-corrupt = PDF обрезан или повреждён
image-corrupt = изображение повреждено или обрезано
image-too-large = изображение слишком большое (не больше 50 мегапикселей и 20000 пикселей по стороне)
image-too-large-to-process = изображение слишком большое для обработки
image-profile-too-large = цветовой профиль изображения слишком большой (не больше 1 МиБ)
file-empty = пустой
file-missing = файл не передан
file-too-large = файл больше { $limit } байт

## Plans
plan-not-in-project = план не относится к проекту дефекта
plans-per-project = в проекте может быть не больше { $max } планов
plan-pinned = к этому плану привязаны дефекты ({ $count }); сначала перенесите или открепите их

## Reports and export
reports-audience = отчёты доступны администраторам, менеджерам и наблюдателям
export-audience = выгрузка доступна администраторам и менеджерам
expected-any-of = ожидается одно из: { $choices }
unknown-parameter = неизвестный параметр; ожидается одно из: { $choices }
given-twice = указан больше одного раза
expected-date = ожидается дата в виде ГГГГ-ММ-ДД
expected-timestamp = ожидается время в формате RFC 3339
expected-bool = ожидается true или false
expected-id = ожидается числовой идентификатор

## Live updates
too-many-subscriptions = у этого пользователя уже { $max } подписок; сначала завершите одну из них
subscription-too-complex = выборка подписки может стоить не больше { $max } за событие; эта стоит { $cost }
