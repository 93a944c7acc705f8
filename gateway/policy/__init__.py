"""The policy IT edits: schema (pydantic), loader (YAML with file/line errors), engine (decide)."""
