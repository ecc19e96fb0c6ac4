"""A campaign's list (CSV, XLSX or ODS) → the people to call, every unusable row named.

The sheet is read by the knowledge-base importer's reader (``callbot.kb.town_data.sheets``:
encodings, delimiters, Excel and LibreOffice files) and its header is found the same way.
Columns: ``nom`` and ``téléphone`` (French or English names, any case or accent), then any
others: each becomes a field the message may use, by its header made an id ("Date du RDV" →
``{date_du_rdv}``). A row without a number, with a number that is not a French line, with a
number already on an earlier row, or with an empty field the message needs is reported with
its line and the reason, and left out; every other row is kept, blank rows aside.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from callbot.campaigns.phones import PhoneError, to_e164
from callbot.kb.town_data.names import make_id
from callbot.kb.town_data.sheets import Table, header_map, read_table
from callbot.problems import Problem

#: Column → the header names that mean it (compared with ``folded_key``).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("nom", "name", "nom prenom", "prenom nom", "nom et prenom", "nom complet",
             "personne", "full name"),
    "phone": ("telephone", "tel", "phone", "numero", "numero de telephone", "portable", "mobile",
              "telephone portable", "tel portable", "phone number"),
}
REQUIRED = ("phone",)
EXPECTED = "nom, téléphone, and optionally any field the message uses"
#: The field every message may use: the name column.
NAME_FIELD = "nom"
REJECTED = "rejected"


@dataclass(frozen=True)
class ImportedContact:
    line: int
    name: str
    phone: str = field(repr=False)  # E.164; personal, so never in a repr or a log line
    fields: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ContactList:
    source: str
    contacts: list[ImportedContact]
    rejected: list[Problem]
    fields: tuple[str, ...]  # the extra columns, as ids, in sheet order
    rows: int  # non-blank rows below the header

    @property
    def lines_rejected(self) -> list[int]:
        return [p.line for p in self.rejected]


def _field_ids(header: list[str], mapped: set[int]) -> dict[int, str]:
    """Column index → field id for every named header cell that is not name or phone."""
    ids: dict[int, str] = {}
    for index, cell in enumerate(header):
        ident = make_id(cell)
        if index in mapped or not ident or ident == NAME_FIELD or ident in ids.values():
            continue
        ids[index] = ident
    return ids


def contacts_of(table: Table, source: str, needed: Iterable[str] = ()) -> ContactList:
    """The rows of ``table`` as contacts; ``needed`` are the fields the message uses, which a
    row must fill. Raises ``SheetError`` when the header has no phone column."""
    header_line, columns = header_map(table, COLUMNS, REQUIRED, EXPECTED)
    header = dict(table.rows)[header_line]
    extras = _field_ids(header, set(columns.values()))
    needed = [f for f in needed if f != NAME_FIELD]
    contacts: list[ImportedContact] = []
    rejected: list[Problem] = []
    first_line: dict[str, int] = {}
    rows = 0
    for line, cells in table.rows:
        if line <= header_line or not any(cells):
            continue
        rows += 1
        padded = cells + [""] * (len(header) - len(cells))
        name = " ".join(padded[columns["name"]].split()) if "name" in columns else ""
        values = {ident: padded[index].strip() for index, ident in extras.items()}
        reason = None
        try:
            phone = to_e164(padded[columns["phone"]])
        except PhoneError as exc:
            reason = str(exc)
        else:
            if phone in first_line:
                reason = f"duplicate: the same number is already on line {first_line[phone]}"
        if reason is None:
            empty = [f for f in needed if not values.get(f)]
            if empty:
                reason = (f"empty {', '.join(repr(f) for f in empty)}, which the message uses")
        if reason is not None:
            rejected.append(Problem(source, line, reason, REJECTED))
            continue
        first_line[phone] = line
        contacts.append(ImportedContact(line, name, phone, values))
    return ContactList(source, contacts, rejected, tuple(extras.values()), rows)


def read_contacts(path: Path, needed: Iterable[str] = ()) -> ContactList:
    """``contacts_of`` a .csv, .xlsx or .ods file."""
    return contacts_of(read_table(path), str(path), needed)
