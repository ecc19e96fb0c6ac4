"""Town data in and out of the knowledge base: ``callbot kb import|export annuaire|faq``.

- ``annuaire_format``: the service-public.fr "Annuaire de l'administration" JSON records.
- ``annuaire_import`` / ``faq_import``: those records, or FAQ spreadsheet rows, become a topic
  file (``nlu_data/topics/*.yml``) through ``topic_file``; ``checking`` loads the result with
  the real loader before anything is written, and names every row or record it had to leave out.
- ``sheets``: CSV (encoding and delimiter detected), XLSX and ODS tables, read and written.
- ``export``: the loaded knowledge base back to those formats.
- ``commands``: the CLI wiring.
"""
