"""The words of the register's documents in Kazakh, Russian and English.

Column names follow the museum's books (DOMAIN.md): the main fund's книга поступлений (КП),
the scientific-auxiliary fund's book (НВФ), and the field inventory (полевая опись).
"""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "act_title": {
        "kk": "Қабылдау актісі № {act}",
        "ru": "Акт приёма № {act}",
        "en": "Acceptance act No. {act}",
    },
    "inventory_title": {
        "kk": "Далалық тізімдеме (акт № {act})",
        "ru": "Полевая опись (акт № {act})",
        "en": "Field inventory (act No. {act})",
    },
    "fund_KP": {"kk": "Негізгі қор (КП)", "ru": "Основной фонд (КП)", "en": "Main fund (KP)"},
    "fund_NVF": {
        "kk": "Ғылыми-қосалқы қор (НВФ)",
        "ru": "Научно-вспомогательный фонд (НВФ)",
        "en": "Scientific auxiliary fund (NVF)",
    },
    "approve": {"kk": "БЕКІТЕМІН", "ru": "УТВЕРЖДАЮ", "en": "APPROVED"},
    "director": {"kk": "Музей директоры", "ru": "Директор музея", "en": "Museum director"},
    "approval_date": {
        "kk": "«___» ________ 20___ ж.",
        "ru": "«___» ________ 20___ г.",
        "en": "Date: ____________",
    },
    "date": {"kk": "Актінің күні", "ru": "Дата акта", "en": "Date of the act"},
    "expedition": {"kk": "Экспедиция", "ru": "Экспедиция", "en": "Expedition"},
    "received_from": {"kk": "Кімнен түсті", "ru": "От кого поступило", "en": "Received from"},
    "storage_location": {"kk": "Сақтау орны", "ru": "Место хранения", "en": "Storage location"},
    "items": {"kk": "Нысандар саны", "ru": "Количество предметов", "en": "Number of objects"},
    "made_by": {"kk": "Актіні жасаған", "ru": "Акт составил", "en": "Act drawn up by"},
    "source_cell": {
        "kk": "{expedition} экспедициясы, акт № {act}",
        "ru": "{expedition}, экспедиция, акт № {act}",
        "en": "expedition {expedition}, act No. {act}",
    },
    "total": {
        "kk": "Барлығы: {items} нысан, {pieces} дана",
        "ru": "Итого: {items} предм., {pieces} шт.",
        "en": "Total: {items} objects, {pieces} pieces",
    },
    "amendments": {
        "kk": "Түзетулер (жазба өзгертілмейді)",
        "ru": "Исправления (запись не изменяется)",
        "en": "Amendments (the entry itself is never changed)",
    },
    "amendment_line": {
        "kk": "{number}: «{field}» {old} → {new}. Себебі: {reason} ({by}, {at})",
        "ru": "{number}: «{field}» {old} → {new}. Основание: {reason} ({by}, {at})",
        "en": "{number}: '{field}' {old} → {new}. Reason: {reason} ({by}, {at})",
    },
    "empty": {"kk": "(жоқ)", "ru": "(нет)", "en": "(none)"},
    "chief_curator": {"kk": "Бас қор сақтаушы", "ru": "Главный хранитель", "en": "Chief curator"},
    "handed_over_by": {"kk": "Тапсырған", "ru": "Сдал", "en": "Handed over by"},
    "received_by": {"kk": "Қабылдаған", "ru": "Принял", "en": "Received by"},
    "compiled_by": {"kk": "Тізімдемені жасаған", "ru": "Опись составил", "en": "Compiled by"},
    "mm": {"kk": "мм", "ru": "мм", "en": "mm"},
    "g": {"kk": "г", "ru": "г", "en": "g"},
    "m": {"kk": "м", "ru": "м", "en": "m"},
    "page": {"kk": "Бет", "ru": "Стр.", "en": "Page"},
}

