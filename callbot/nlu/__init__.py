"""Natural-language understanding: Rasa-YAML data, embedded classifier, parse results."""
