"""Fixtures the modulator tests share: one torch thread, the tiny T5 and BERT encoders."""

from __future__ import annotations

import pytest
import torch

from lib.models import load_model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run faster on one thread, and a busy machine cannot oversubscribe it."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def t5():
    return load_model("tiny/t5", dtype="float32")


@pytest.fixture(scope="module")
def bert():
    return load_model("tiny/bert", dtype="float32")
