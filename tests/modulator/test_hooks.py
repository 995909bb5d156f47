"""lib.modulator.hooks: pre-hooks on T5 and BERT blocks, exact removal, clear errors."""

from __future__ import annotations

import pytest
import torch

from lib.models import load_model
from lib.modulator.field import FieldModulatorConfig, GeometricFieldModulator
from lib.modulator.hooks import (
    BlockListNotFoundError,
    LayerIndexError,
    attach,
    encoder_blocks,
    encoder_of,
)
from lib.modulator.lerp import GeometricResidualModulator

TEXTS = ["summarize: a dog is a domesticated canine", "a cat"]


@pytest.fixture(scope="module", params=["tiny/t5", "tiny/bert"])
def loaded(request):
    return load_model(request.param, dtype="float32")


def _width(model) -> int:
    return getattr(model.config, "d_model", None) or model.config.hidden_size


def _lerp(model, alpha: float = 0.3) -> GeometricResidualModulator:
    return GeometricResidualModulator(_width(model), model.config.vocab_size, 8, alpha,
                                      per_layer_alpha=True, n_layers=6,
                                      generator=torch.Generator().manual_seed(0))


def _encode(loaded, **kw):
    batch = loaded.tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = encoder_of(loaded.model)(input_ids=batch.input_ids,
                                       attention_mask=batch.attention_mask, **kw)
    return out.last_hidden_state, batch


def test_blocks_found_for_t5_and_bert(loaded) -> None:
    blocks = encoder_blocks(loaded.model)
    expected = (loaded.model.encoder.block if loaded.model.config.is_encoder_decoder
                else loaded.model.encoder.layer)
    assert blocks is expected and len(blocks) == 6


def test_removing_the_hooks_restores_outputs_exactly(loaded) -> None:
    before, _ = _encode(loaded)
    mod = _lerp(loaded.model)
    with attach(loaded.model, mod):
        during, _ = _encode(loaded)
    assert not torch.allclose(during, before)
    after, _ = _encode(loaded)
    assert torch.equal(after, before)
    hooks = attach(loaded.model, GeometricFieldModulator(
        FieldModulatorConfig(d_model=_width(loaded.model))))
    assert not torch.allclose(_encode(loaded)[0], before)
    assert sorted(hooks.validity_maps) == list(range(6))
    hooks.remove()
    assert torch.equal(_encode(loaded)[0], before)


def test_alpha_zero_is_exactly_the_unmodulated_encoder(loaded) -> None:
    before, _ = _encode(loaded)
    mod = _lerp(loaded.model, alpha=0.0)
    with attach(loaded.model, mod):
        assert torch.equal(_encode(loaded)[0], before)


def test_alpha_one_at_block_zero_feeds_the_geometric_target(loaded) -> None:
    """With alpha 1 at block 0, the block's input is exactly proj(geo[ids])."""
    mod = _lerp(loaded.model)
    with torch.no_grad():
        mod.alpha.copy_(torch.tensor([float("inf")] + [float("-inf")] * 5))
    seen = {}

    def record(module, args, kwargs, output) -> None:
        seen["h"] = args[0] if args else kwargs["hidden_states"]

    with attach(loaded.model, mod):  # a forward hook sees the args after the pre-hooks
        spy = encoder_blocks(loaded.model)[0].register_forward_hook(record, with_kwargs=True)
        try:
            _, batch = _encode(loaded)
        finally:
            spy.remove()
    with torch.no_grad():
        assert torch.equal(seen["h"], mod.target(batch.input_ids))


def test_t5_hooks_equal_the_seeds_hand_run_encoder() -> None:
    """Reference: the seed's ModulatedT5Encoder loop (SPEC §7), run by hand on tiny T5."""
    loaded = load_model("tiny/t5", dtype="float32")
    model, enc = loaded.model, loaded.model.encoder
    mod = _lerp(model)
    batch = loaded.tokenizer(TEXTS, return_tensors="pt", padding=True)
    ids, mask = batch.input_ids, batch.attention_mask
    with torch.no_grad():
        h = enc.dropout(enc.embed_tokens(ids))
        ext = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        pb = None
        for i, block in enumerate(enc.block):
            h = mod(h, ids, i)
            out = block(h, attention_mask=ext, position_bias=pb)
            h = out[0]
            pb = next(o for o in out[1:] if isinstance(o, torch.Tensor) and o.dim() == 4)
        reference = enc.dropout(enc.final_layer_norm(h))
        with attach(model, mod):
            hooked = enc(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(hooked, reference, rtol=1e-5, atol=1e-5)


def test_token_ids_can_be_set_explicitly(loaded) -> None:
    mod = _lerp(loaded.model)
    batch = loaded.tokenizer(TEXTS, return_tensors="pt", padding=True)
    embeds = loaded.model.get_input_embeddings()(batch.input_ids)
    encoder = encoder_of(loaded.model)
    with torch.no_grad(), attach(loaded.model, mod) as hooks:
        captured = encoder(input_ids=batch.input_ids,
                           attention_mask=batch.attention_mask).last_hidden_state
        hooks.set_token_ids(None)
        with pytest.raises(ValueError, match="token ids"):
            encoder(inputs_embeds=embeds, attention_mask=batch.attention_mask)
        with hooks.token_ids(batch.input_ids):
            explicit = encoder(inputs_embeds=embeds,
                               attention_mask=batch.attention_mask).last_hidden_state
    torch.testing.assert_close(explicit, captured)


def test_bad_layers_and_models_raise_clear_errors(loaded) -> None:
    mod = _lerp(loaded.model)
    kind = loaded.model.config.model_type
    with pytest.raises(LayerIndexError, match=rf"layer index \[6\].*{kind}.*6 encoder blocks"):
        attach(loaded.model, mod, layers=[0, 6])
    short = GeometricResidualModulator(_width(loaded.model), loaded.model.config.vocab_size, 4,
                                       per_layer_alpha=True, n_layers=2)
    with pytest.raises(LayerIndexError, match="n_layers=6"):
        attach(loaded.model, short)
    narrow = GeometricResidualModulator(7, loaded.model.config.vocab_size, 4)
    with pytest.raises(ValueError, match="d_model=7"):
        attach(loaded.model, narrow)


def test_a_model_without_encoder_blocks_names_its_type() -> None:
    clip = load_model("tiny/clip", dtype="float32").model
    with pytest.raises(BlockListNotFoundError, match="CLIPModel.*'clip'"):
        encoder_blocks(clip)
    assert issubclass(BlockListNotFoundError, ValueError)
