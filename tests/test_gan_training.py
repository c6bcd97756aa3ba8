"""Trainers: input validation, reproducibility, checkpoints + resume, learning, output coverage."""

import csv
import json

import numpy as np
import pytest
import torch

from insgan_core.data import Axis, MapStack
from insgan_core.errors import InsganFileError, InsganInputError
from insgan_core.gan.config import AugmentConfig, TrainConfig
from insgan_core.gan.model_file import load_model, read_metadata
from insgan_core.gan.training import latest_checkpoint, learn_coverage_mask, train

NQ, NE = 32, 32


def toy_pairs(n=6, *, seed=0, gap=True):
    """Clean maps (a dispersive Gaussian band) and 'artefact' maps (2x + background, blurred, masked).

    Targets are NaN above the kinematic-like limit E > 20 + 3|Q| meV and (``gap``) in a detector gap
    |Q| in [1.5, 1.7) Å⁻¹, which the sources do not have.
    """
    rng = np.random.default_rng(seed)
    q = Axis(np.linspace(0, 3, NQ + 1), "MomentumTransfer")
    e = Axis(np.linspace(0, 30, NE + 1), "DeltaE")
    qq, ee = np.meshgrid(q.centres, e.centres, indexing="ij")
    clean, art = [], []
    for i in range(n):
        centre = 6 + 2 * rng.random() + 3 * qq
        c = np.exp(-0.5 * ((ee - centre) / 1.0) ** 2)
        a = 2.0 * np.exp(-0.5 * ((ee - centre) / 2.0) ** 2) / 2.0 + 0.2
        a[ee > 20 + 3 * qq] = np.nan
        if gap:
            a[(qq >= 1.5) & (qq < 1.7)] = np.nan
        clean.append(c)
        art.append(a)
    clean, art = np.array(clean), np.array(art)
    return MapStack(clean, None, q, e), MapStack(art, 0.05 * np.sqrt(np.abs(art)), q, e)


def small_config(**kw):
    base = dict(mode="paired", steps=4, batch_size=2, checkpoint_every=0, log_every=1, seed=3,
                generator={"name": "unet", "width": 4, "depth": 2},
                discriminator={"name": "patchgan", "width": 8, "n_layers": 2})
    base.update(kw)
    return TrainConfig(**base)


def weights(path):
    return {k: v.clone() for k, v in load_model(path).generator.state_dict().items()}


def assert_same_weights(a, b, *, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=atol, msg=k)


# --- validation --------------------------------------------------------------------------------------


def test_empty_sets_are_refused(tmp_path):
    src, tgt = toy_pairs(2)
    with pytest.raises(InsganInputError, match="empty training set"):
        train([], tgt, small_config(), output_path=tmp_path / "m.safetensors")


def test_incompatible_grids_are_refused(tmp_path):
    src, tgt = toy_pairs(2)
    other = MapStack(tgt.signal[:, :-1], None, Axis(tgt.x_axis.edges[:-1], "MomentumTransfer"), tgt.e_axis)
    with pytest.raises(InsganInputError, match="incompatible grids"):
        train(src, other, small_config(), output_path=tmp_path / "m.safetensors")


def test_all_nan_map_is_refused(tmp_path):
    src, tgt = toy_pairs(3)
    tgt.signal[1] = np.nan
    with pytest.raises(InsganInputError, match=r"map\(s\) \[1\] are entirely NaN"):
        train(src, tgt, small_config(), output_path=tmp_path / "m.safetensors")


def test_inf_is_refused(tmp_path):
    src, tgt = toy_pairs(3)
    src.signal[2, 3, 4] = np.inf
    with pytest.raises(InsganInputError, match="sources: map 2 contains inf"):
        train(src, tgt, small_config(), output_path=tmp_path / "m.safetensors")


def test_batch_larger_than_set_is_refused(tmp_path):
    src, tgt = toy_pairs(2)
    with pytest.raises(InsganInputError, match="batch_size' 4 is larger than the training set"):
        train(src, tgt, small_config(batch_size=4), output_path=tmp_path / "m.safetensors")


