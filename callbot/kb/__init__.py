"""Knowledge base: services, opening hours, answers, and text made speakable."""
