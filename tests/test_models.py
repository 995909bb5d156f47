"""lib.models: registry, tiny, embedded and random/ models, hub offline behaviour, quantization."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import lib  # noqa: F401  (torchvision shim before transformers' vision classes)
from lib.attention.prompts import load_prompts
from lib.models import (
    ArchitectureInfo,
    LoadedModel,
    ModelNotAvailableError,
    UnknownModelError,
    architecture_info,
    embedded,
    free_model,
    hub,
    known_models,
    load_model,
)
from lib.models.architecture import check_fused_qkv
from lib.models.random_init import DEFAULT_MAX_PARAMETERS
from lib.models.tiny import TINY_FAMILIES, build_tiny
from lib.paths import ROOT

EMBEDDED = ["embedded/smollm2-135m-instruct", "embedded/gemma-3-270m", "embedded/all-minilm-l6-v2"]
TINY = [name for name in known_models() if name.startswith("tiny/")]
CAUSAL_TINY = [f"tiny/{f}" for f in TINY_FAMILIES if f not in {"t5", "bert", "clip", "dinov2"}]

# name: (family, layers, heads, kv heads, head_dim, hidden, kind, is_decoder)
FACTS = {
    "tiny/falcon-mqa": ("falcon", 6, 8, 1, 16, 128, "MQA", True),
    "tiny/falcon-40b-style": ("falcon", 6, 16, 2, 16, 256, "GQA", True),
    "tiny/llama-gqa": ("llama", 6, 8, 2, 16, 128, "GQA", True),
    "tiny/mistral-mha": ("mistral", 6, 8, 8, 16, 128, "MHA", True),
    "tiny/phi": ("phi", 6, 8, 8, 16, 128, "MHA", True),
    "tiny/phi3": ("phi3", 6, 8, 8, 16, 128, "MHA", True),
    "tiny/qwen": ("qwen3", 6, 8, 2, 16, 128, "GQA", True),
    "tiny/t5": ("t5", 6, 8, 8, 16, 128, "MHA", False),
    "tiny/bert": ("bert", 6, 8, 8, 16, 128, "MHA", False),
    "tiny/clip": ("clip", 6, 8, 8, 16, 128, "MHA", False),
    "tiny/dinov2": ("dinov2", 6, 8, 8, 16, 128, "MHA", False),
    "embedded/smollm2-135m-instruct": ("llama", 30, 9, 3, 64, 576, "GQA", True),
    "embedded/gemma-3-270m": ("gemma3_text", 18, 4, 1, 256, 640, "MQA", True),
    "embedded/all-minilm-l6-v2": ("bert", 6, 12, 12, 32, 384, "MHA", False),
}


def attentions(loaded: LoadedModel, batch: int = 2, length: int = 16) -> tuple[torch.Tensor, ...]:
    """One forward with output_attentions; vision models get a random image batch."""
    model, family = loaded.model, loaded.info.family
    with torch.no_grad():
        if family in {"clip", "dinov2"}:
            processor = getattr(loaded.tokenizer, "image_processor", loaded.tokenizer)
            images = [torch.rand(40, 48, 3).numpy() for _ in range(batch)]
            pixels = processor(images=images, return_tensors="pt", do_rescale=False)
            pixels = pixels["pixel_values"].to(model.dtype)
            return getattr(model, "vision_model", model)(pixels, output_attentions=True).attentions
        texts = load_prompts()[:batch]
        enc = loaded.tokenizer(
            texts, padding="max_length", truncation=True, max_length=length, return_tensors="pt"
        )
        if family == "t5":
            start = torch.zeros((batch, 1), dtype=torch.long)
            return model(**enc, decoder_input_ids=start, output_attentions=True).encoder_attentions
        return model(**enc, output_attentions=True).attentions


def check_attentions(loaded: LoadedModel, batch: int = 2, length: int = 16) -> None:
    maps = attentions(loaded, batch, length)
    info = loaded.info
    assert len(maps) == info.num_layers
    for layer in maps:
        assert layer.shape[:2] == (batch, info.num_heads)
        assert layer.shape[-1] == layer.shape[-2]
        if info.family not in {"clip", "dinov2"}:
            assert layer.shape[-1] == length
        sums = layer.float().sum(-1)
        assert torch.allclose(sums, torch.ones_like(sums), atol=1e-2)


def check_facts(loaded: LoadedModel, name: str) -> None:
    assert loaded.info == ArchitectureInfo(*FACTS[name])


def state_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def embedded_models() -> dict[str, LoadedModel]:
    return {name: load_model(name) for name in EMBEDDED}


def test_known_models_cover_every_family_as_base_and_instruct() -> None:
    names = known_models()
    assert names[:3] == EMBEDDED
    families = "falcon-mqa falcon-40b-style llama-gqa mistral-mha phi phi3 qwen t5 bert clip dinov2"
    for family in families.split():
        assert f"tiny/{family}" in names and f"tiny/{family}-instruct" in names


@pytest.mark.parametrize("name", TINY)
def test_tiny_model_loads_with_eager_attention(name: str) -> None:
    loaded = load_model(name)
    assert (loaded.source, loaded.dtype, loaded.quantization) == ("tiny", "bfloat16", "none")
    assert loaded.revision and loaded.revision.startswith("config-")
    assert not loaded.model.training
    check_facts(loaded, name.removesuffix("-instruct"))
    check_attentions(loaded)
    text = getattr(loaded.tokenizer, "tokenizer", loaded.tokenizer)
    if loaded.info.family != "dinov2":
        assert text.pad_token is not None and text.eos_token == "</s>"


@pytest.mark.parametrize("name", CAUSAL_TINY + ["tiny/t5", "tiny/bert"])
def test_tiny_forward_gives_one_map_per_layer_at_full_shape(name: str) -> None:
    """Ten prompts of 128 tokens; the speed of this pass is `python -m lib.models`'s to time."""
    loaded = load_model(name)
    maps = attentions(loaded, batch=10, length=128)
    assert len(maps) == loaded.info.num_layers
    assert maps[0].shape == (10, loaded.info.num_heads, 128, 128)


