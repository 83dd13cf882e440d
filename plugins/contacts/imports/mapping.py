"""Column mappings: which CSV column feeds which contact field, suggested from the header's
names, checked before an import starts, and applied to each row."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plugins.contacts.models import FieldDefinition, PhoneType

IGNORE = "ignore"
TEXT_TARGETS = (
    "name",
    "company",
    "external_id",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "time_zone",
    "owner_id",
)
"""Targets holding one text value; several columns mapped to one are joined by a space
(``First name`` + ``Last name`` -> ``name``)."""
LIST_TARGETS = ("phones", "emails", "tags")
PHONE_TYPES = tuple(t.value for t in PhoneType)
MATCH_ON = ("external_id", "phone", "email")
DUPLICATES = ("skip", "update", "create")
_SPLIT = re.compile(r"[;,|]")
"""Several numbers, e-mails or tags in one cell."""

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "full name",
        "fullname",
        "contact",
        "contact name",
        "first name",
        "firstname",
        "given name",
        "last name",
        "lastname",
        "surname",
        "family name",
        "jmeno",
        "prijmeni",
        "nombre",
        "nom",
    ),
    "company": (
        "company",
        "company name",
        "organization",
        "organisation",
        "org",
        "account",
        "account name",
        "business",
        "firma",
        "employer",
    ),
    "external_id": ("external id", "id", "crm id", "customer id", "record id", "client id"),
    "phones": (
        "phone",
        "phones",
        "phone number",
        "telephone",
        "tel",
        "number",
        "telefon",
        "primary phone",
        "other phones",
        "other_phones",
    ),
    "phones:mobile": ("mobile", "mobile phone", "cell", "cell phone", "cellphone", "mobil", "gsm"),
    "phones:work": ("work phone", "office phone", "business phone", "direct line"),
    "phones:home": ("home phone", "landline"),
    "phones:fax": ("fax", "fax number"),
    "emails": ("email", "emails", "e mail", "mail", "email address", "e mail address"),
    "tags": ("tags", "tag", "labels", "label", "groups", "group", "lists"),
    "address_line1": (
        "address",
        "address 1",
        "address line 1",
        "address line1",
        "street",
        "street address",
        "ulice",
    ),
    "address_line2": ("address 2", "address line 2", "address line2", "apartment", "suite"),
    "city": ("city", "town", "locality", "mesto", "obec"),
    "region": ("region", "state", "province", "state province", "state code", "kraj"),
    "postal_code": ("postal code", "postcode", "zip", "zip code", "zipcode", "psc", "post code"),
    "country": ("country", "country code", "zeme", "stat"),
    "time_zone": ("time zone", "timezone", "tz"),
    "owner_id": ("owner id",),
}
_BY_NAME = {synonym: target for target, synonyms in _SYNONYMS.items() for synonym in synonyms} | {
    target.replace("_", " "): target for target in TEXT_TARGETS
}


def _key(text: str) -> str:
    """``E-Mail Address`` -> ``e mail address``: lower case, no accents or punctuation."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain.lower()).split())


def suggest(columns: Sequence[str], fields: Mapping[str, FieldDefinition]) -> dict[str, str]:
    """A target for every column, from its name (``ignore`` when nothing fits); a custom
    field matches by key or label, and ``custom_fields.<key>`` as exported."""
    custom = {_key(d.key): d.key for d in fields.values()}
    custom |= {_key(d.label): d.key for d in fields.values() if d.label}
    suggested: dict[str, str] = {}
    for column in columns:
        key = _key(column)
        if key.startswith("custom fields ") and key.removeprefix("custom fields ") in custom:
            suggested[column] = f"custom_fields.{custom[key.removeprefix('custom fields ')]}"
        elif key in custom:
            suggested[column] = f"custom_fields.{custom[key]}"
        else:
            suggested[column] = _BY_NAME.get(key, IGNORE)
    return suggested


def check_target(target: str, fields: Mapping[str, FieldDefinition]) -> str | None:
    """Why ``target`` is not a target (None when it is one)."""
    if target == IGNORE or target in TEXT_TARGETS or target in LIST_TARGETS:
        return None
    if target.startswith("phones:"):
        kind = target.split(":", 1)[1]
        return None if kind in PHONE_TYPES else f"phone type must be one of {list(PHONE_TYPES)}"
    if target.startswith("custom_fields."):
        key = target.split(".", 1)[1]
        return None if key in fields else f"no custom field {key!r}"
    return (
        "not a target: one of "
        + ", ".join((*TEXT_TARGETS, *LIST_TARGETS))
        + ", phones:<type>, custom_fields.<key> or ignore"
    )


