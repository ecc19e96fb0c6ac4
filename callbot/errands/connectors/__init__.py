"""Real servers behind the errand ports: CalDAV calendar, SMPP or HTTP SMS gateway, SMTP mail.

``settings`` holds the pydantic models (light to import, for ``callbot.config``);
``factory.build_connectors`` turns them into connectors, importing each client library only
when its connector is configured.
"""