def test_causal_tiny_pads_with_eos_and_attention_is_causal() -> None:
    loaded = load_model("tiny/llama-gqa")
    assert loaded.tokenizer.pad_token == loaded.tokenizer.eos_token == "</s>"
    first = attentions(loaded)[0].float()
    assert torch.all(torch.triu(first, diagonal=1) == 0)


def test_tiny_models_are_deterministic_and_instruct_differs() -> None:
    base = load_model("tiny/falcon-mqa", dtype="float32").model
    again = load_model("tiny/falcon-mqa", dtype="float32").model
    instruct = load_model("tiny/falcon-mqa-instruct", dtype="float32").model
    pairs = list(zip(base.state_dict().values(), again.state_dict().values(), strict=True))
    assert all(torch.equal(a, b) for a, b in pairs)
    assert state_hash(base) != state_hash(instruct)
    assert base.config.to_dict() == instruct.config.to_dict()


@pytest.mark.integration
def test_tiny_models_are_identical_across_processes() -> None:
    code = (
        "import sys; sys.path.insert(0, 'tests'); import lib; "
        "from test_models import state_hash; from lib.models.tiny import build_tiny; "
        "print(state_hash(build_tiny('tiny/qwen-instruct')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == state_hash(build_tiny("tiny/qwen-instruct"))


def test_tiny_global_rng_is_untouched() -> None:
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    build_tiny("tiny/bert")
    assert torch.equal(torch.rand(3), expected)


def test_falcon_kv_heads_read_from_multi_query() -> None:
    mqa = load_model("tiny/falcon-mqa")
    assert mqa.model.config.num_kv_heads == 8  # what transformers reports
    assert (mqa.info.num_kv_heads, mqa.info.attention_kind) == (1, "MQA")
    gqa = load_model("tiny/falcon-40b-style")
    assert (gqa.info.num_heads, gqa.info.num_kv_heads, gqa.info.attention_kind) == (16, 2, "GQA")
    assert architecture_info(mqa.model.config).as_dict()["attention_kind"] == "MQA"


def test_architecture_info_of_the_papers_hub_models() -> None:
    from transformers import FalconConfig, LlamaConfig, MistralConfig, T5Config

    falcon7b = FalconConfig(
        hidden_size=4544, num_hidden_layers=32, num_attention_heads=71, multi_query=True
    )
    falcon40b = FalconConfig(
        hidden_size=8192, num_hidden_layers=60, num_attention_heads=128, num_kv_heads=8,
        new_decoder_architecture=True,
    )  # fmt: skip
    llama = LlamaConfig(num_key_value_heads=8, head_dim=128, vocab_size=128256)
    mistral = MistralConfig(num_key_value_heads=8)
    legacy = SimpleNamespace(
        model_type="RefinedWebModel", n_layer=32, n_head=71, hidden_size=4544, multi_query=True
    )
    got = {
        key: architecture_info(config)
        for key, config in [("falcon7b", falcon7b), ("falcon40b", falcon40b), ("llama", llama),
                            ("mistral", mistral), ("t5", T5Config()), ("legacy", legacy)]
    }  # fmt: skip
    assert got["falcon7b"] == ArchitectureInfo("falcon", 32, 71, 1, 64, 4544, "MQA", True)
    assert got["legacy"].num_kv_heads == 1 and got["legacy"].is_decoder
    assert got["falcon40b"] == ArchitectureInfo("falcon", 60, 128, 8, 64, 8192, "GQA", True)
    assert got["llama"] == ArchitectureInfo("llama", 32, 32, 8, 128, 4096, "GQA", True)
    assert got["mistral"].attention_kind == "GQA"  # the real Mistral-7B is not MHA
    assert got["t5"] == ArchitectureInfo("t5", 6, 8, 8, 64, 512, "MHA", False)


def test_fused_qkv_shape_corrects_wrong_kv_heads() -> None:
    model = build_tiny("tiny/falcon-mqa")
    wrong = ArchitectureInfo("falcon", 6, 8, 8, 16, 128, "MHA", True)
    fixed = check_fused_qkv(model, wrong)
    assert (fixed.num_kv_heads, fixed.attention_kind) == (1, "MQA")
    llama = build_tiny("tiny/llama-gqa")
    assert check_fused_qkv(llama, wrong) is wrong  # no fused projection: unchanged


@pytest.mark.slow
@pytest.mark.parametrize("name", EMBEDDED)
def test_embedded_model_loads_offline(name: str, embedded_models: dict[str, LoadedModel]) -> None:
    loaded = embedded_models[name]
    assert (loaded.source, loaded.dtype, loaded.quantization) == ("embedded", "bfloat16", "none")
    assert loaded.revision == embedded.source_version(name)
    assert not loaded.model.training
    assert loaded.model.config._attn_implementation == "eager"
    assert loaded.tokenizer.pad_token is not None
    check_facts(loaded, name)
    check_attentions(loaded, batch=2, length=24)


def test_embedded_cache_is_built() -> None:
    for name in EMBEDDED:
        assert embedded.is_built(name)
        assert (embedded.model_dir(name) / "config.json").exists()


def test_interrupted_conversion_leaves_no_cache(monkeypatch, tmp_path: Path) -> None:
    import transformers

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("simulated interruption during dequantization")

    monkeypatch.setattr(embedded, "MODEL_CACHE", tmp_path)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: object())
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", interrupted)
    name = "embedded/smollm2-135m-instruct"
    assert not embedded.is_built(name)
    with pytest.raises(KeyboardInterrupt):
        embedded.build(name, log=lambda line: None)
    assert not embedded.cache_dir(name).exists()
    assert list((tmp_path / "embedded").iterdir()) == []


