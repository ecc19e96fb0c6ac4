"""Finishing the caller's errand: appointments (CalDAV), SMS with the link, messages by e-mail."""
