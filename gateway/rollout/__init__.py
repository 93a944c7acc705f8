"""Trying a policy before it goes live, through the real pipeline: policy tests (``testing``: YAML cases →
expected decisions, ``detour policy test``) and accuracy on a labelled corpus (``evaluation``, ``detour eval``)."""