def test_unpaired_whole_maps_need_enough_targets(tmp_path):
    src, tgt = toy_pairs(3)
    one = MapStack(tgt.signal[:1], None, tgt.x_axis, tgt.e_axis)
    with pytest.raises(InsganInputError, match="larger than the training set.*set patch_size"):
        train(src, one, small_config(mode="unpaired"), output_path=tmp_path / "m.safetensors")
    res = train(src, one, small_config(mode="unpaired", batch_size=1, steps=1), output_path=tmp_path / "m.safetensors")
    assert res.history[-1]["step"] == 1


def test_paired_lengths_must_match_and_patch_must_fit(tmp_path):
    src, tgt = toy_pairs(3)
    with pytest.raises(InsganInputError, match="3 sources but 2 targets"):
        train(src, MapStack(tgt.signal[:2], None, tgt.x_axis, tgt.e_axis), small_config(), output_path=tmp_path / "m.safetensors")
    with pytest.raises(InsganInputError, match="patch_size.*larger"):
        train(src, tgt, small_config(patch_size=40), output_path=tmp_path / "m.safetensors")


def test_config_errors_are_clear():
    with pytest.raises(InsganInputError, match="mode"):
        TrainConfig(mode="cycle")
    with pytest.raises(InsganInputError, match="generator"):
        TrainConfig(generator={"name": "patchgan"})
    with pytest.raises(InsganInputError, match="unknown field"):
        TrainConfig.from_dict({"stepz": 3})
    cfg = small_config(patch_size=[16, 24], augment=AugmentConfig(intensity_jitter=0.1))
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_coverage_rules():
    _, tgt = toy_pairs(3, gap=False)
    tgt.signal[0, :5] = np.nan  # one target misses the low-|Q| rows
    union = learn_coverage_mask(tgt, rule="union")
    majority = learn_coverage_mask(tgt, rule="majority")
    np.testing.assert_array_equal(union, ~np.isnan(tgt.signal[1]))
    assert union[:5].sum() > 0 and majority[:5].sum() == union[:5].sum()  # 2 of 3 still cover them
    tgt.signal[1, :5] = np.nan
    assert learn_coverage_mask(tgt, rule="majority")[:5].sum() == 0
    assert learn_coverage_mask(tgt, rule="union")[:5].sum() > 0


# --- reproducibility, checkpoints, resume -------------------------------------------------------------


@pytest.mark.parametrize("mode_kw", [{}, {"mode": "unpaired", "patch_size": 16, "batch_size": 3}], ids=["paired", "unpaired"])
def test_same_seed_same_weights(tmp_path, mode_kw):
    src, tgt = toy_pairs(4)
    a = train(src, tgt, small_config(**mode_kw), output_path=tmp_path / "a.safetensors").model_path
    b = train(src, tgt, small_config(**mode_kw), output_path=tmp_path / "b.safetensors").model_path
    c = train(src, tgt, small_config(seed=4, **mode_kw), output_path=tmp_path / "c.safetensors").model_path
    assert_same_weights(weights(a), weights(b))
    wa, wc = weights(a), weights(c)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)


