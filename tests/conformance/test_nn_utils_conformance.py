"""fastnn.nn.utils additions against torch.nn.utils: packed sequences (values, batch_sizes,
indices and gradients), parameters_to_vector / vector_to_parameters, get_total_norm /
clip_grads_with_norm_."""

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn.utils as fu
from fastnn.tensor import wrap


def _pair(a, grad=True):
    return (fastnn.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def _np(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [5, 3, 3, 1]),
                                                    (False, [2, 5, 1, 4])])
def test_pack_pad_round_trip_matches_torch(batch_first, enforce_sorted, lengths):
    rng = np.random.default_rng(0)
    shape = (4, 5, 3) if batch_first else (5, 4, 3)
    a = rng.standard_normal(shape)
    fx, tx = _pair(a)
    fp = fu.rnn.pack_padded_sequence(fx, lengths, batch_first=batch_first,
                                     enforce_sorted=enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first,
                                                 enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(_np(fp.data), _np(tp.data))
    np.testing.assert_array_equal(_np(fp.batch_sizes), _np(tp.batch_sizes))
    for f, t in ((fp.sorted_indices, tp.sorted_indices),
                 (fp.unsorted_indices, tp.unsorted_indices)):
        assert (f is None) == (t is None)
        if t is not None:
            np.testing.assert_array_equal(_np(f), _np(t))
    fpad, flen = fu.rnn.pad_packed_sequence(fp, batch_first=batch_first, padding_value=-1.0,
                                            total_length=7)
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first=batch_first,
                                                        padding_value=-1.0, total_length=7)
    np.testing.assert_array_equal(_np(fpad), _np(tpad))
    np.testing.assert_array_equal(_np(flen), _np(tlen))
    g = rng.standard_normal(tuple(tpad.shape))
    (fpad * wrap(g)).sum().backward()
    (tpad * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(_np(fx.grad), _np(tx.grad), rtol=1e-12)
    # unpack/unpad give the original sequences back, in the caller's order
    for f, t in zip(fu.rnn.unpack_sequence(fp), torch.nn.utils.rnn.unpack_sequence(tp)):
        np.testing.assert_array_equal(_np(f), _np(t))


def test_pack_sequence_and_errors_match_torch():
    seqs = [np.arange(n * 2, dtype=np.float64).reshape(n, 2) for n in (2, 4, 1)]
    fp = fu.rnn.pack_sequence([wrap(s) for s in seqs], enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_sequence([torch.from_numpy(s) for s in seqs],
                                          enforce_sorted=False)
    np.testing.assert_array_equal(_np(fp.data), _np(tp.data))
    np.testing.assert_array_equal(_np(fu.rnn.invert_permutation(fp.sorted_indices)),
                                  _np(torch.nn.utils.rnn.invert_permutation(tp.sorted_indices)))
    x = np.zeros((3, 2, 1))
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        fu.rnn.pack_padded_sequence(wrap(x), [1, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        fu.rnn.pack_padded_sequence(wrap(x), [3, 0])
    with pytest.raises(ValueError, match="total_length"):
        fu.rnn.pad_packed_sequence(fu.rnn.pack_padded_sequence(wrap(x), [3, 2]), total_length=2)


def test_parameters_to_vector_and_back_match_torch():
    rng = np.random.default_rng(1)
    shapes = [(3, 2), (4,), (1, 2, 2)]
    arrays = [rng.standard_normal(s) for s in shapes]
    fps = [fastnn.nn.Parameter(wrap(a.copy())) for a in arrays]
    tps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in arrays]
    fv, tv = fu.parameters_to_vector(fps), torch.nn.utils.parameters_to_vector(tps)
    np.testing.assert_array_equal(_np(fv), _np(tv))
    g = rng.standard_normal(fv.shape[0])
    (fv * wrap(g)).sum().backward()
    (tv * torch.from_numpy(g)).sum().backward()
    for f, t in zip(fps, tps):
        np.testing.assert_array_equal(_np(f.grad), _np(t.grad))
    new = rng.standard_normal(fv.shape[0])
    fu.vector_to_parameters(wrap(new.copy()), fps)
    torch.nn.utils.vector_to_parameters(torch.from_numpy(new.copy()), tps)
    for f, t in zip(fps, tps):
        np.testing.assert_array_equal(_np(f), _np(t))
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        fu.vector_to_parameters(new, fps)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_get_total_norm_and_clip_grads_with_norm_match_torch(norm_type):
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    fps = [fastnn.nn.Parameter(fastnn.zeros(*g.shape)) for g in grads]
    tps = [torch.nn.Parameter(torch.zeros(*g.shape)) for g in grads]
    for f, t, g in zip(fps, tps, grads):
        f.grad, t.grad = wrap(g.copy()), torch.from_numpy(g.copy())
    fn = fu.get_total_norm([p.grad for p in fps], norm_type)
    tn = torch.nn.utils.get_total_norm([p.grad for p in tps], norm_type)
    assert float(fn) == pytest.approx(float(tn), rel=1e-6)
    fu.clip_grads_with_norm_(fps, 1.5, fn)
    torch.nn.utils.clip_grads_with_norm_(tps, 1.5, tn)
    for f, t in zip(fps, tps):
        np.testing.assert_allclose(_np(f.grad), _np(t.grad), rtol=1e-6, atol=1e-7)
    # clip_grad_norm_ still takes a generator (used twice inside)
    fu.clip_grad_norm_((p for p in fps), 0.5, norm_type)
    torch.nn.utils.clip_grad_norm_((p for p in tps), 0.5, norm_type)
    for f, t in zip(fps, tps):
        np.testing.assert_allclose(_np(f.grad), _np(t.grad), rtol=1e-6, atol=1e-7)


def test_nn_init_has_every_torch_name_and_the_deprecated_aliases_warn():
    import torch.nn.init as tinit

    import fastnn.nn.init as finit

    public = [n for n in dir(tinit) if not n.startswith("_") and callable(getattr(tinit, n))
              and getattr(getattr(tinit, n), "__module__", "") == "torch.nn.init"]
    assert [n for n in public if not hasattr(finit, n)] == []
    w = fastnn.zeros(3, 3)
    with pytest.warns(FutureWarning, match=r"`nn.init.constant` is now deprecated in favor of"):
        finit.constant(w, 2.5)
    np.testing.assert_array_equal(w.numpy(), np.full((3, 3), 2.5, np.float32))