def check(
    mapping: Mapping[str, str],
    *,
    columns: Sequence[str] | None,
    fields: Mapping[str, FieldDefinition],
    match_on: str | None,
) -> list[dict[str, str]]:
    """What is wrong with a mapping (empty when nothing), as ``{field, reason}`` items;
    ``columns`` None checks the targets only (a saved mapping)."""
    errors: list[dict[str, str]] = []
    known = set(columns) if columns is not None else None
    for column, target in mapping.items():
        if known is not None and column not in known:
            errors.append({"field": column, "reason": "the file has no such column"})
        reason = check_target(str(target), fields)
        if reason:
            errors.append({"field": column, "reason": reason})
    used = set(mapping.values()) if known is None else {t for c, t in mapping.items() if c in known}
    bases = {t.split(":", 1)[0] for t in used}
    if not bases & {"name", "company", "phones", "emails"}:
        errors.append(
            {
                "field": "mapping",
                "reason": "map a column to at least one of name, company, phones or emails",
            }
        )
    for key, definition in fields.items():
        if definition.required and f"custom_fields.{key}" not in used:
            errors.append(
                {"field": f"custom_fields.{key}", "reason": "required: map a column to it"}
            )
    if match_on is not None:
        needed = {"phone": "phones", "email": "emails", "external_id": "external_id"}[match_on]
        if needed not in bases:
            errors.append(
                {
                    "field": "match_on",
                    "reason": f"matching on {match_on} needs a column mapped to {needed}",
                }
            )
    return errors


def default_match_on(mapping: Mapping[str, str]) -> str:
    """external_id when a column feeds it, else phone, else email."""
    bases = {t.split(":", 1)[0] for t in mapping.values()}
    if "external_id" in bases:
        return "external_id"
    return "phone" if "phones" in bases else "email"


@dataclass
class RowValues:
    """A row as :func:`plugins.contacts.records.clean` takes it; where each value came from
    is worked out only for a row with a problem (to name the problem's column)."""

    values: dict[str, Any]
    plan: Plan
    cells: Sequence[str]

    def column_of(self, problem_field: str) -> str:
        """The CSV column a :class:`FieldProblem`'s field came from ("" for the row)."""
        sources, lists = self.plan.sources(self.cells)
        match = re.match(r"^(phones|emails|tags)\[(\d+)\]", problem_field)
        if match:
            found = lists[match.group(1)]
            index = int(match.group(2))
            return found[index] if index < len(found) else ""
        return sources.get(problem_field, "")


@dataclass(frozen=True)
class Plan:
    """A checked mapping, as positions in the row: built once per import."""

    text: dict[str, list[int]]
    phones: list[tuple[int, str | None]]
    emails: list[int]
    tags: list[int]
    custom: dict[str, int]
    columns: list[str]

    @classmethod
    def build(cls, mapping: Mapping[str, str], columns: Sequence[str]) -> Plan:
        position = {name: index for index, name in enumerate(columns)}
        text: dict[str, list[int]] = {}
        phones: list[tuple[int, str | None]] = []
        emails: list[int] = []
        tags: list[int] = []
        custom: dict[str, int] = {}
        for column in columns:  # in the file's order
            target = mapping.get(column, IGNORE)
            index = position[column]
            if target in TEXT_TARGETS:
                text.setdefault(target, []).append(index)
            elif target == "phones" or target.startswith("phones:"):
                phones.append((index, target.split(":", 1)[1] if ":" in target else None))
            elif target == "emails":
                emails.append(index)
            elif target == "tags":
                tags.append(index)
            elif target.startswith("custom_fields."):
                custom[target.split(".", 1)[1]] = index
        return cls(text, phones, emails, tags, custom, list(columns))

    def values(self, cells: Sequence[str]) -> RowValues:
        """The row's values; empty cells give nothing (an update leaves those fields)."""
        size = len(cells)
        values: dict[str, Any] = {}
        for target, indexes in self.text.items():
            if len(indexes) == 1:
                joined = cells[indexes[0]].strip() if indexes[0] < size else ""
            else:
                joined = " ".join(c for i in indexes if i < size and (c := cells[i].strip()))
            if joined:
                values[target] = joined
        phones: list[dict[str, str]] = []
        for index, kind in self.phones:
            for number in _split(cells[index] if index < size else ""):
                entry = {"number": number.lstrip("'")}
                if kind is not None:
                    entry["type"] = kind
                phones.append(entry)
        if phones:
            values["phones"] = phones
        for target, indexes in (("emails", self.emails), ("tags", self.tags)):
            items = [item for i in indexes if i < size for item in _split(cells[i])]
            if items:
                values[target] = items
        custom = {
            key: value
            for key, index in self.custom.items()
            if index < size and (value := cells[index].strip())
        }
        if custom:
            values["custom_fields"] = custom
        return RowValues(values, self, cells)

    def sources(self, cells: Sequence[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
        """Where :meth:`values` took each value from: by field, and for each list (phones,
        e-mails, tags) the column of each item."""
        size = len(cells)
        sources: dict[str, str] = {}
        for target, indexes in self.text.items():
            filled = [i for i in indexes if i < size and cells[i].strip()]
            sources[target] = self.columns[(filled or indexes)[0]]
        lists: dict[str, list[str]] = {"phones": [], "emails": [], "tags": []}
        for index, _ in self.phones:
            lists["phones"] += [self.columns[index]] * len(
                _split(cells[index] if index < size else "")
            )
        for name, indexes in (("emails", self.emails), ("tags", self.tags)):
            for index in indexes:
                lists[name] += [self.columns[index]] * len(
                    _split(cells[index] if index < size else "")
                )
        for name, found in lists.items():
            if found:
                sources[name] = found[0]
        for key, index in self.custom.items():
            sources[f"custom_fields.{key}"] = self.columns[index]
        return sources, lists


def _split(text: str) -> list[str]:
    return [part.strip() for part in _SPLIT.split(text) if part.strip()] if text else []
