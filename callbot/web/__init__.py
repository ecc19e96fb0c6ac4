"""The ops dashboard and FAQ editor: one aiohttp app built by ``callbot.web.app.init_app``."""
