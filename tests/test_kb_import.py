"""``callbot kb import|export annuaire|faq``: real files, real openpyxl and odfpy, round trips."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from callbot.cli import main
from callbot.kb.loader import load_knowledge_base
from callbot.kb.slots import fill_slots
from callbot.kb.town_data.annuaire_format import RecordError, parse_record, records_of
from callbot.kb.town_data.annuaire_import import format_phone, service_of
from callbot.kb.town_data.checking import context, settle
from callbot.kb.town_data.sheets import read_csv, read_table
from callbot.kb.town_data.topic_file import ServiceDraft, TopicFile
from callbot.nlu.intents import TOPIC_INTENTS

FIXTURES = Path(__file__).parent / "fixtures"
ANNUAIRE = FIXTURES / "annuaire_villebrune.json"
WEEK = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
SERVICES = {"mairie": "l'accueil de la mairie", "etat_civil": "le service état civil",
            "scolaire": "le service scolaire", "ccas": "le CCAS",
            "services_techniques": "les services techniques"}


def _town_kb(folder: Path) -> Path:
    """A small knowledge base of its own: five services and a stub for each contract topic."""
    lines = ["town: {name: Villebrune, switchboard: mairie}", "services:"]
    for n, (sid, name) in enumerate(SERVICES.items()):
        lines += [f"  {sid}:", f"    name: {json.dumps(name, ensure_ascii=False)}",
                  "    address: 1 place de la République, 44350 Villebrune",
                  f"    phone: 02 40 12 34 {n}0", "    hours:"]
        lines += [f"      {day}: {'fermé' if day == 'dimanche' else '9h-12h, 14h-17h'}" for day in WEEK]
    lines.append("topics:")
    for intent in TOPIC_INTENTS:
        lines += [f"  {intent}:", "    service: mairie", f"    label: le sujet {intent.replace('_', ' ')}",
                  "    answer: \"Demandez à l'accueil de la mairie au {phone:mairie}.\""]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "topics").mkdir(exist_ok=True)
    path = folder / "kb.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def kb_path(tmp_path: Path) -> Path:
    return _town_kb(tmp_path / "data")


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, list[str], str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def _body(path: Path) -> str:
    """The topic file without its first comment line (which names the imported file)."""
    return path.read_text(encoding="utf-8").split("\n", 1)[1]


# ---- annuaire ------------------------------------------------------------------------------

def test_annuaire_import_writes_services_topics_and_reports_records(
        kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, lines, _ = _run(capsys, "kb", "import", "annuaire", ANNUAIRE, "--kb", kb_path)
    assert code == 1
    assert lines[:3] == [
        f"{ANNUAIRE}: record 1 (\"Mairie - Villebrune\"): rejected: service 'mairie' is already "
        "defined in the knowledge base; remove it there to take the annuaire's",
        f"{ANNUAIRE}: record 2 (\"Centre communal d'action sociale (CCAS) - Villebrune\"): rejected: "
        "service 'ccas' is already defined in the knowledge base; remove it there to take the annuaire's",
        f"{ANNUAIRE}: record 8 (\"Piscine municipale des Ondines - Villebrune\"): rejected: "
        "no phone number ('telephone' is empty)",
    ]
    assert lines[-1] == "3 left out (see above)"
    kb = load_knowledge_base(kb_path)
    police = kb.services["police_municipale"]
    assert police.name == "la police municipale" and police.phone == "02 40 12 34 40"
    media = kb.services["mediatheque_jules_verne"]
    assert media.name == "la médiathèque Jules Verne"
    assert media.phone == "02 40 12 34 80"  # written "+33 2 40 12 34 80" in the annuaire
    assert media.address == "3 rue des Écoles, 44350 Villebrune"
    text = (kb_path.parent / "topics" / "town_services.yml").read_text(encoding="utf-8")
    assert '      mercredi: "10h-12h30, 14h-18h30"\n' in text and '      lundi: "fermé"\n' in text
    assert kb.services["france_services"].name == "l'espace France services"
    assert kb.services["decheterie_de_la_gatine"].address == (
        "Zone d'activité de la Gâtine, Route de Nantes, 44350 Villebrune")
    topic = kb.topics["mediatheque_jules_verne_hours_address"]
    assert {"quels sont les horaires de la médiathèque", "où se trouve la médiathèque",
            "le numéro de la médiathèque", "quels sont les horaires de la médiathèque Jules Verne",
            "est-ce que c'est ouvert à la médiathèque Jules Verne en ce moment"} <= set(topic.questions)
    assert topic.day_hours and topic.details == "Ascenseur pour l'étage jeunesse."
    spoken = fill_slots(topic.answer, kb, datetime(2026, 12, 5, 10, 30))  # a Saturday
    assert spoken == ("En ce moment, c'est ouvert à la médiathèque Jules Verne, jusqu'à 12h30. "
                      "La médiathèque Jules Verne se trouve à l'adresse suivante : 3 rue des Écoles, "
                      "44350 Villebrune, et son numéro de téléphone est le 02 40 12 34 80.")
    assert "le numéro de la police municipale" in kb.topics["police_municipale_hours_address"].questions


def _record(**changes: object) -> dict:
    raw = json.loads(ANNUAIRE.read_text(encoding="utf-8"))["service"][2]
    raw.update(changes)
    return raw


def test_annuaire_records_that_cannot_make_a_service() -> None:
    def reason(**changes: object) -> str:
        with pytest.raises(RecordError) as caught:
            service_of(parse_record(_record(**changes)), 1, {"Villebrune"})
        return str(caught.value)

    plage = {"nom_jour_debut": "Mardi", "nom_jour_fin": "Mardi", "valeur_heure_debut_1": "20:00:00",
             "valeur_heure_fin_1": "17:00:00"}
    assert reason(plage_ouverture=[plage]) == "mardi: '20h-17h' closes before it opens"
    assert reason(plage_ouverture=[{**plage, "nom_jour_debut": "Lundii"}]) == \
        "'Lundii' is not a day name (Lundi…Dimanche)"
    assert reason(plage_ouverture=[]) == "no opening hours ('plage_ouverture' is empty)"
    assert reason(nom=" ") == "'nom' is empty"
    assert reason(telephone=[]) == "no phone number ('telephone' is empty)"
    assert reason(adresse="[{") == "'adresse' is neither a list nor JSON text"


def test_annuaire_api_records_with_json_encoded_lists_read_the_same() -> None:
    raw = _record()
    api = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in raw.items()}
    assert records_of({"results": [api]}) == [api]
    towns = {"Villebrune"}
    assert service_of(parse_record(api), 1, towns) == service_of(parse_record(raw), 1, towns)
    with pytest.raises(RecordError, match="expected"):
        records_of({"records": []})


def test_phone_numbers_are_written_in_pairs() -> None:
    assert format_phone("0240123400") == "02 40 12 34 00"
    assert format_phone("+33 2 40 12 34 00") == "02 40 12 34 00"
    assert format_phone("02.40.12.34.00") == "02 40 12 34 00"
    assert format_phone("39 39") == "39 39"


def test_annuaire_round_trip(tmp_path: Path, kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "kb", "import", "annuaire", ANNUAIRE, "--kb", kb_path)
    exported = tmp_path / "export.json"
    assert _run(capsys, "kb", "export", "annuaire", exported, "--kb", kb_path)[0] == 0
    records = json.loads(exported.read_text(encoding="utf-8"))["service"]
    media = next(r for r in records if r["id"] == "callbot:mediatheque_jules_verne")
    assert media["nom"] == "La médiathèque Jules Verne - Villebrune"
    assert media["plage_ouverture"][0] == {
        "nom_jour_debut": "Mardi", "nom_jour_fin": "Mardi", "valeur_heure_debut_1": "15:00:00",
        "valeur_heure_fin_1": "18:30:00", "valeur_heure_debut_2": "", "valeur_heure_fin_2": "",
        "commentaire": ""}
    again = _town_kb(tmp_path / "again")
    code, lines, _ = _run(capsys, "kb", "import", "annuaire", exported, "--kb", again)
    assert code == 1  # the five services of kb.yml come back too and are refused as defined twice
    assert sum("is already defined in the knowledge base" in line for line in lines) == len(SERVICES)
    first = kb_path.parent / "topics" / "town_services.yml"
    assert _body(again.parent / "topics" / "town_services.yml") == _body(first)
    before, after = load_knowledge_base(kb_path), load_knowledge_base(again)
    assert before.services == after.services
    assert [(t.id, t.questions, t.answer) for t in before.topics.values()] == \
        [(t.id, t.questions, t.answer) for t in after.topics.values()]


# ---- FAQ -----------------------------------------------------------------------------------

def _rejections(path: Path) -> list[str]:
    known = "ccas, etat_civil, mairie, scolaire, services_techniques"
    return [
        f"{path}:7: rejected: entry 'menus_cantine' of topic 'cantine_scolaire' has 1 question(s); "
        "give at least 2",
        f"{path}:14: rejected: empty question",
        f"{path}:21: rejected: empty answer",
        f"{path}:22: rejected: unknown service 'piscine' (known: {known})",
        f"{path}:23: rejected: the answer cannot be spoken: contains a web or e-mail address: say "
        "where to find it in words instead",
        f"{path}:24: rejected: duplicate question: \"Comment inscrire mon enfant à la cantine ?\" "
        "is already on line 2",
    ]


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "ods"])
def test_faq_import_reports_every_broken_row_and_imports_the_rest(
        suffix: str, kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = FIXTURES / f"faq_villebrune.{suffix}"
    code, lines, _ = _run(capsys, "kb", "import", "faq", sheet, "--kb", kb_path)
    assert code == 1
    assert lines[:6] == _rejections(sheet)
    read_as = ", cp1252, ';'" if suffix == "csv" else ""
    assert lines[6].endswith(f": 0 services, 5 topics, 2 entries, 20 questions from 26 rows{read_as}")
    kb = load_knowledge_base(kb_path)
    canteen = kb.topics["cantine_scolaire"]
    assert canteen.label == "la cantine scolaire" and canteen.service == "scolaire"
    assert canteen.questions == ("comment inscrire mon enfant à la cantine",
                                 "je voudrais réserver les repas de cantine",
                                 "c'est où qu'on inscrit les enfants à la cantine")
    assert canteen.details.startswith("Le dossier unique d'inscription")
    assert [(e.id, e.questions) for e in canteen.entries] == [
        ("combien_coute_repas_cantine", ("combien coûte un repas à la cantine",
                                         "c'est quoi le prix de la cantine"))]
    assert canteen.entries[0].answer == "Le repas coûte entre 1,20 € et 4,60 € selon votre quotient familial."
    heat = kb.topics["registre_canicule"]  # no topic column: grouped by their common answer
    assert heat.service == "ccas" and len(heat.questions) == 3
    assert kb.topics["carte_d_identite"].service == "etat_civil"  # "Service état civil" by name


def test_the_three_formats_give_the_same_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bodies = set()
    for suffix in ("csv", "xlsx", "ods"):
        kb = _town_kb(tmp_path / suffix)
        _run(capsys, "kb", "import", "faq", FIXTURES / f"faq_villebrune.{suffix}", "--kb", kb)
        bodies.add(_body(kb.parent / "topics" / "town_faq.yml"))
    assert len(bodies) == 1


@pytest.mark.parametrize(("encoding", "delimiter"), [("utf-8", ","), ("utf-8-sig", ";"),
                                                     ("cp1252", ","), ("latin-1", ";")])
def test_csv_encodings_and_delimiters(tmp_path: Path, encoding: str, delimiter: str) -> None:
    text = delimiter.join(["Question", "Réponse", "Service"]) + "\r\n" + delimiter.join(
        ["où est la salle des fêtes", '"Rue de l\'Église, à côté du stade."', "mairie"]) + "\r\n"
    data = text.encode(encoding)
    if encoding == "latin-1":
        data = data.replace(b"stade", b"stade\x81")  # a byte cp1252 does not define
    path = tmp_path / "faq.csv"
    path.write_bytes(data)
    table = read_csv(path)
    assert (table.encoding, table.delimiter) == (
        {"utf-8": "utf-8-sig"}.get(encoding, encoding), delimiter)
    stade = "stade\x81" if encoding == "latin-1" else "stade"
    assert table.rows[1][1][:2] == ["où est la salle des fêtes", f"Rue de l'Église, à côté du {stade}."]
    assert table.rows[1][0] == 2


def test_english_headers_multiline_questions_and_answers_grouping(
        tmp_path: Path, kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "faq.csv"
    answer = "La salle des fêtes se loue auprès de l'accueil de la mairie au {phone:mairie}."
    sheet.write_text(
        "Question,Answer,Service,Label\n"
        f'"louer la salle des fêtes\nréserver une salle pour un mariage","{answer}",'
        "mairie,la salle des fêtes\n"
        f'c\'est combien la location de salle,"{answer}",,\n', encoding="utf-8")
    code, lines, _ = _run(capsys, "kb", "import", "faq", sheet, "--kb", kb_path)
    assert code == 0, lines
    topic = load_knowledge_base(kb_path).topics["salle_fetes"]
    assert topic.questions == ("louer la salle des fêtes", "réserver une salle pour un mariage",
                               "c'est combien la location de salle")
    assert topic.label == "la salle des fêtes" and topic.service == "mairie"


def test_a_sheet_without_a_required_column_is_refused_whole(
        tmp_path: Path, kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "faq.csv"
    sheet.write_text("Thème;Question;Réponse\nx;y;z\n", encoding="utf-8")
    code, _, err = _run(capsys, "kb", "import", "faq", sheet, "--kb", kb_path)
    assert code == 2
    assert err.splitlines()[1] == (
        f"  {sheet}:1: error: no 'service' column in the header row (found: 'Thème', 'Question', "
        "'Réponse'; expected question, réponse, service, and optionally thème, libellé, détails, "
        "point, type)")
    assert not (kb_path.parent / "topics" / "town_faq.yml").exists()


def test_nothing_is_written_when_the_rest_of_the_knowledge_base_is_broken(
        kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (kb_path.parent / "topics" / "other.yml").write_text("topics:\n  x:\n    service: nowhere\n",
                                                        encoding="utf-8")
    code, _, err = _run(capsys, "kb", "import", "faq", FIXTURES / "faq_villebrune.csv", "--kb", kb_path)
    assert code == 2 and "other.yml" in err and "unknown service 'nowhere'" in err
    assert not (kb_path.parent / "topics" / "town_faq.yml").exists()


def test_what_the_loader_refuses_is_traced_back_to_its_source(kb_path: Path) -> None:
    out = kb_path.parent / "topics" / "town_services.yml"
    ctx = context(kb_path, out)
    hours = {day: "9h-12h" for day in WEEK}
    services = [ServiceDraft("piscine", "la piscine", "Rue des Sports", "02 40 00 00 00", hours, 1),
                ServiceDraft("stade", "le stade", "Rue des Sports", "02 40 00 00 01",
                             {**hours, "lundi": "25h-26h"}, 2)]
    rejected: dict[int, str] = {}
    document, rendered = settle(ctx, lambda r: TopicFile("", [s for s in services if s.source not in r]),
                                rejected)
    assert rejected == {2: "service 'stade', lundi: impossible time in '25h-26h'"}
    assert [s.id for s in document.services] == ["piscine"] and "stade" not in rendered.text


@pytest.mark.parametrize("suffix", ["csv", "xlsx", "ods"])
def test_faq_round_trip(suffix: str, tmp_path: Path, kb_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "kb", "import", "faq", FIXTURES / "faq_villebrune.csv", "--kb", kb_path)
    first = kb_path.parent / "topics" / "town_faq.yml"
    exported = tmp_path / f"export.{suffix}"
    assert _run(capsys, "kb", "export", "faq", exported, "--kb", kb_path, "--only", first)[0] == 0
    assert read_table(exported).rows[0][1] == ["thème", "libellé", "service", "question", "réponse",
                                               "détails", "point", "type"]
    again = _town_kb(tmp_path / "again")
    code, lines, _ = _run(capsys, "kb", "import", "faq", exported, "--kb", again)
    assert code == 0, lines
    assert _body(again.parent / "topics" / "town_faq.yml") == _body(first)
    before, after = load_knowledge_base(kb_path), load_knowledge_base(again)
    assert [(t.id, t.label, t.service, t.questions, t.answer, t.details, t.entries)
            for t in before.topics.values()] == \
        [(t.id, t.label, t.service, t.questions, t.answer, t.details, t.entries)
         for t in after.topics.values()]


def test_export_of_the_whole_knowledge_base_shows_topics_without_questions(
        tmp_path: Path, kb_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exported = tmp_path / "all.csv"
    code, lines, _ = _run(capsys, "kb", "export", "faq", exported, "--kb", kb_path)
    assert code == 0 and lines == [f"{exported}: {len(TOPIC_INTENTS)} rows from {len(TOPIC_INTENTS)} topics"]
    assert exported.read_bytes().startswith(b"\xef\xbb\xbfth\xc3\xa8me;")
    rows = read_table(exported).rows
    assert rows[1][1][:4] == ["opening_hours", "le sujet opening hours", "mairie", ""]


def test_seed_copy_accepts_the_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The project's own kb.yml: the annuaire's mairie, CCAS and police are already there."""
    folder = tmp_path / "seed"
    (folder / "topics").mkdir(parents=True)
    shutil.copy(Path(__file__).parent.parent / "nlu_data" / "kb.yml", folder / "kb.yml")
    code, lines, _ = _run(capsys, "kb", "import", "annuaire", ANNUAIRE, "--kb", folder / "kb.yml")
    assert code == 1 and lines[-1] == "4 left out (see above)"
    load_knowledge_base(folder / "kb.yml")
