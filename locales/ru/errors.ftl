# Сообщения об ошибках, русский. Идентификаторы и { $переменные } — как в en/errors.ftl
# (варианты `Msg` в src/i18n/msg.rs); переводится только текст. { $field } — имя поля
# из API, его не переводят.

## Generic
internal = внутренняя ошибка сервера
rate-limited = слишком много неудачных попыток; повторите через { $seconds } с
already-exists = { $field }: уже существует
referenced = на объект ссылаются другие данные
db-busy = база данных занята; повторите чуть позже
db-down = база данных не отвечает
storage-unavailable = хранилище файлов недоступно: { $detail }
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
unreadable = { $field }: не удалось разобрать ({ $detail })
request-refused = запрос отклонён ({ $detail })
graphiql-disabled = GraphiQL отключён (GRAPHIQL=false)
api-docs-disabled = страница документации REST API отключена (API_DOCS=false)

## Not found
defect-not-found = дефект не найден
deleted-defect-not-found = удалённый дефект не найден
project-not-found = проект не найден
stage-not-found = этап не найден
user-not-found = пользователь не найден
attachment-not-found = вложение не найдено
plan-not-found = план не найден
file-not-found = файл не найден
thumbnail-not-found = миниатюра не найдена

## Sign-in and tokens
auth-required = требуется вход
bad-credentials = неверное имя пользователя или пароль
bad-token = недействительный или просроченный токен
bad-refresh-token = недействительный или просроченный токен обновления
ws-only = подписки работают только через WebSocket
bad-link = ссылка недействительна или устарела

## Field checks
must-not-be-empty = { $field }: не может быть пустым
must-not-be-null = { $field }: не может быть null
must-not-be-negative = { $field }: не может быть отрицательным
at-most-chars = { $field }: не больше { $max } символов
at-least-chars = { $field }: не меньше { $min } символов
at-most = { $field }: не больше { $max }
at-most-items = { $field }: не больше { $max } элементов
no-control-chars = { $field }: не должно содержать управляющих символов
no-control-chars-but-breaks = { $field }: не должно содержать управляющих символов, кроме табуляции и переводов строки
end-before-start = { $field }: не может быть раньше startDate
bad-email = { $field }: неверный адрес электронной почты
bad-username = { $field }: от 3 до 150 букв, цифр или символов . _ - @ +
already-taken = { $field }: уже занято
bad-cursor = { $field }: недействительный курсор
bad-cursor-order = { $field }: курсор не подходит к этой сортировке
bad-event-cursor = { $field }: это не курсор события
no-such-object = { $field }: такого объекта нет
no-such-user = { $field }: такого пользователя нет
no-such-stage = { $field }: такого этапа нет
between-0-and-1 = { $field }: должно быть от 0 до 1

## Users
own-deactivation = { $field }: нельзя деактивировать собственную учётную запись
own-role = { $field }: нельзя изменить собственную роль
user-deactivated = { $field }: пользователь деактивирован
only-admins-manage-users = управлять пользователями могут только администраторы
only-managers-list-users = список пользователей доступен только менеджерам и администраторам
only-managers-look-up-users = искать пользователей могут только менеджеры и администраторы

## Projects and stages
only-managers-change-projects = изменять проекты могут только менеджеры и администраторы
project-has-defects = в проекте ещё есть дефекты ({ $count }); сначала удалите или перенесите их
stage-has-defects = на этапе ещё есть дефекты ({ $count })
project-has-deleted-defects = в проекте остались только удалённые дефекты ({ $count }), они лежат в корзине; восстановите их или попросите администратора удалить их окончательно (deletedDefects, purgeDefect)
stage-has-deleted-defects = на этапе остались только удалённые дефекты ({ $count }), они лежат в корзине; восстановите их или попросите администратора удалить их окончательно (deletedDefects, purgeDefect)
member-performs = пользователь исполняет открытые дефекты в этом проекте ({ $count }); сначала переназначьте их
project-closed = { $field }: проект закрыт; новые дефекты не принимаются
stage-not-in-project = { $field }: этап не относится к проекту
code-format = { $field }: от 2 до 10 букв или цифр
code-taken = { $field }: этот код уже занят другим проектом
code-fixed = { $field }: код нельзя изменить, когда в проекте есть дефекты (он входит в их ключи)
unknown-time-zone = { $field }: «{ $name }» не часовой пояс IANA (например, Asia/Novosibirsk)
sla-priority-twice = { $field }: не больше одного правила на приоритет ({ $priority } указан дважды)
days-between = { $field }: должно быть от { $min } до { $max } дней

