"""« Aller vers »: the town calls its citizens (heatwave checks, reminders, one question).

- ``phones``: French numbers as written in a list → E.164 (``+33…``), or the reason not.
- ``contacts_import``: a CSV/XLSX/ODS list → contacts, every unusable row named with its line.
- ``model``: the vocabulary: campaign kinds, contact statuses, attempt results, the plan.
- ``scheduler``: when a call may start (hours, Sundays, French public holidays, emergencies),
  who to dial now, what a result means, the fate of calls cut by a restart (pure:
  ``decide(state, event, now)``).
- ``replies`` / ``dialogue`` / ``wording``: the outbound call itself, also pure: what the
  person said, what the bot does next, the French sentences it says.
- ``dialer``: the ``Dialer`` protocol a telephony back end implements (SIP, Asterisk…).
- ``call_driver``: one answered call, the dialogue's actions carried out on the line.
- ``fake_dialer``: an in-memory dialer and a virtual clock, for tests only.
- ``runner``: the async loop that carries the scheduler's decisions out over a ``Dialer`` and
  keeps every step in the store (``callbot.store.campaigns``), so a restart calls nobody twice.
- ``commands``: ``callbot campaign import|status|run|purge|dnc``.
"""
