"""Words for people and programs: the decision JSON (``report``), pages (``pages``, Jinja2 ``templates/``),
terminal text (``text``), and Detour's own texts in English, Swedish and Dutch (``i18n``, ``locale/``)."""
