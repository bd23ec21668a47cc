"""nn.MultiheadAttention, nn.TransformerEncoderLayer and nn.TransformerEncoder against PyTorch
with copied weights (outputs, input and parameter gradients, eval mode), identical state_dict
keys both ways (examples/transformer.py trains in tests/test_examples.py)."""

import numpy as np
import pytest

import fastnn
import fastnn.nn as fnn

torch = pytest.importorskip("torch")


def _copy(src, dst):
    """torch -> fastnn weights through state_dict (keys must be identical)."""
    assert list(src.state_dict()) == list(dst.state_dict())
    dst.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in src.state_dict().items()})


def _grads_match(fmod, tmod, atol):
    tp = dict(tmod.named_parameters())
    for name, p in fmod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), atol=atol, err_msg=name)


MHA_CASES = [dict(), dict(kdim=6, vdim=5), dict(batch_first=True), dict(bias=False)]


@pytest.mark.parametrize("kw", MHA_CASES, ids=[str(k) for k in MHA_CASES])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("masks", [False, True])
def test_multihead_attention_matches_torch(kw, need_weights, masks):
    rng = np.random.default_rng(0)
    E, H, L, S, N = 16, 4, 7, 5, 3
    tm, fm = (
        torch.nn.MultiheadAttention(E, H, **kw).eval(),
        fnn.MultiheadAttention(E, H, **kw).eval(),
    )
    _copy(tm, fm)
    bf = kw.get("batch_first", False)

    def shape(a, b, c):
        return (b, a, c) if bf else (a, b, c)

    q = rng.standard_normal(shape(L, N, E)).astype(np.float32)
    k = rng.standard_normal(shape(S, N, kw.get("kdim", E))).astype(np.float32)
    v = rng.standard_normal(shape(S, N, kw.get("vdim", E))).astype(np.float32)
    extra = {}
    if masks:
        kpm = rng.random((N, S)) < 0.3
        kpm[:, 0] = False
        am = rng.standard_normal((N * H, L, S)).astype(np.float32)
        extra = dict(key_padding_mask=kpm, attn_mask=am)
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    fq, fk, fv = (fastnn.tensor(x, requires_grad=True) for x in (q, k, v))
    to, tw = tm(
        tq, tk, tv, need_weights=need_weights, **{a: torch.tensor(b) for a, b in extra.items()}
    )
    fo, fw = fm(
        fq, fk, fv, need_weights=need_weights, **{a: fastnn.tensor(b) for a, b in extra.items()}
    )
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), atol=1e-5)
    if need_weights:
        np.testing.assert_allclose(fw.detach().numpy(), tw.detach().numpy(), atol=1e-6)
    else:
        assert fw is None
    g = rng.standard_normal(to.shape).astype(np.float32)
    to.backward(torch.tensor(g))
    fo.backward(fastnn.tensor(g))
    for a, b in zip((fq, fk, fv), (tq, tk, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=2e-5)
    _grads_match(fm, tm, 5e-5)


def test_multihead_attention_self_unbatched_and_causal():
    rng = np.random.default_rng(1)
    E, H, L = 12, 3, 6
    tm, fm = torch.nn.MultiheadAttention(E, H).eval(), fnn.MultiheadAttention(E, H).eval()
    _copy(tm, fm)
    x = rng.standard_normal((L, E)).astype(np.float32)  # unbatched
    causal = np.triu(np.ones((L, L), bool), 1)
    for need in (True, False):
        tx, fx = torch.tensor(x), fastnn.tensor(x)
        to, tw = tm(
            tx,
            tx,
            tx,
            attn_mask=torch.tensor(causal),
            need_weights=need,
            average_attn_weights=False,
            is_causal=True,
        )
        fo, fw = fm(
            fx,
            fx,
            fx,
            attn_mask=fastnn.tensor(causal),
            need_weights=need,
            average_attn_weights=False,
            is_causal=True,
        )
        np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), atol=1e-5)
        if need:
            assert tuple(fw.shape) == tuple(tw.shape) == (H, L, L)
            np.testing.assert_allclose(fw.detach().numpy(), tw.detach().numpy(), atol=1e-6)


