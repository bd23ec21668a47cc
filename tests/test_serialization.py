"""fastnn.save / fastnn.load: safetensors round trips of model and optimizer state dicts and
checkpoints; interop with safetensors' own readers; corrupt, truncated and foreign files."""

import io
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as st_load_file
from safetensors.numpy import save_file as st_save_file

import fastnn
import fastnn.nn as nn
import fastnn.optim as optim
from fastnn.serialization import load, save


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 2))


def _trained():
    fastnn.manual_seed(0)
    m = _model()
    o = optim.Adam(m.parameters(), lr=0.01, amsgrad=True)
    for _ in range(3):
        o.zero_grad()
        m(fastnn.randn(5, 4)).pow(2).mean().backward()
        o.step()
    return m, o


def test_model_state_dict_round_trip(tmp_path):
    m, _ = _trained()
    path = tmp_path / "model.safetensors"
    assert fastnn.save is save and fastnn.load is load
    fastnn.save(m.state_dict(), path)  # the torch.save / torch.load spelling
    sd = fastnn.load(path)
    assert list(sd) == list(m.state_dict())
    m2 = _model()
    m2.load_state_dict(sd)
    for (k, a), b in zip(m.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
        assert a.dtype == b.dtype
    # a plain safetensors file with the model's own key names: readable by other tools
    flat = st_load_file(str(path))
    assert sorted(flat) == sorted(m.state_dict())
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.LayerNorm(8), torch.nn.ReLU(),
                             torch.nn.Linear(8, 2))
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in flat.items()})


def test_optimizer_and_checkpoint_round_trip(tmp_path):
    m, o = _trained()
    ckpt = {"epoch": 3, "loss": 0.25, "model": m.state_dict(), "optimizer": o.state_dict(),
            "note": "adam", "best": None, "flags": (True, 2.5), "history": [1.0, float("inf")]}
    buf = io.BytesIO()
    save(ckpt, buf)
    buf.seek(0)
    back = load(buf)
    assert back["epoch"] == 3 and back["loss"] == 0.25 and back["note"] == "adam"
    assert back["best"] is None and back["flags"] == (True, 2.5)
    assert back["history"] == [1.0, float("inf")]
    osd = back["optimizer"]
    assert set(osd["state"]) == {0, 1, 2, 3, 4, 5}  # integer parameter ids survive
    assert osd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert osd["param_groups"][0]["params"] == [0, 1, 2, 3, 4, 5]
    assert osd["state"][0]["step"].dtype == np.float32 and osd["state"][0]["step"].item() == 3
    m2 = _model()
    m2.load_state_dict(back["model"])
    o2 = optim.Adam(m2.parameters(), lr=0.5)
    o2.load_state_dict(osd)
    x = fastnn.randn(5, 4)
    for model, opt in ((m, o), (m2, o2)):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    for a, b in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # file on disk, map_location accepted
    path = tmp_path / "ckpt.pt"
    save(ckpt, str(path))
    assert load(path, map_location="cpu")["model"].keys() == m.state_dict().keys()
    assert load(path, map_location=fastnn.device("cpu"))["epoch"] == 3
    assert load(path, map_location={"cuda:0": "cpu"})["epoch"] == 3


def test_dtypes_scalars_and_numpy(tmp_path):
    obj = {"i": fastnn.arange(5), "b": fastnn.tensor([True, False]),
           "d": fastnn.randn(2, 3).double(),
           "s": fastnn.tensor(3.5), "nc": fastnn.randn(4, 3).t(), "np": np.arange(3.0),
           "empty": fastnn.zeros(0, 4)}
    path = tmp_path / "t.safetensors"
    save(obj, path)
    back = load(path)
    for k, v in obj.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(back[k], v)
            continue
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_foreign_safetensors_file_loads_flat(tmp_path):
    path = tmp_path / "foreign.safetensors"
    st_save_file({"w": np.ones((2, 2), np.float32), "b": np.zeros(2, np.float32)}, str(path))
    sd = load(path)
    assert sorted(sd) == ["b", "w"] and isinstance(sd["w"], fastnn.Tensor)


def test_refuses_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="cannot store a function"):
        save({"f": lambda: 0}, tmp_path / "f.pt")


def test_whole_module_is_pickled_and_loads_only_with_explicit_opt_in(tmp_path):
    """torch.save(model) pickles; the default (weights-only) load refuses it, as torch does."""
    model = _model()
    save(model, tmp_path / "m.pt")
    with pytest.raises(ValueError, match="weights_only=False"):
        load(tmp_path / "m.pt")
    back = load(tmp_path / "m.pt", weights_only=False)
    assert type(back) is type(model)
    for (k, v), (k2, v2) in zip(model.state_dict().items(), back.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(v.numpy(), v2.numpy())


@pytest.mark.parametrize("kind", ["truncated", "garbage", "empty", "pickle", "bad_json",
                                  "bad_meta", "short_body"])
def test_corrupt_files_raise_clear_errors(tmp_path, kind):
    good = tmp_path / "good.safetensors"
    save(_model().state_dict(), good)
    raw = good.read_bytes()
    bad = tmp_path / f"{kind}.pt"
    if kind == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif kind == "garbage":
        bad.write_bytes(b"\x00\x01garbage" * 20)
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "pickle":
        bad.write_bytes(pickle.dumps({"a": 1}))
    elif kind == "bad_json":
        bad.write_bytes(len(b"{not json").to_bytes(8, "little") + b"{not json")
    elif kind == "bad_meta":
        header = {"__metadata__": {"fastnn": "{broken"}}
        h = json.dumps(header).encode()
        bad.write_bytes(len(h).to_bytes(8, "little") + h)
    else:  # header fine, tensor bytes missing
        n = int.from_bytes(raw[:8], "little")
        bad.write_bytes(raw[: 8 + n + 4])
    with pytest.raises(ValueError, match=str(bad.name)):
        load(bad)