def test_unknown_registry_names_list_the_known_ones() -> None:
    for name in ("tiny/nope", "embedded/nope", "falcon"):
        with pytest.raises(UnknownModelError) as caught:
            load_model(name)
        message = str(caught.value)
        assert name in message
        assert "tiny/falcon-mqa" in message and "embedded/gemma-3-270m" in message


@pytest.mark.parametrize(
    ("repo_id", "alternative"),
    [
        ("tiiuae/falcon-7b", "embedded/gemma-3-270m"),
        ("meta-llama/Llama-3.1-8B", "embedded/smollm2-135m-instruct"),
        ("mistralai/Mistral-7B-v0.3", "tiny/mistral-mha"),
    ],
)
def test_hub_model_offline_fails_fast_with_alternative(
    monkeypatch, tmp_path: Path, repo_id: str, alternative: str
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotAvailableError) as caught:
        load_model(repo_id)
    message = str(caught.value)
    assert repo_id in message and alternative in message
    assert "not in the local hub cache" in message and "cannot be reached" in message
    assert f"lib.workflow exec .venv/bin/hf download {repo_id}" in message


def test_checkpoint_reader_fetches_a_hub_model_when_the_hub_answers(monkeypatch,
                                                                    tmp_path: Path) -> None:
    """Terrain's tensor-by-tensor reader: from the cache, else fetched into this repository's
    hub cache (safetensors, configs, tokenizers only), else an error naming the command."""
    from lib.models import checkpoint as ckpt
    from lib.models import hub

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=0: False)
    with pytest.raises(ModelNotAvailableError,
                       match=r"hub cannot be reached.*hf download google-t5/t5-small"):
        ckpt.checkpoint_folder("google-t5/t5-small")
    fetched = []

    def snapshot_download(repo_id, cache_dir, ignore_patterns):
        fetched.append((repo_id, cache_dir, ignore_patterns))
        folder = Path(cache_dir) / "models--google-t5--t5-small" / "snapshots" / "abc"
        folder.mkdir(parents=True)
        return str(folder)

    import huggingface_hub

    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=0: True)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    folder = ckpt.checkpoint_folder("google-t5/t5-small")
    assert folder.name == "abc" and fetched[0][:2] == ("google-t5/t5-small", str(tmp_path))
    assert "*.bin" in fetched[0][2] and "*.safetensors" not in fetched[0][2]
    assert ckpt.checkpoint_folder("google-t5/t5-small") == folder and len(fetched) == 1


