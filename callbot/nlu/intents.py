"""The intent contract (../shared/contract/intents.tsv): names other tools rely on."""

from __future__ import annotations

DIALOGUE_INTENTS: tuple[str, ...] = (
    "greet",
    "goodbye",
    "thanks",
    "affirm",
    "deny",
    "request_human",
    "repeat",
    "out_of_scope",
)

#: The contract's topics: the knowledge base must answer each (it may have many more).
TOPIC_INTENTS: tuple[str, ...] = (
    "opening_hours",
    "address_access",
    "civil_status_certificate",
    "id_card_passport",
    "birth_declaration",
    "death_declaration",
    "marriage",
    "pacs",
    "cemetery",
    "electoral_register",
    "proxy_vote",
    "citizen_census",
    "new_resident",
    "waste_collection",
    "bulky_waste",
    "recycling_centre",
    "school_enrolment",
    "school_canteen",
    "after_school",
    "early_childhood",
    "invoice_payment",
    "building_permit",
    "road_issue_report",
    "lost_property",
    "room_rental",
    "social_assistance",
    "social_housing",
    "heatwave_register",
    "municipal_police",
    "hosting_certificate",
    "jobs",
    "mayor_appointment",
    "associations",
    "events",
)

ALL_INTENTS: tuple[str, ...] = DIALOGUE_INTENTS + TOPIC_INTENTS

#: What the classifier answers when it is not confident enough (Rasa's name for it).
NLU_FALLBACK = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"


def is_topic(intent: str) -> bool:
    """Any intent that is not a dialogue act: the contract's topics and the knowledge base's."""
    return bool(intent) and intent not in DIALOGUE_INTENTS and intent != NLU_FALLBACK
