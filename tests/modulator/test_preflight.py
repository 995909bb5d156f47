"""lib.modulator.preflight: the modulator's model checks, on meta models (no weights)."""

from __future__ import annotations

from types import SimpleNamespace

from lib import preflight
from lib.modulator.preflight import modulator_checks

BERT = "google-bert/bert-large-uncased"


def test_seed_faithful_on_a_bert_modulator_fails() -> None:
    row = preflight.Row("modulator_bert-large", BERT)
    modulator_checks(row, BERT, SimpleNamespace(layers=None, seed_faithful=True))
    assert row.problems == [f"{BERT}: seed_faithful applies to T5 only; BertModel is "
                            "encoder-only: use seed_faithful=False (the encoder-token objective)"]
