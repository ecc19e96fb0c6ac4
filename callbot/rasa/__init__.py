"""Rasa 3.6 as a separate server: its own venv, a project written from nlu_data/, a process.

Rasa 3.6 needs Python < 3.11 and aiohttp < 3.10, which the bot cannot share; so Rasa lives
in its own virtual environment and the bot talks to it over HTTP (``callbot.nlu.rasa_http``).
"""

RASA_VERSION = "3.6.21"
