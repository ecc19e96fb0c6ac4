"""Every sentence an outbound call says, and the campaign message with the person's fields.

The disclosure comes first on every call and every voicemail (EU AI Act, art. 50: the person
learns at once that a machine is speaking, and for whom). A voicemail says neither the name nor
the fields of the list: someone else may play it back. A message names fields as
``{date_du_rdv}`` (the list's column headers made ids) and ``{nom}``; ``fields_of`` lists
them so the import can refuse a row that leaves one empty.
"""

from __future__ import annotations

from string import Formatter

from callbot.campaigns.model import CampaignKind

DISCLOSURE = ("Bonjour{name}, ceci est un appel automatisé de la mairie de {town} : vous parlez "
              "à un assistant vocal, pas à une personne.")
YES_NO_HINT = "Dites oui ou non, ou tapez 1 ou 2."
HEATWAVE_MESSAGE = ("Une alerte canicule est en cours. Pensez à boire de l'eau régulièrement, à "
                    "fermer vos volets dans la journée et à rester au frais.")
HEATWAVE_QUESTION = f"Tout va bien pour vous ? {YES_NO_HINT}"
REMINDER_CLOSING = ("Pour réécouter ce message, dites « répéter » ou tapez étoile. Si vous avez "
                    "besoin d'aide, dites-le ou tapez 0.")
NOT_UNDERSTOOD = "Je n'ai pas bien compris."
NOT_HEARD = "Je n'ai pas entendu votre réponse."
REPEATING = "Je répète."
FINE_GOODBYE = ("Très bien, merci. Si vous avez besoin de quoi que ce soit, appelez la mairie au "
                "{callback}. Au revoir, et prenez soin de vous.")
NOTED_GOODBYE = "C'est noté, merci de votre réponse. Au revoir."
NO_REPLY_GOODBYE = ("Je n'ai pas eu votre réponse. Vous pouvez rappeler la mairie au {callback}. "
                    "Au revoir.")
DELIVERED_GOODBYE = "Merci de votre écoute. Au revoir."
TRANSFER = "Je vous passe un agent de la mairie, ne quittez pas."
CALLBACK = ("Aucun agent n'est disponible à l'instant : un agent de la mairie va vous rappeler "
            "très vite. En cas d'urgence, appelez le 15. Au revoir.")
OPTED_OUT = "C'est noté : la mairie ne vous appellera plus. Au revoir."
VOICEMAIL = ("Bonjour, ceci est un message automatisé de la mairie de {town}, {subject}. Merci de "
             "rappeler la mairie au {callback}. Au revoir.")
VOICEMAIL_SUBJECT: dict[CampaignKind, str] = {
    CampaignKind.HEATWAVE: "qui prend des nouvelles des personnes inscrites pendant l'alerte "
                           "canicule",
    CampaignKind.REMINDER: "avec une information qui vous concerne",
    CampaignKind.QUESTION: "qui souhaite vous poser une question",
}
NAME_FIELD = "nom"


class MessageError(ValueError):
    """The campaign's message or question cannot be said as written."""


def fields_of(template: str) -> list[str]:
    """The ``{field}`` names a message uses, in order; raises ``MessageError`` on a stray brace."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as exc:
        raise MessageError(f"the message cannot be read: {exc} (write fields as {{nom}})") from None
    names = []
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or not name.isidentifier() or spec or conversion:
            raise MessageError(f"'{{{name}}}' is not a field name (write fields as {{nom}})")
        if name not in names:
            names.append(name)
    return names


def check_fields(template: str, available: tuple[str, ...]) -> list[str]:
    """``fields_of`` the template, each checked against the list's columns."""
    used = fields_of(template)
    unknown = [f for f in used if f != NAME_FIELD and f not in available]
    if unknown:
        known = ", ".join(f"{{{f}}}" for f in (NAME_FIELD, *available))
        raise MessageError(f"the message uses {', '.join(f'{{{f}}}' for f in unknown)}, which the "
                           f"list has no column for (it has: {known})")
    return used


def render(template: str, name: str, fields: dict[str, str]) -> str:
    """The message as said to this person."""
    return template.format_map({**fields, NAME_FIELD: name})


def disclosure(town: str, name: str) -> str:
    return DISCLOSURE.format(name=f" {name}" if name else "", town=town)


def with_hint(question: str) -> str:
    """A yes/no question always says how to answer it."""
    question = question.strip()
    return question if "tapez 1" in question else f"{question} {YES_NO_HINT}"


def voicemail(kind: CampaignKind, town: str, callback: str) -> str:
    return VOICEMAIL.format(town=town, subject=VOICEMAIL_SUBJECT[kind], callback=callback)