## Defects
stage-not-in-defect-project = { $field }: этап не относится к проекту дефекта
performer-not-engineer = { $field }: исполнителем может быть только инженер (ENGINEER)
performer-not-member = { $field }: исполнитель должен быть участником проекта дефекта
needs-performer = { $field }: у дефекта в работе или на проверке должен быть исполнитель
no-register = вы не можете регистрировать дефекты в этом проекте
only-managers-assign = назначать исполнителя могут только менеджеры
only-own-edit = вы можете изменять только дефекты, которые вы создали или исполняете
only-managers-delete = удалять дефекты могут только менеджеры
only-managers-restore = восстанавливать дефекты могут только менеджеры
only-managers-deleted = удалённые дефекты видят только менеджеры
only-admins-purge = окончательно удалять дефекты могут только администраторы
stale-version = дефект уже изменил кто-то другой (теперь версия { $version }); обновите данные и повторите
final-no-edit = { $field }: дефект в статусе { $status } и окончателен: изменения невозможны, только комментарии
final-no-assign = { $field }: дефект в статусе { $status } и окончателен: назначение невозможно, только комментарии
final-no-upload = { $field }: дефект в статусе { $status } и окончателен: загрузка файлов невозможна
final-keeps-attachments = { $field }: дефект в статусе { $status } и окончателен: его вложения сохраняются
no-comment = вы не можете комментировать
key-format = { $field }: ожидается ключ дефекта, например СК1-042
key-too-long = { $field }: слишком длинный текст для ключа дефекта, например СК1-042

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
file-types = { $field }: принимаются только файлы JPEG, PNG, WebP и PDF
pdf-corrupt = { $field }: PDF обрезан или повреждён
image-corrupt = { $field }: изображение повреждено или обрезано
image-too-large = { $field }: изображение слишком большое (не больше 50 мегапикселей и 20000 пикселей по стороне)
image-too-large-to-process = { $field }: изображение слишком большое для обработки
image-profile-too-large = { $field }: цветовой профиль изображения слишком большой (не больше 1 МиБ)
file-empty = { $field }: пустой
file-missing = { $field }: файл не передан
file-too-large = файл больше { $limit } байт

## Plans
plan-not-in-project = { $field }: план не относится к проекту дефекта
plans-per-project = { $field }: в проекте может быть не больше { $max } планов
plan-pinned = к этому плану привязаны дефекты ({ $count }); сначала перенесите или открепите их

## Reports and export
reports-audience = отчёты доступны администраторам, менеджерам и наблюдателям
export-audience = выгрузка доступна администраторам и менеджерам
sheet-too-long = в листе было бы больше { $max } строк; сузьте фильтр или выгрузите CSV
document-job-not-found = задание на документ не найдено
expected-any-of = { $field }: ожидается одно из: { $choices }
unknown-parameter = { $field }: неизвестный параметр; ожидается одно из: { $choices }
given-twice = { $field }: указан больше одного раза
handover-too-large = под отбор попало дефектов: { $count }; сразу PDF формируется не более чем для { $limit }, для этого отбора используйте requestDocument
expected-date = { $field }: ожидается дата в виде ГГГГ-ММ-ДД
expected-timestamp = { $field }: ожидается время в формате RFC 3339
expected-bool = { $field }: ожидается true или false
expected-id = { $field }: ожидается числовой идентификатор

