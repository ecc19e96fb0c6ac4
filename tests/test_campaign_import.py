"""Campaign lists: French numbers to E.164 as people write them, and an import that names every
row it leaves out (no number, foreign or invalid, duplicate, empty field) and loses no other."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from callbot.campaigns.contacts_import import read_contacts
from callbot.campaigns.phones import PhoneError, national, to_e164
from callbot.kb.town_data.sheets import SheetError, write_table


@pytest.mark.parametrize(("written", "e164"), [
    ("06 12 34 56 78", "+33612345678"),
    ("06.12.34.56.78", "+33612345678"),
    ("06-12-34-56-78", "+33612345678"),
    ("0612345678", "+33612345678"),
    ("  06 12 34 56 78  ", "+33612345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("+33 (0)6 12 34 56 78", "+33612345678"),
    ("+330612345678", "+33612345678"),
    ("0033 6 12 34 56 78", "+33612345678"),
    ("33612345678", "+33612345678"),  # a spreadsheet number that lost its +
    ("612345678", "+33612345678"),  # … or its leading zero
    ("02 40 12 34 00", "+33240123400"),
    ("01 45 67 89 10", "+33145678910"),
    ("07 81 23 45 67", "+33781234567"),
    ("09 70 12 34 56", "+33970123456"),
    ("0590 12 34 56", "+590590123456"),  # Guadeloupe
    ("06 90 12 34 56", "+590690123456"),
    ("0262 12 34 56", "+262262123456"),  # La Réunion
    ("0639 12 34 56", "+262639123456"),  # Mayotte
    ("0596 12 34 56", "+596596123456"),
    ("+590 590 12 34 56", "+590590123456"),
    ("(06) 12 34 56 78", "+33612345678"),
])
def test_french_numbers_become_e164(written: str, e164: str) -> None:
    assert to_e164(written) == e164


@pytest.mark.parametrize(("written", "reason"), [
    ("", "no phone number"),
    ("   ", "no phone number"),
    ("+32 2 123 45 67", "'+32 2 123 45 67' is not a French number (+322…): the campaign only "
                        "calls French lines"),
    ("0044 20 7946 0958", "is not a French number (+442…)"),
    ("+1 212 555 0100", "is not a French number"),
    ("06 12 34", "'06 12 34' has 6 digits; a French number has 10 (like 06 12 34 56 78)"),
    ("06 12 34 56 78 9", "has 11 digits"),
    ("15", "has 2 digits"),
    ("08 92 12 34 56", "is a special-rate or service number (08…), not a person's line"),
    ("Tél. 06 12 34 56 78", "has letters in it; write the number alone"),
    ("06 12 34 56 78 ou 01 45 67 89 10", "has letters in it"),
    ("06 12 34 56 78 / 01 45 67 89 10", "looks like more than one number"),
    ("06#12", "is not a phone number"),
    ("0012345678", "is not a French number"),
])
def test_numbers_that_are_no_french_line_are_refused_with_the_reason(written: str, reason: str) -> None:
    with pytest.raises(PhoneError) as caught:
        to_e164(written)
    assert reason in str(caught.value)


@pytest.mark.parametrize(("e164", "said"), [
    ("+33240123400", "02 40 12 34 00"), ("+590590123456", "05 90 12 34 56"), ("+4420", "+4420")])
def test_the_town_number_is_shown_the_french_way(e164: str, said: str) -> None:
    assert national(e164) == said


HEADER = ["Nom", "Téléphone", "Date du RDV", "Quartier"]
ROWS = [
    ["Mme Jeanne Martin", "06 12 34 56 78", "mardi 3 juin", "Centre"],      # 2 kept
    ["M. Paul Durand", "", "mercredi 4 juin", "Gare"],                     # 3 no number
    ["Mr Smith", "+44 20 7946 0958", "jeudi 5 juin", ""],                  # 4 foreign
    ["Mme Rose Petit", "+33 6 12 34 56 78", "jeudi 5 juin", "Centre"],     # 5 duplicate of 2
    ["M. Louis Bernard", "02 40 12 34", "vendredi 6 juin", "Port"],        # 6 too short
    ["", "", "", ""],                                                      # 7 blank: ignored
    ["Mme Anne Roux", "0240123400", "", "Port"],                           # 8 needed field empty
    ["M. Marc Blanc", "07.81.23.45.67", "samedi 7 juin", ""],             # 9 kept
    ["", "09 70 12 34 56", "lundi 9 juin", "Gare"],                        # 10 kept, no name
]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".ods"])
def test_bad_rows_are_reported_with_their_line_and_nothing_else_is_lost(
        tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"registre{suffix}"
    write_table(path, HEADER, ROWS)
    imported = read_contacts(path, needed=["nom", "date_du_rdv"])
    assert [c.line for c in imported.contacts] == [2, 9, 10]
    assert [c.phone for c in imported.contacts] == ["+33612345678", "+33781234567", "+33970123456"]
    assert imported.contacts[0].name == "Mme Jeanne Martin"
    assert imported.contacts[0].fields == {"date_du_rdv": "mardi 3 juin", "quartier": "Centre"}
    assert imported.fields == ("date_du_rdv", "quartier")
    reasons = {p.line: p.message for p in imported.rejected}
    assert reasons == {
        3: "no phone number",
        4: "'+44 20 7946 0958' is not a French number (+442…): the campaign only calls French lines",
        5: "duplicate: the same number is already on line 2",
        6: "'02 40 12 34' has 8 digits; a French number has 10 (like 06 12 34 56 78)",
        8: "empty 'date_du_rdv', which the message uses",
    }
    assert imported.rows == len(imported.contacts) + len(imported.rejected)  # nothing else lost
    assert str(imported.rejected[0]) == f"{path}:3: rejected: no phone number"


def test_a_numeric_phone_cell_that_lost_its_zero_is_still_the_number(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["NOM ET PRÉNOM", "Portable"])
    sheet.append(["Mme Martin", 612345678])
    sheet.append(["M. Durand", 33781234567.0])
    workbook.save(path)
    imported = read_contacts(path)
    assert [c.phone for c in imported.contacts] == ["+33612345678", "+33781234567"]
    assert not imported.rejected


def test_a_list_without_a_phone_column_names_what_it_found(tmp_path: Path) -> None:
    path = tmp_path / "liste.csv"
    path.write_text("Nom;Adresse\nMme Martin;3 rue Haute\n", encoding="utf-8")
    with pytest.raises(SheetError) as caught:
        read_contacts(path)
    assert caught.value.line == 1
    assert str(caught.value) == ("no 'phone' column in the header row (found: 'Nom', 'Adresse'; "
                                 "expected nom, téléphone, and optionally any field the message uses)")


def test_a_contact_keeps_its_number_out_of_its_repr(tmp_path: Path) -> None:
    path = tmp_path / "liste.csv"
    path.write_text("nom,tel\nMme Martin,06 12 34 56 78\n", encoding="utf-8")
    contact = read_contacts(path).contacts[0]
    assert "612345678" not in repr(contact) and "Martin" in repr(contact)
