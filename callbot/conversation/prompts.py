"""Every fixed sentence the bot says, in one place (also pre-rendered by the speech layer)."""

from __future__ import annotations

GREETING = (
    "Bonjour, vous êtes bien à la mairie de {town}. Je suis l'assistant automatique de la "
    "mairie. Posez-moi votre question. À tout moment, vous pouvez demander à parler à une "
    "personne, ou taper 0."
)
ANYTHING_ELSE = "Puis-je vous aider pour autre chose ?"
OFFER_DETAILS = "Voulez-vous plus de détails ?"
LISTENING = "Je vous écoute, quelle est votre question ?"
GREET_BACK = "Bonjour ! Quelle est votre question ?"
THANKS_BACK = "Je vous en prie."
GOODBYE = "Merci de votre appel, au revoir et bonne journée."
GOODBYE_EVENING = "Merci de votre appel, au revoir et bonne soirée."
OFFER_MORE = "Voulez-vous la suite ?"
REPEAT_PREFIX = "Je répète : "
NOTHING_TO_REPEAT = "Je n'ai encore rien dit d'important. Quelle est votre question ?"
NOT_UNDERSTOOD = "Je n'ai pas bien compris. Pouvez-vous reformuler votre question en quelques mots ?"
CLARIFY_TWO = "Vous parlez {first} ou {second} ?"  # names come with their "de"
CLARIFY_ONE = "Vous parlez {first}, c'est bien cela ?"
OUT_OF_SCOPE = (
    "Je ne peux pas vous renseigner sur ce sujet, qui ne relève pas de la mairie. "
    "Voulez-vous parler à une personne de l'accueil ?"
)
OUT_OF_SCOPE_ONLY = "Je ne peux pas vous renseigner sur ce sujet, qui ne relève pas de la mairie."
TRANSFER = "Je vous mets en relation avec une personne de l'accueil, ne quittez pas."
TRANSFER_AFTER_FAILURE = (
    "Je rencontre un problème technique. Je vous mets en relation avec une personne de "
    "l'accueil, ne quittez pas."
)
TIME_LIMIT = "Pour aller plus loin, je vous passe une personne de l'accueil, ne quittez pas."
CLOSED_NOW = (
    "L'accueil téléphonique est fermé en ce moment. Vous pourrez parler à une personne "
    "{reopening}, au {phone}."
)
CLOSED_NO_REOPENING = "L'accueil téléphonique est fermé en ce moment. Rappelez au {phone}."
SILENCE_REPROMPT = "Êtes-vous toujours là ? Posez-moi votre question, ou tapez 0 pour une personne."
SILENCE_GOODBYE = "Je n'entends plus rien. Merci de votre appel, au revoir."
DTMF_HELP = "Pour parler à une personne, tapez 0. Sinon, posez-moi votre question."
HOLD_ON = "Un instant, s'il vous plaît."  # the answer is late: the line must not go dead


def fixed_prompts(town: str) -> list[str]:
    """The sentences worth synthesising once at start-up and caching."""
    return [GREETING.format(town=town), ANYTHING_ELSE, OFFER_DETAILS, LISTENING, THANKS_BACK,
            GOODBYE, GOODBYE_EVENING, OFFER_MORE, NOT_UNDERSTOOD, OUT_OF_SCOPE, TRANSFER,
            TRANSFER_AFTER_FAILURE, TIME_LIMIT, SILENCE_REPROMPT, SILENCE_GOODBYE, DTMF_HELP, HOLD_ON]


#: From this hour (and before the morning) the bot wishes a good evening, not a good day.
EVENING_FROM_HOUR = 18
MORNING_FROM_HOUR = 5


def goodbye(hour: int) -> str:
    """"Bonne journée" at 22:30 sounds like a machine: the goodbye follows the clock."""
    return GOODBYE_EVENING if hour >= EVENING_FROM_HOUR or hour < MORNING_FROM_HOUR else GOODBYE
