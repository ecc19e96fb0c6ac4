"""Tables in and out of CSV, XLSX and ODS files: rows of text cells with their line numbers.

CSV: the encoding is found by trying UTF-8 (with or without BOM), then cp1252 (Excel's "CSV"
on a French Windows), then latin-1, which accepts any byte; the delimiter is whichever of
``;`` and ``,`` splits the first line into more cells. XLSX through openpyxl, ODS through
odfpy (repeated rows and columns expanded, paragraphs of a cell joined by new lines).
Written CSV is UTF-8 with a BOM and ``;``, which Excel opens as it is in France.
``header_map`` finds the header row and the columns an importer knows (FAQ sheets, campaign
lists), so every import names a missing column the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from callbot.kb.town_data.names import folded_key

CSV_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = (";", ",")
SUFFIXES = (".csv", ".xlsx", ".ods")
#: A sheet saved by LibreOffice says "a million empty rows follow": stop at the data.
MAX_REPEAT = 1000


@dataclass(frozen=True)
class Table:
    rows: list[tuple[int, list[str]]]  # (line or row number, cells)
    encoding: str = ""  # CSV only
    delimiter: str = ""


class SheetError(ValueError):
    """The sheet as a whole cannot be read (no header, a required column missing)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def header_map(table: Table, columns: Mapping[str, tuple[str, ...]], required: tuple[str, ...],
               expected: str) -> tuple[int, dict[str, int]]:
    """(header line, column → index) from the first non-empty row; a header cell means a
    column when its ``folded_key`` is one of the column's names. ``expected`` lists the
    columns for the error message; raises ``SheetError`` if a required column is missing."""
    for line, cells in table.rows:
        if not any(cells):
            continue
        found: dict[str, int] = {}
        for index, cell in enumerate(cells):
            for column, names in columns.items():
                if folded_key(cell) in names and column not in found:
                    found[column] = index
        missing = [c for c in required if c not in found]
        if missing:
            raise SheetError(line, f"no {', '.join(repr(c) for c in missing)} column in the header "
                             f"row (found: {', '.join(repr(c) for c in cells if c) or 'nothing'}; "
                             f"expected {expected})")
        return line, found
    raise SheetError(0, "the sheet is empty")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).replace("\r\n", "\n").strip()


def decode(data: bytes) -> tuple[str, str]:
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte")  # pragma: no cover


def _delimiter(text: str) -> str:
    first = text.split("\n", 1)[0]
    counts = {d: len(next(csv.reader([first], delimiter=d), [])) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: counts[d])


def read_csv(path: Path) -> Table:
    text, encoding = decode(path.read_bytes())
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, line = [], 1
    for cells in reader:
        rows.append((line, [_cell(c) for c in cells]))
        line = reader.line_num + 1
    return Table(rows, encoding, delimiter)


def read_xlsx(path: Path) -> Table:
    import openpyxl

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        rows = [(n, [_cell(v) for v in values])
                for n, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()
    return Table(rows)


def _ods_text(cell: object) -> str:
    from odf import teletype
    from odf.text import P

    return "\n".join(teletype.extractText(p) for p in cell.getElementsByType(P))


def read_ods(path: Path) -> Table:
    from odf.namespaces import TABLENS
    from odf.opendocument import load
    from odf.table import Table as OdsTable
    from odf.table import TableCell, TableRow

    document = load(str(path))
    tables = document.spreadsheet.getElementsByType(OdsTable)
    rows: list[tuple[int, list[str]]] = []
    number = 0
    for row in tables[0].getElementsByType(TableRow) if tables else []:
        cells: list[str] = []
        for cell in row.getElementsByType(TableCell):
            repeat = int(cell.attributes.get((TABLENS, "number-columns-repeated"), 1))
            cells += [_ods_text(cell)] * min(repeat, MAX_REPEAT)
        while cells and not cells[-1]:
            cells.pop()
        repeat = int(row.attributes.get((TABLENS, "number-rows-repeated"), 1))
        if cells:
            rows += [(number + i + 1, list(cells)) for i in range(min(repeat, MAX_REPEAT))]
        number += repeat
    return Table(rows)


def read_table(path: Path) -> Table:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".xlsx":
        return read_xlsx(path)
    if suffix == ".ods":
        return read_ods(path)
    raise ValueError(f"{path}: expected a .csv, .xlsx or .ods file")


def write_table(path: Path, header: list[str], rows: list[list[str]]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerows([header, *rows])
        path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    elif suffix == ".xlsx":
        _write_xlsx(path, header, rows)
    elif suffix == ".ods":
        _write_ods(path, header, rows)
    else:
        raise ValueError(f"{path}: expected a .csv, .xlsx or .ods file")


def _write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> None:
    import openpyxl
    from openpyxl.styles import Alignment, Font

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "FAQ"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column, width in zip("ABCDEFGH", (22, 30, 18, 50, 70, 50, 14, 10), strict=False):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    workbook.save(path)


def _write_ods(path: Path, header: list[str], rows: list[list[str]]) -> None:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table as OdsTable
    from odf.table import TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table = OdsTable(name="FAQ")
    for values in [header, *rows]:
        row = TableRow()
        for value in values:
            cell = TableCell(valuetype="string")
            for paragraph in value.split("\n") if value else []:
                cell.addElement(P(text=paragraph))
            row.addElement(cell)
        table.addElement(row)
    document.spreadsheet.addElement(table)
    document.save(str(path))