def test_hub_unreachable_without_offline_flag(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")  # RFC 2606: never resolves
    with pytest.raises(ModelNotAvailableError) as caught:
        load_model("tiiuae/falcon-40b")
    assert "tiiuae/falcon-40b" in str(caught.value)
    assert "tiny/falcon-40b-style" in str(caught.value)


def test_hub_real_endpoint_without_network(monkeypatch, tmp_path: Path) -> None:
    """The real endpoint: here it is unreachable; elsewhere the made-up id does not exist."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    repo_id = "tiiuae/falcon-7b-no-such-repo-bsd-test"
    with pytest.raises(ModelNotAvailableError) as caught:
        load_model(repo_id)
    assert repo_id in str(caught.value) and "embedded/gemma-3-270m" in str(caught.value)


def _fake_hub_cache(root: Path, repo_id: str, sha: str) -> None:
    snapshot = root / ("models--" + repo_id.replace("/", "--")) / "snapshots" / sha
    build_tiny("tiny/falcon-mqa").save_pretrained(snapshot)
    load_model("tiny/falcon-mqa").tokenizer.save_pretrained(snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text(sha)


def test_cached_hub_model_loads_offline_with_revision(monkeypatch, tmp_path: Path) -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    _fake_hub_cache(tmp_path, "someorg/tiny-falcon", sha)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    loaded = load_model("someorg/tiny-falcon", dtype="float32")
    assert (loaded.source, loaded.revision, loaded.dtype) == ("hub", sha, "float32")
    assert (loaded.info.num_kv_heads, loaded.info.attention_kind) == (1, "MQA")
    assert loaded.tokenizer.pad_token == loaded.tokenizer.eos_token
    check_attentions(loaded)


@pytest.fixture(scope="module")
def local_falcon(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("local-hub") / "tiny-falcon"
    build_tiny("tiny/falcon-mqa").save_pretrained(folder)
    load_model("tiny/falcon-mqa").tokenizer.save_pretrained(folder)
    return str(folder)


def _quantized_kinds(model: torch.nn.Module) -> set[str]:
    names = {"Linear8bitLt", "Linear4bit"}
    return {type(m).__name__ for m in model.modules() if type(m).__name__ in names}


def test_8bit_really_quantizes_falcon(local_falcon: str) -> None:
    loaded = load_model(local_falcon, quantization="8bit")
    assert loaded.quantization == "8-bit" and loaded.revision is None
    assert _quantized_kinds(loaded.model) == {"Linear8bitLt"}
    assert loaded.info.attention_kind == "MQA"
    check_attentions(loaded)


@pytest.mark.parametrize(
    "error",
    [torch.OutOfMemoryError("CUDA out of memory"), RuntimeError("CPU: out of memory, 2 GiB")],
)
def test_8bit_fallback_4bit_on_out_of_memory(monkeypatch, local_falcon: str, error) -> None:
    original, attempts = hub._from_pretrained, []

    def flaky(cls, source, quantization, **kwargs):
        attempts.append(quantization)
        if quantization == "8bit":
            raise error
        return original(cls, source, quantization, **kwargs)

    monkeypatch.setattr(hub, "_from_pretrained", flaky)
    loaded = load_model(local_falcon, quantization="8bit-fallback-4bit")
    assert attempts == ["8bit", "4bit"]
    assert loaded.quantization == "4-bit NF4"
    assert _quantized_kinds(loaded.model) == {"Linear4bit"}
    check_attentions(loaded)
    twin = load_model(local_falcon, quantization=loaded.quantization)  # the instruct side
    assert attempts[-1] == "4bit" and twin.quantization == "4-bit NF4"


def test_8bit_fallback_keeps_8bit_without_oom_and_reraises_other_errors(
    monkeypatch, local_falcon: str
) -> None:
    assert load_model(local_falcon, quantization="8bit-fallback-4bit").quantization == "8-bit"

    def broken(cls, source, quantization, **kwargs):
        raise ValueError("not a memory problem")

    monkeypatch.setattr(hub, "_from_pretrained", broken)
    with pytest.raises(ValueError, match="not a memory problem"):
        load_model(local_falcon, quantization="8bit-fallback-4bit")


def test_tiny_quantized_and_bad_options() -> None:
    loaded = load_model("tiny/llama-gqa", quantization="4bit")
    assert loaded.quantization == "4-bit NF4" and loaded.source == "tiny"
    check_attentions(loaded)
    with pytest.raises(ValueError):
        load_model("tiny/llama-gqa", quantization="3bit")
    with pytest.raises(ValueError):
        load_model("tiny/llama-gqa", dtype="int8")


def test_free_model_deletes_hub_cache_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    folder = tmp_path / "models--someorg--big-model" / "snapshots" / "abc"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    info = ArchitectureInfo("falcon", 1, 1, 1, 1, 1, "MHA", True)

    def record(name: str) -> LoadedModel:
        model = torch.nn.Linear(1, 1)
        return LoadedModel(name, model, object(), info, "hub", "float32", "none", None, "cpu")

    kept = record("someorg/big-model")
    free_model(kept)
    assert kept.model is None and folder.exists()
    gone = record("someorg/big-model")
    free_model(gone, delete_hub_cache=True)
    assert gone.model is None and gone.tokenizer is None
    assert not (tmp_path / "models--someorg--big-model").exists()


# ------------------------------------------------------------------------ random/ models


@pytest.fixture(scope="module")
def random_falcons() -> dict[str, LoadedModel]:
    return {size: load_model(f"random/tiiuae/falcon-{size}") for size in ("7b", "40b")}


@pytest.mark.parametrize("size, layers, heads, kv, kind, head_dim, hidden", [
    ("7b", 32, 71, 1, "MQA", 8, 568), ("40b", 60, 128, 8, "GQA", 4, 512)])
def test_random_falcon_keeps_layers_and_heads_and_says_what_was_reduced(
        random_falcons: dict[str, LoadedModel], size: str, layers: int, heads: int, kv: int,
        kind: str, head_dim: int, hidden: int) -> None:
    loaded = random_falcons[size]
    info = loaded.info
    assert (info.num_layers, info.num_heads, info.num_kv_heads, info.attention_kind) == (
        layers, heads, kv, kind)
    assert (info.head_dim, info.hidden_size) == (head_dim, hidden)
    assert (loaded.source, loaded.dtype, loaded.quantization) == ("random", "bfloat16", "none")
    assert loaded.revision.startswith("config-")
    assert sum(p.numel() for p in loaded.model.parameters()) <= DEFAULT_MAX_PARAMETERS
    assert loaded.reduction.startswith(
        f"vocab_size 65024 -> 260, hidden_size {64 * heads} -> {hidden} (head_dim 64 -> "
        f"{head_dim}), ffn_hidden_size {256 * heads} -> {4 * hidden}, initializer_range 0.02 -> ")
    assert loaded.reduction.endswith("(vocabulary: the tiny byte-level tokenizer's)")
    assert loaded.model.config._attn_implementation == "eager"
    assert loaded.tokenizer.pad_token == "</s>" and len(loaded.tokenizer) == 260
    check_attentions(loaded)


def test_random_init_keeps_the_logit_scale_where_width_shrinks() -> None:
    from lib.models.random_init import random_config

    config, reduction, kind = random_config("random/tiiuae/falcon-40b")
    factor = 8192 // config.hidden_size  # 16: std² x hidden is the published model's
    assert config.initializer_range == pytest.approx(0.02 * factor**0.5)
    assert config.initializer_range**2 * config.hidden_size == pytest.approx(0.02**2 * 8192)
    assert kind == "causal" and "initializer_range 0.02 -> 0.08" in reduction


def test_random_hub_model_keeps_its_own_tokenizer_where_the_cache_holds_it(monkeypatch) -> None:
    from lib.models import random_init

    monkeypatch.setattr(random_init, "_hub_tokenizer", lambda inner: object())
    config, reduction, kind = random_init.random_config("random/tiiuae/falcon-7b", 8 * 10**9)
    assert (kind, reduction, config.vocab_size, config.hidden_size) == ("hub", "none", 65024, 4544)
    config, reduction, kind = random_init.random_config("random/tiiuae/falcon-7b")  # 200 M
    assert kind == "causal" and reduction.startswith("vocab_size 65024 -> 260, hidden_size")


def test_random_models_are_deterministic_and_twins_differ() -> None:
    name = "random/meta-llama/Llama-3.1-8B"
    base = load_model(name, dtype="float32", max_parameters=10_000_000).model
    again = load_model(name, dtype="float32", max_parameters=10_000_000).model
    instruct = load_model(name + "-Instruct", dtype="float32", max_parameters=10_000_000).model
    assert state_hash(base) == state_hash(again)
    assert state_hash(base) != state_hash(instruct)
    assert base.config.num_hidden_layers == 32 and base.config.num_key_value_heads == 8
    assert base.config.head_dim == 4  # 128 / 32: the smallest width under a 10 M budget


def test_random_tiny_differs_from_the_tiny_model() -> None:
    loaded = load_model("random/tiny/falcon-mqa")
    assert loaded.reduction == "none" and loaded.source == "random"
    assert loaded.info == load_model("tiny/falcon-mqa").info
    assert state_hash(loaded.model) != state_hash(load_model("tiny/falcon-mqa").model)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load_model("random/tiny/bert")
    assert torch.equal(torch.rand(3), expected)  # the global RNG is untouched


@pytest.mark.slow
def test_random_embedded_keeps_its_tokenizer_within_the_budget() -> None:
    small = load_model("random/embedded/all-minilm-l6-v2")
    assert small.reduction == "none" and small.info == load_model(EMBEDDED[2]).info
    assert len(small.tokenizer) == 30522  # the model's own tokenizer
    big = load_model("random/embedded/gemma-3-270m")  # 268 M parameters: the vocabulary goes
    assert big.reduction.startswith("vocab_size 262144 -> 260")
    assert (big.info.num_layers, big.info.num_heads, big.info.num_kv_heads) == (18, 4, 1)


def test_random_names_fail_clearly() -> None:
    from lib.models.random_init import RandomModelError

    with pytest.raises(UnknownModelError, match=r"did you mean 'random/tiiuae/falcon-7b'\?"):
        load_model("random/tiiuae/falcon-7")
    with pytest.raises(RandomModelError, match="dinov2.*is not.*random/tiny/dinov2"):
        load_model("random/facebook/dinov2-large")
    with pytest.raises(RandomModelError, match="exceed max_parameters=1,000,000; raise"):
        load_model("random/tiiuae/falcon-40b", max_parameters=1_000_000)


def test_random_names_in_parameter_files(tmp_path: Path) -> None:
    import yaml

    from lib.models.registry import text_encoder
    from lib.params import ParameterError, load_parameters

    keys = {"experiment": "E11", "run": "x", "profile": "embedded",
            "base": "random/tiiuae/falcon-7b", "instruct": "random/tiny/falcon-mqa"}
    path = tmp_path / "embedded" / "E11_x.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(keys))
    assert load_parameters(path).base == "random/tiiuae/falcon-7b"
    path.write_text(yaml.safe_dump(keys | {"instruct": "random/tiny/falcon-mq"}))
    with pytest.raises(ParameterError, match=r"instruct: unknown model 'random/tiny/falcon-mq' "
                                             r"\(did you mean 'random/tiny/falcon-mqa'\?\)"):
        load_parameters(path)
    assert text_encoder("random/google-t5/t5-small") is True
    assert text_encoder("random/tiny/bert") is True
    assert text_encoder("random/tiiuae/falcon-7b") is False
