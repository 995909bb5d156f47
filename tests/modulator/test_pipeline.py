"""lib.modulator.pipeline: the §8/§10/§12 protocol on tiny BERT with real WordNet synsets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lib.models import load_model
from lib.modulator.pipeline import (
    PHASE_BOUNDARY,
    alpha_sweep,
    evaluate_modulator,
    evaluation_pairs,
    field_modulator_step,
    pentachora,
    prepare_data,
    preservation,
    procrustes_modulator,
    train_step,
    wup_matrix,
)
from lib.modulator.train import TrainConfig
from lib.terrain.wordnet import MatchedLemma, ensure_wordnet

WORDS = ("dog cat wolf fox horse cow sheep goat lion tiger bird eagle owl fish shark whale tree "
         "oak pine rose tulip grass car bus train ship boat plane house hut tower bridge road "
         "river lake sea hill mountain apple pear bread cheese").split()


@pytest.fixture(scope="module")
def wn():
    ensure_wordnet()
    from nltk.corpus import wordnet

    return wordnet


@pytest.fixture(scope="module")
def setup(wn):
    bert = load_model("tiny/bert", dtype="float32")
    synsets = [wn.synset(f"{w}.n.01") for w in WORDS] + [wn.synset("good.a.01")]
    matched = [MatchedLemma(s.lemmas()[0].name(), s, 4 + i, s.definition())
               for i, s in enumerate(synsets)]
    data = prepare_data(bert.model, bert.tokenizer, matched=matched, progress=False)
    result, mod, arrays = procrustes_modulator(data, bert.model, n_anchor=24, n_geo=6)
    return bert, data, result, mod, arrays


def test_wup_matrix_matches_nltk(wn) -> None:
    syn = [wn.synset(f"{w}.n.01") for w in WORDS[:6]] + [wn.synset("good.a.01")]
    S = wup_matrix(syn)
    for i in range(len(syn)):
        assert S[i, i] == 1.0
        for j in range(i + 1, len(syn)):
            expected = syn[i].wup_similarity(syn[j]) or 0.0
            assert S[i, j] == S[j, i] == pytest.approx(expected, abs=1e-6)


def test_prepare_data_and_the_procrustes_modulator(setup) -> None:
    bert, data, result, mod, arrays = setup
    emb = bert.model.embeddings.word_embeddings.weight.detach().numpy()
    np.testing.assert_array_equal(data.static, emb[data.token_ids])
    assert data.template == "{definition}" and len(data) == data.n_matched == len(WORDS) + 1
    anchors = arrays["anchor_idx"]
    np.testing.assert_array_equal(
        anchors, np.random.default_rng(42).choice(len(data), 24, replace=False))
    rows = mod.geometric_embed.weight.detach().numpy()[data.token_ids]
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    assert result["unmatched"]["unmatched_rows"] == 260 - len(data)
    assert result["n_layers"] == 6 and mod.alpha.shape == (6,)
    assert torch.allclose(mod.alphas, torch.full((6,), 0.01))
    assert -1 <= result["recon_corr"] <= 1
    json.dumps(result)


def test_evaluation_reproduces_the_anchor_leak_and_its_fix(setup) -> None:
    _, data, _, _, arrays = setup
    anchors = arrays["anchor_idx"]
    leaky = evaluation_pairs(data, anchors=anchors, n_rel=24, n_pairs=500)
    assert leaky["leakage_fraction"] == 1.0  # B8: the same draw as the anchors
    clean = evaluation_pairs(data, anchors=anchors, n_rel=24, n_pairs=500,
                             eval_disjoint_from_anchors=True)
    assert clean["leakage_fraction"] == 0.0 and not np.isin(clean["rel"], anchors).any()
    syn = data.synsets
    for k in range(0, len(leaky["s"]), 50):
        a, b = syn[leaky["rel"][leaky["pi"][k]]], syn[leaky["rel"][leaky["pj"][k]]]
        assert leaky["s"][k] == pytest.approx(a.path_similarity(b))
    with pytest.raises(ValueError, match="anchors"):
        evaluation_pairs(data, eval_disjoint_from_anchors=True)


def test_evaluate_at_alpha_zero_preserves_everything(setup) -> None:
    bert, data, _, mod, arrays = setup
    res, reps = evaluate_modulator(data, bert.model, bert.tokenizer, mod, alpha=0.0,
                                   anchors=arrays["anchor_idx"], n_rel=30, n_pairs=400,
                                   n_simplices=40, progress=False)
    np.testing.assert_array_equal(reps, data.encoder)
    assert res["preservation"]["mean"] == pytest.approx(1.0, abs=1e-6)
    sets = res["relational"]["sets"]
    assert sets["Modulated"]["pearson"] == pytest.approx(sets["Original"]["pearson"])
    assert sets["Modulated"]["relative_lift_pearson"] == pytest.approx(0.0, abs=1e-9)
    assert res["pentachora"]["paired"]["vol_corr"] == pytest.approx(1.0)
    assert torch.allclose(mod.alphas, torch.full((6,), 0.01))  # restored
    json.dumps(res)


def test_relative_lift_and_deltas_are_against_the_original(setup) -> None:
    bert, data, _, mod, arrays = setup
    res, reps = evaluate_modulator(data, bert.model, bert.tokenizer, mod, alpha=0.5,
                                   anchors=arrays["anchor_idx"], n_rel=30, n_pairs=400,
                                   n_simplices=40, progress=False)
    sets = res["relational"]["sets"]
    m, o = sets["Modulated"], sets["Original"]
    assert m["relative_lift_pearson"] == pytest.approx((m["pearson"] - o["pearson"]) / o["pearson"])
    assert m["delta_spearman"] == pytest.approx(m["spearman"] - o["spearman"])
    cos = np.sum(data.encoder * reps, 1) / (
        np.linalg.norm(data.encoder, axis=1) * np.linalg.norm(reps, axis=1))
    assert res["preservation"]["mean"] == pytest.approx(cos.mean(), rel=1e-5)
    assert preservation(data.encoder, reps)["mean"] < 0.9999


def test_a_constant_similarity_leaves_correlations_and_lifts_undefined() -> None:
    """Every pair at the same similarity: no Pearson, Spearman, delta or lift is a number; the
    reason is recorded and the tables print "undefined"."""
    from lib.modulator.pipeline import relational_evaluation
    from lib.modulator.study import relational_table

    rng = np.random.default_rng(0)
    n = 20
    pi, pj = rng.choice(n, 200), rng.choice(n, 200)
    keep = pi != pj
    pairs = {"rel": np.arange(n), "pi": pi[keep], "pj": pj[keep], "s": np.full(keep.sum(), 0.5),
             "similarity": "wup", "n_rel": n, "n_pairs_drawn": 200, "n_pairs": int(keep.sum()),
             "seed": 0, "eval_disjoint_from_anchors": True, "leakage_fraction": None}
    reps = {name: rng.normal(size=(n, 8)) for name in ("Static", "Original", "Modulated")}
    out = relational_evaluation(pairs, reps)
    m = out["sets"]["Modulated"]
    for key in ("pearson", "spearman", "delta_pearson", "relative_lift_pearson",
                "relative_lift_spearman"):
        assert np.isnan(m[key]), key
    assert m["reason"].startswith("undefined: no variance in the pair similarities")
    assert m["lift_reason"] == m["reason"]
    table = relational_table({"relational": out})
    assert (table[["pearson", "spearman", "relative_lift_pearson"]] == "undefined").all().all()
    # a varying similarity: defined; an Original with one row repeated: only the lift is not
    pairs["s"] = np.linspace(0.1, 0.9, keep.sum())
    defined = relational_evaluation(pairs, reps)["sets"]["Modulated"]
    assert defined["reason"] is None and defined["lift_reason"] is None
    reps["Original"] = np.tile(reps["Original"][0], (n, 1))
    m = relational_evaluation(pairs, reps)["sets"]["Modulated"]
    assert m["reason"] is None and np.isfinite(m["pearson"]) and np.isnan(m["delta_pearson"])
    assert m["lift_reason"].startswith("Original: undefined: no variance in the pair cosines")


def test_the_anchor_effect_scores_the_same_reps_on_the_anchors_and_held_out(setup) -> None:
    from lib.modulator.pipeline import anchor_effect

    bert, data, _, mod, arrays = setup
    _, reps = evaluate_modulator(data, bert.model, bert.tokenizer, mod, alpha=0.5,
                                 anchors=arrays["anchor_idx"], n_rel=24, n_pairs=400,
                                 n_simplices=30, n_boot=20, progress=False)
    out = anchor_effect(data, reps, arrays["anchor_idx"], n_rel=24, n_pairs=400, n_boot=20)
    a, c = out["as_executed"], out["corrected"]
    assert a["leakage_fraction"] == 1.0 and c["leakage_fraction"] == 0.0
    assert a["pearson"] != c["pearson"]
    for key in ("pearson", "relative_lift_pearson", "spearman", "original_pearson",
                "delta_pearson"):
        assert out["difference"][key] == pytest.approx(a[key] - c[key])
    d = out["difference"]  # the token sets' own part + the modulator's lift part
    assert d["pearson"] == pytest.approx(d["original_pearson"] + d["delta_pearson"], abs=1e-12)
    assert d["original_pearson"] != 0.0  # the two token sets differ before any modulation
    leaky = evaluation_pairs(data, anchors=arrays["anchor_idx"], n_rel=24, n_pairs=400)
    assert a["n_pairs"] == leaky["n_pairs"]  # the same draw as evaluation_pairs
    assert a["n_boot"] == 20 and len(a["pearson_ci"]) == 2
    json.dumps(out)
    # the notebook's glue: both effects at the top level, `taken` from the run's B8 switch
    from lib.modulator import study
    from lib.params import load_parameters

    params = load_parameters("parameters/embedded/modulator_minilm.yaml", "modulator",
                             {"evaluation": {"n_rel": 24, "n_pairs": 400, "n_boot": 20},
                              "eval_disjoint_from_anchors": False})
    procrustes = {"evaluation": {"pentachora": pentachora(data.encoder, reps, n_simplices=30)}}
    glued = study.effects(data, params, procrustes, arrays | {"procrustes_reps": reps})
    anchors = glued["anchor_evaluation"]
    assert anchors["taken"] == "as_executed" and anchors["difference"] == out["difference"]
    assert set(glued) == {"anchor_evaluation", "pentachoron_pairing"}


def test_the_pairing_effect_is_unpaired_minus_paired() -> None:
    from lib.modulator.pipeline import pairing_effect

    X = np.random.default_rng(0).normal(size=(50, 8))
    pent = pentachora(X, 2 * X, n_simplices=30)
    out = pairing_effect(pent)
    a, c = out["as_executed"], out["corrected"]
    assert c["cv_change"] == pytest.approx(0.0, abs=1e-9)  # same simplices, scaled reps
    assert a["cv_modulated"] == pent["unpaired_as_executed"]["modulated"]["cv"]
    assert out["difference"]["cv_modulated"] == pytest.approx(a["cv_modulated"]
                                                              - c["cv_modulated"]) != 0
    json.dumps(out)


def test_pentachora_paired_and_unpaired() -> None:
    X = np.random.default_rng(0).normal(size=(50, 8))
    out = pentachora(X, 2 * X, n_simplices=30)
    assert out["paired"]["vol_corr"] == pytest.approx(1.0)
    assert out["paired"]["modulated"]["cv"] == pytest.approx(out["paired"]["original"]["cv"])
    assert out["unpaired_as_executed"]["modulated"]["cv"] != pytest.approx(
        out["paired"]["modulated"]["cv"])
    with pytest.raises(ValueError, match="differ"):
        pentachora(X, X[:10])


def test_alpha_sweep_labels_the_phase_boundary_and_restores_alpha(setup) -> None:
    bert, data, _, mod, arrays = setup
    out = alpha_sweep(data, bert.model, bert.tokenizer, mod, alphas=(0.01, 0.5),
                      anchors=arrays["anchor_idx"], eval_disjoint_from_anchors=True, n_rel=16,
                      n_pairs=300, n_simplices=30, progress=False)
    assert [r["alpha"] for r in out["rows"]] == [0.01, PHASE_BOUNDARY, 0.5]
    assert "phase boundary" in out["rows"][1]["label"] and out["cosine_constant"] == 0.29514
    assert out["rows"][0]["preservation"] > out["rows"][2]["preservation"]
    assert out["pairs"]["leakage_fraction"] == 0.0
    assert torch.allclose(mod.alphas, torch.full((6,), 0.01))
    json.dumps(out)


def test_train_and_field_steps(setup, tmp_path) -> None:
    bert, data, _, mod, _ = setup
    cfg = TrainConfig(epochs=1, batch_size=16, max_input_len=48, progress=False)
    result, run = train_step(data, bert.model, bert.tokenizer, mod, cfg,
                             save_path=tmp_path / "m.safetensors")
    assert run.encoder_unchanged and (tmp_path / "m.safetensors").exists()
    assert result["objective"] == "encoder-token" and len(result["final_alpha"]) == 6
    assert result["final_alpha_mean"] == pytest.approx(np.mean(result["final_alpha"]))
    test = result["alpha_test"]
    assert test["steps"] == result["steps"] and test["verdict"] in ("testable", "not testable")
    assert result["alpha_monotonic_increasing_with_depth"] == test["monotonic_increasing"]
    json.dumps(result)
    field, fm = field_modulator_step(data, bert.model, bert.tokenizer, train_config=cfg,
                                     n_simplices=30, progress=False)
    assert field["params"] == sum(p.numel() for p in fm.parameters())
    assert field["train"]["encoder_unchanged"] and field["train"]["alpha_test"]["n_layers"] == 6
    assert {d["id"] for d in field["fault_decisions"]} >= {"B12a", "B12c", "B12f"}
    json.dumps(field)


def test_alphas_that_barely_move_give_no_depth_verdict(setup) -> None:
    import copy

    bert, data, _, mod, _ = setup
    cfg = TrainConfig(epochs=1, batch_size=16, max_input_len=48, lr=1e-9, max_steps=2,
                      progress=False)
    result, _ = train_step(data, bert.model, bert.tokenizer, copy.deepcopy(mod), cfg)
    assert result["alpha_test"]["verdict"] == "not testable"
    assert result["alpha_monotonic_increasing_with_depth"] is None
    assert result["alpha_test"]["reason"].startswith(
        "not testable: training has not converged (1 validation loss, the criterion needs 3")
    assert result["alpha_test"]["convergence"]["changes"] == []


def test_a_trained_modulator_is_published_only_with_its_results(setup, tmp_path) -> None:
    """An interrupted run leaves no finished-looking `lerp.safetensors` without its results: the
    modulator is staged (hidden) until `write_json` writes the results; the next run removes
    leftovers and orphans."""
    import copy

    from lib.modulator import study
    from lib.modulator.train import load_modulator
    from lib.params import load_parameters
    from lib.paths import shown
    from lib.results import write_json

    bert, data, _, mod, arrays = setup
    params = load_parameters("parameters/embedded/modulator_minilm.yaml", "modulator", {
        "training": {"epochs": 1, "batch_size": 16, "max_steps": 2, "max_input_len": 48,
                     "lr": 0.01},
        "evaluation": {"n_rel": 400, "n_simplices": 30}})
    pairs = evaluation_pairs(data, anchors=arrays["anchor_idx"], n_rel=30, n_pairs=300,
                             eval_disjoint_from_anchors=True)
    results_file, folder = tmp_path / "modulator_x.json", tmp_path / "modulator_x"
    folder.mkdir()
    (folder / "lerp.safetensors").write_bytes(b"left by a killed run")  # no results refer to it
    (folder / ".field.safetensors.partial").write_bytes(b"staged by a killed run")
    paths = study.modulator_paths(results_file)
    assert paths["lerp"] == folder / "lerp.safetensors" and list(folder.iterdir()) == []
    block, trained, _ = study.trained_section(data, bert, params, mod, pairs, paths["lerp"],
                                              progress=False)
    # killed here: only the hidden staged file exists, never the finished name
    assert [p.name for p in folder.iterdir()] == [".lerp.safetensors.partial"]
    assert block["train"]["saved_to"] == shown(paths["lerp"])
    write_json(results_file, {"trained": block})
    assert [p.name for p in folder.iterdir()] == ["lerp.safetensors"]
    loaded = load_modulator(copy.deepcopy(mod), paths["lerp"])
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                   trained.state_dict().values(), strict=True))
    # a finished modulator beside its results survives the next run's clean-up; a leftover not
    (folder / ".lerp.safetensors.partial").write_bytes(b"staged by a killed rerun")
    study.modulator_paths(results_file)
    assert [p.name for p in folder.iterdir()] == ["lerp.safetensors"]