def test_multihead_attention_init_and_keys():
    fastnn.manual_seed(0)
    m = fnn.MultiheadAttention(32, 4)
    assert list(m.state_dict()) == [
        "in_proj_weight",
        "in_proj_bias",
        "out_proj.weight",
        "out_proj.bias",
    ]
    w = m.in_proj_weight.detach().numpy()
    bound = np.sqrt(6.0 / (32 + 96))  # xavier_uniform_ on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not m.in_proj_bias.detach().numpy().any() and not m.out_proj.bias.detach().numpy().any()
    sep = fnn.MultiheadAttention(8, 2, kdim=3, vdim=5)
    assert list(sep.state_dict()) == list(
        torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5).state_dict()
    )
    with pytest.raises(ValueError):
        fnn.MultiheadAttention(10, 3)


ENC_CASES = [dict(), dict(norm_first=True, activation="gelu"), dict(batch_first=True)]


@pytest.mark.parametrize("kw", ENC_CASES, ids=[str(k) for k in ENC_CASES])
@pytest.mark.parametrize("mask", [None, "causal", "padding"])
def test_transformer_encoder_matches_torch(kw, mask):
    rng = np.random.default_rng(2)
    E, H, S, N = 16, 4, 9, 3
    tl = torch.nn.TransformerEncoderLayer(E, H, dim_feedforward=32, **kw)
    fl = fnn.TransformerEncoderLayer(E, H, dim_feedforward=32, **kw)
    te = torch.nn.TransformerEncoder(
        tl, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False
    ).eval()
    fe = fnn.TransformerEncoder(fl, 2, norm=fnn.LayerNorm(E)).eval()
    _copy(te, fe)
    bf = kw.get("batch_first", False)
    x = rng.standard_normal((N, S, E) if bf else (S, N, E)).astype(np.float32)
    extra_t, extra_f = {}, {}
    if mask == "causal":
        m = np.triu(np.ones((S, S), bool), 1)
        extra_t, extra_f = dict(mask=torch.tensor(m)), dict(mask=fastnn.tensor(m))
    elif mask == "padding":
        m = rng.random((N, S)) < 0.3
        m[:, 0] = False
        extra_t = dict(src_key_padding_mask=torch.tensor(m))
        extra_f = dict(src_key_padding_mask=fastnn.tensor(m))
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    to, fo = te(tx, **extra_t), fe(fx, **extra_f)
    g = rng.standard_normal(to.shape).astype(np.float32)
    to.backward(torch.tensor(g))
    fo.backward(fastnn.tensor(g))
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), atol=2e-5)
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=5e-5)
    _grads_match(fe, te, 1e-4)


def test_transformer_state_dict_both_ways():
    tl = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    te = torch.nn.TransformerEncoder(tl, 3, enable_nested_tensor=False)
    fe = fnn.TransformerEncoder(fnn.TransformerEncoderLayer(8, 2, dim_feedforward=16), 3)
    assert list(fe.state_dict()) == list(te.state_dict())
    assert "layers.2.self_attn.in_proj_weight" in fe.state_dict()
    # fastnn -> torch
    te.load_state_dict({k: torch.tensor(v.numpy()) for k, v in fe.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((5, 2, 8)).astype(np.float32)
    te.eval()
    fe.eval()
    np.testing.assert_allclose(
        fe(fastnn.tensor(x)).detach().numpy(), te(torch.tensor(x)).detach().numpy(), atol=2e-5
    )
    # the layers are independent deep copies
    p0 = fe.layers[0].linear1.weight
    assert p0 is not fe.layers[1].linear1.weight
    with pytest.raises(RuntimeError, match="relu/gelu"):
        fnn.TransformerEncoderLayer(8, 2, activation="swish")