## Live updates
too-many-subscriptions = у этого пользователя уже { $max } подписок; сначала завершите одну из них
subscription-too-complex = выборка подписки может стоить не больше { $max } за событие; эта стоит { $cost }
request-larger-than = запрос больше, чем допускает { $limit }
request-no-query = в запросе нет документа (query)
mutation-needs-post = мутации отправляются только методом POST
too-many-files = не больше { $max } файлов в одном запросе
query-string-invalid = строка запроса не является запросом GraphQL
content-type-missing = нужен заголовок Content-Type: application/json или multipart/form-data
json-not-utf8 = тело application/json должно быть в UTF-8
content-type-unsupported = POST /graphql принимает application/json или multipart/form-data
body-not-graphql = тело не является запросом GraphQL
multipart-map-invalid = карта файлов (map) в multipart-запросе неверна
multipart-no-operations = в multipart-запросе нет части operations
multipart-no-map = в multipart-запросе нет части map
multipart-not-upload = карта файлов указывает на поле, которое не является файлом
multipart-missing-files = карта файлов называет отсутствующие файлы
batch-unsupported = пакетные запросы не поддерживаются
request-unreadable = запрос не удалось прочитать
parser-shutting-down = разбор запросов остановлен: сервер завершает работу
idempotency-key-invalid = { $field }: от 1 до { $max } видимых символов ASCII
idempotency-key-reused = { $field }: этот ключ за последние 24 часа уже использован для другого запроса; для нового запроса нужен новый ключ
idempotency-key-running = { $field }: первый запрос с этим ключом ещё выполняется; повторите чуть позже
idempotency-answer-not-kept = { $field }: запрос с этим ключом выполнен, но его ответ больше { $limit } байт и не сохранён; прочитайте результат запросом
document-too-large = документ занимает { $bytes } байт; предел — { $max }
document-too-many-tokens = в документе больше { $max } лексем
document-nested-too-deep = скобки в документе вложены глубже { $max }
document-too-many-fragments = в документе { $count } фрагментов; предел — { $max }
document-too-many-aliases = в документе { $count } псевдонимов; предел — { $max }
document-too-many-fields = с раскрытыми фрагментами документ выбирает больше { $max } полей
document-introspection-too-deep = в документе вложено { $count } списков интроспекции (fields, interfaces, possibleTypes, inputFields); предел — { $max }
document-too-deep = с раскрытыми фрагментами поля в документе вложены на глубину { $depth }; предел — { $max }
fragment-cycle = фрагмент «{ $name }» раскрывает сам себя (цикл)
socket-operations-full = в этом соединении уже выполняется операций: { $max }; сначала завершите одну (или откройте другое соединение)
socket-operations-too-fast = операции в этом соединении запускаются слишком часто (не больше { $rate } в секунду после серии из { $burst }); повторите чуть позже

## GraphQL requests
graphql-parse-failed = документ GraphQL не разобран: { $detail }
graphql-invalid = документ GraphQL не прошёл проверку: { $detail }
variable-missing = не передана переменная "${ $name }" обязательного типа "{ $ty }"
variable-invalid = недопустимое значение переменной "${ $name }": { $reason }
argument-invalid = { $field }: недопустимое значение: { $reason }

## API tokens
api-token-not-found = такого API-токена нет
api-tokens-per-user = у пользователя может быть не больше { $max } действующих API-токенов; отзовите один из них
must-be-in-future = { $field }: должно быть в будущем
read-only-token = этот API-токен только для чтения (READ): изменения запрещены
token-cannot-create-tokens = API-токен не может создавать API-токены; войдите в систему, чтобы создать токен

## The seed file
seed-needs-admin = { $field }: в начальных данных нужен хотя бы один ADMIN
seed-unknown-user = { $field }: неизвестный пользователь «{ $name }»
seed-unknown-project = { $field }: неизвестный проект «{ $name }»
seed-unknown-stage = { $field }: неизвестный этап «{ $name }»

# Массовые изменения и импорт (FIELD.md)
empty-patch = { $field }: укажите хотя бы одно поле для изменения
only-managers-import = импорт доступен администраторам и менеджерам
import-too-many-rows = { $field }: не больше { $max } строк
import-no-title = { $field }: в строке заголовков нет столбца с названием
import-unreadable = { $field }: это не CSV (UTF-8) и не XLSX в виде выгрузки
import-unpacks-too-large = { $field }: таблица распаковывается в больший объём, чем допустимо
pin-needs-plan = { $field }: для метки нужны план, x и y
# Webhooks
webhook-not-found = вебхук не найден
webhooks-audience = вебхуками управляют администраторы и менеджеры проектов
webhook-scope = менеджер настраивает вебхуки только для проектов, в которых состоит; вебхуки для всех проектов настраивают администраторы
webhook-url-invalid = { $field }: нужен адрес http или https с именем хоста
webhook-url-user-info = { $field }: адрес не должен содержать имя пользователя или пароль
webhook-url-private = { $field }: адрес ведёт на локальный, частный, link-local или неопределённый адрес, куда вебхуки не отправляются
webhooks-per-scope = { $field }: не больше { $max } вебхуков на проект (и { $max } для всех проектов)