# Column titles: the КП book, the НВФ book, the field inventory.
COLUMNS: dict[str, dict[str, str]] = {
    "item": {"kk": "№", "ru": "№", "en": "No."},
    "entry": {"kk": "Тіркеу нөмірі", "ru": "Номер записи", "en": "Entry No."},
    "date": {"kk": "Түскен күні", "ru": "Дата поступления", "en": "Date received"},
    "source": {
        "kk": "Кімнен, қалай түсті (құжат)",
        "ru": "От кого и как поступил (документ)",
        "en": "From whom and how received (document)",
    },
    "name": {
        "kk": "Атауы және қысқаша сипаттамасы",
        "ru": "Наименование и краткое описание",
        "en": "Name and short description",
    },
    "quantity": {"kk": "Саны", "ru": "Кол-во", "en": "Qty"},
    "material": {
        "kk": "Материалы, техникасы",
        "ru": "Материал, техника",
        "en": "Material, technique",
    },
    "size": {"kk": "Өлшемі, салмағы", "ru": "Размер, вес", "en": "Size, weight"},
    "condition": {"kk": "Сақталуы", "ru": "Сохранность", "en": "Condition"},
    "inventory_number": {
        "kk": "Ғылыми түгендеу нөмірі",
        "ru": "Научно-инвентарный номер",
        "en": "Scientific inventory No.",
    },
    "note": {
        "kk": "Ескерту, сақтау орны",
        "ru": "Примечание, место хранения",
        "en": "Note, storage location",
    },
    "find_number": {"kk": "Олжа нөмірі", "ru": "Номер находки", "en": "Find No."},
    "find_name": {"kk": "Атауы", "ru": "Наименование", "en": "Name"},
    "year": {"kk": "Жылы", "ru": "Год", "en": "Year"},
    "site": {"kk": "Ескерткіш", "ru": "Памятник", "en": "Site"},
    "trench": {"kk": "Қазба", "ru": "Раскоп", "en": "Trench"},
    "context": {"kk": "Контекст, шаршы", "ru": "Контекст, квадрат", "en": "Context, square"},
    "depth": {"kk": "Тереңдігі, м", "ru": "Глубина, м", "en": "Depth, m"},
    "found_on": {"kk": "Табылған күні", "ru": "Дата находки", "en": "Date found"},
    "recorder": {"kk": "Тіркеген", "ru": "Записал", "en": "Recorded by"},
    "field_note": {
        "kk": "Ескерту (пласт, қабат)",
        "ru": "Примечание (пласт, слой)",
        "en": "Note (spit, layer)",
    },
}

# The amendable fields as a museum document names them.
FIELDS: dict[str, dict[str, str]] = {
    "object_name": {"kk": "атауы", "ru": "наименование", "en": "name"},
    "description": {"kk": "сипаттамасы", "ru": "описание", "en": "description"},
    "quantity": {"kk": "саны", "ru": "количество", "en": "quantity"},
    "material": {"kk": "материалы", "ru": "материал", "en": "material"},
    "condition": {"kk": "сақталуы", "ru": "сохранность", "en": "condition"},
    "weight_g": {"kk": "салмағы, г", "ru": "вес, г", "en": "weight, g"},
    "length_mm": {"kk": "ұзындығы, мм", "ru": "длина, мм", "en": "length, mm"},
    "width_mm": {"kk": "ені, мм", "ru": "ширина, мм", "en": "width, mm"},
    "height_mm": {"kk": "биіктігі, мм", "ru": "высота, мм", "en": "height, mm"},
    "notes": {"kk": "ескерту", "ru": "примечание", "en": "note"},
    "storage_location": {"kk": "сақтау орны", "ru": "место хранения", "en": "storage location"},
    "received_by": {"kk": "қабылдаған", "ru": "принял", "en": "received by"},
    "inventory_number": {
        "kk": "ғылыми түгендеу нөмірі",
        "ru": "научно-инвентарный номер",
        "en": "scientific inventory No.",
    },
}


def text(key: str, lang: str, **values: object) -> str:
    """The phrase ``key`` in ``lang``; KeyError for either unknown (never a silent fallback)."""
    phrase = TEXT[key][lang]
    return phrase.format(**values) if values else phrase


def column(key: str, lang: str) -> str:
    return COLUMNS[key][lang]


def field_name(key: str, lang: str) -> str:
    return FIELDS.get(key, {}).get(lang, key)