@pytest.mark.parametrize("mode_kw", [{}, {"mode": "unpaired", "patch_size": 16, "batch_size": 3}], ids=["paired", "unpaired"])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, mode_kw):
    src, tgt = toy_pairs(4)
    cfg = small_config(steps=6, checkpoint_every=2, **mode_kw)
    full = train(src, tgt, cfg, output_path=tmp_path / "full.safetensors", checkpoint_dir=tmp_path / "ck_full")

    def crash(rec):
        if rec["step"] == 5:  # dies after step 5: the checkpoint of step 4 is the last one
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(src, tgt, cfg, output_path=tmp_path / "r.safetensors", checkpoint_dir=tmp_path / "ck", callback=crash)
    assert not (tmp_path / "r.safetensors").exists()
    assert latest_checkpoint(tmp_path / "ck").name == "checkpoint_step00000004.safetensors"
    resumed = train(src, tgt, cfg, output_path=tmp_path / "r.safetensors", checkpoint_dir=tmp_path / "ck", resume=True)
    assert_same_weights(weights(full.model_path), weights(resumed.model_path), atol=1e-6)
    assert [r["step"] for r in resumed.history] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(full.history, resumed.history):
        assert a["loss_G"] == pytest.approx(b["loss_G"], rel=1e-5)
    with open(tmp_path / "ck" / "train_log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    # only the newest checkpoints are kept
    assert sorted(p.name for p in (tmp_path / "ck").glob("checkpoint_*")) == [
        "checkpoint_step00000004.safetensors", "checkpoint_step00000006.safetensors"]


def test_checkpoint_is_safetensors_with_optimizer_state(tmp_path):
    from safetensors import safe_open

    src, tgt = toy_pairs(2)
    train(src, tgt, small_config(steps=2, checkpoint_every=2), output_path=tmp_path / "m.safetensors", checkpoint_dir=tmp_path)
    ck = latest_checkpoint(tmp_path)
    with safe_open(str(ck), framework="pt") as fh:
        keys = list(fh.keys())
        meta = json.loads(fh.metadata()["insgan_checkpoint"])
    assert any(k.startswith("optG.state.") and k.endswith("exp_avg_sq") for k in keys)
    assert any(k.startswith("optD.state.") for k in keys) and any(k.startswith("D.") for k in keys)
    assert meta["step"] == 2 and meta["config"]["seed"] == 3
    assert ck.read_bytes()[:1] != b"\x80"  # not a pickle


def test_resume_refuses_other_config_or_data(tmp_path):
    src, tgt = toy_pairs(2)
    train(src, tgt, small_config(steps=2, checkpoint_every=2), output_path=tmp_path / "m.safetensors", checkpoint_dir=tmp_path)
    with pytest.raises(InsganInputError, match=r"different configuration.*lr"):
        train(src, tgt, small_config(steps=4, lr=1e-3), output_path=tmp_path / "m.safetensors", checkpoint_dir=tmp_path, resume=True)
    src.signal[0, 0, 0] += 1.0
    with pytest.raises(InsganInputError, match="different data"):
        train(src, tgt, small_config(steps=4), output_path=tmp_path / "m.safetensors", checkpoint_dir=tmp_path, resume=True)


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    src, tgt = toy_pairs(2)
    (tmp_path / "checkpoint_step00000002.safetensors").write_bytes(b"\x80\x04garbage")
    with pytest.raises(InsganFileError, match="cannot be read as an insgan checkpoint"):
        train(src, tgt, small_config(steps=3), output_path=tmp_path / "m.safetensors", checkpoint_dir=tmp_path, resume=True)


def test_callback_can_stop_early(tmp_path):
    src, tgt = toy_pairs(2)
    res = train(src, tgt, small_config(steps=50), output_path=tmp_path / "m.safetensors", callback=lambda r: r["step"] >= 3)
    assert res.history[-1]["step"] == 3 and read_metadata(res.model_path)["training"]["steps"] == 3


# --- learning and output coverage ------------------------------------------------------------------


def test_paired_training_learns_the_mapping_and_masks_output(tmp_path):
    src, tgt = toy_pairs(6)
    cfg = small_config(steps=150, batch_size=3, lr=1e-3, lambda_spectral=1.0,
                       generator={"name": "unet", "width": 8, "depth": 2})
    res = train(src, tgt, cfg, output_path=tmp_path / "m.safetensors")
    md = read_metadata(res.model_path)
    m = md["metrics"]
    # the generator closes most of the gap between clean and artefact maps (training pairs)
    assert m["train_relative_l1"] < 0.4 * m["train_relative_l1_identity"]
    assert res.history[-1]["lr"] < res.history[0]["lr"] == 1e-3  # linear decay in the second half
    # the output carries the target domain's coverage: NaN in the gap and above the limit, never invented
    cov = np.array(md["coverage_mask"])
    np.testing.assert_array_equal(cov, ~np.isnan(tgt.signal[0]))
    out = load_model(res.model_path).apply(src)
    np.testing.assert_array_equal(np.isnan(out.signal[0]), np.isnan(tgt.signal[0]))
    assert md["count_scale"] == pytest.approx(np.nanmedian(tgt.signal / tgt.error**2), rel=1e-9)
    assert md["mode"] == "paired" and md["training"]["steps"] == 150 and len(md["training"]["data_hash"]) == 64
    assert md["grid"]["x_unit"] == "MomentumTransfer" and md["grid"]["e_edges"] == tgt.e_axis.edges.tolist()


def test_unpaired_single_target_map(tmp_path):
    src, tgt = toy_pairs(4)
    one = MapStack(tgt.signal[:1], tgt.error[:1], tgt.x_axis, tgt.e_axis)
    cfg = small_config(mode="unpaired", steps=30, batch_size=4, patch_size=[16, 16], lr=1e-3,
                       augment=AugmentConfig(intensity_jitter=0.05, min_coverage=0.5))
    res = train(src, one, cfg, output_path=tmp_path / "cut.safetensors")
    assert {"loss_nce", "loss_nce_identity", "loss_D"} <= res.history[-1].keys()
    first, last = res.history[0], res.history[-1]
    assert last["loss_nce"] < first["loss_nce"]  # content preservation is learned
    model = load_model(res.model_path)
    out = model.apply(src)
    cov = np.array(read_metadata(res.model_path)["coverage_mask"])
    assert np.isfinite(out.signal[:, cov]).all() and np.isnan(out.signal[:, ~cov]).all()


def test_unpaired_on_another_grid_uses_the_input_mask(tmp_path):
    src, tgt = toy_pairs(3)
    q2 = Axis(np.linspace(0, 2.5, NQ + 1), "MomentumTransfer")
    tgt2 = MapStack(tgt.signal, None, q2, tgt.e_axis)
    cfg = small_config(mode="unpaired", steps=2, batch_size=2, patch_size=16)
    res = train(src, tgt2, cfg, output_path=tmp_path / "cut.safetensors")
    assert "coverage_mask" not in read_metadata(res.model_path)
    src.signal[0, 4, 4] = np.nan
    out = load_model(res.model_path).apply(src)
    assert np.isnan(out.signal[0, 4, 4]) and np.isfinite(out.signal[0, 5, 5])


def test_resnet_generator_and_vanilla_loss_train(tmp_path):
    src, tgt = toy_pairs(2)
    cfg = small_config(steps=2, generator={"name": "resnet", "width": 4, "n_blocks": 1}, gan_loss="vanilla",
                       normalisation={"transform": "log1p", "per_map": True})
    res = train(src, tgt, cfg, output_path=tmp_path / "m.safetensors")
    assert np.isfinite([res.history[-1]["loss_G"], res.history[-1]["loss_D"]]).all()
    assert read_metadata(res.model_path)["normaliser"]["per_map"] is True


def test_mode_dependent_defaults():
    paired, unpaired = TrainConfig(mode="paired"), TrainConfig(mode="unpaired")
    assert paired.generator["residual"] is False and unpaired.generator["residual"] is False
    assert paired.discriminator["norm"] == "instance" and unpaired.discriminator["norm"] == "none"
    assert paired.augment.intensity_jitter == 0.0 and unpaired.augment.intensity_jitter == 0.3
    shared = AugmentConfig(min_coverage=0.5)
    cfg = TrainConfig(mode="unpaired", augment=shared, discriminator={"name": "patchgan", "norm": "instance"})
    assert shared.intensity_jitter is None and cfg.augment.min_coverage == 0.5  # caller's object untouched
    assert cfg.discriminator["norm"] == "instance"  # explicit choices are kept
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_unpaired_discriminator_sees_fakes_through_the_real_coverage(tmp_path):
    # real patches carry NaN (zero) regions that the clean sources lack; the discriminator must see the
    # fakes through the same coverage, or the mask pattern alone tells them apart
    src, tgt = toy_pairs(3)
    src = MapStack(src.signal, None, src.x_axis, src.e_axis)
    q2 = Axis(np.linspace(0, 2.5, NQ + 1), "MomentumTransfer")  # other grid: output mask = input mask
    tgt2 = MapStack(tgt.signal, None, q2, tgt.e_axis)
    seen = []
    import insgan_core.gan.training as training_module

    orig_init = training_module._Trainer.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        self.D.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].detach().clone()))

    training_module._Trainer.__init__ = init
    try:
        cfg = small_config(mode="unpaired", steps=2, batch_size=4, patch_size=16, augment=AugmentConfig(min_coverage=0.3))
        train(src, tgt2, cfg, output_path=tmp_path / "cut.safetensors")
    finally:
        training_module._Trainer.__init__ = orig_init
    real, fake = seen[0], seen[1]  # first step: D(real), D(fake)
    assert (real == 0).any()  # the sampled real patches do contain uncovered bins
    assert torch.all(fake[real == 0] == 0)
