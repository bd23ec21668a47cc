"""fastnn.utils.data against PyTorch's behaviour: batching, shuffling with fastnn's generator,
drop_last, collation of tuples/dicts/lists/numbers/arrays, samplers, random_split, Subset."""

from collections import namedtuple

import numpy as np
import pytest
import torch.utils.data as tud

import fastnn
from fastnn.utils import data
from fastnn.utils.data import DataLoader, Dataset, TensorDataset, random_split


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(3, i, np.float32), "i": i, "f": i / 2, "name": f"s{i}",
                "pair": (i, [i * 10, i * 20])}


def _np(x):
    return x.numpy() if hasattr(x, "numpy") else x


def test_tensor_dataset_and_loader_order():
    X = fastnn.arange(10).reshape(5, 2).float()
    y = fastnn.arange(5)
    ds = TensorDataset(X, y)
    assert len(ds) == 5
    xi, yi = ds[3]
    assert xi.tolist() == [6.0, 7.0] and yi.item() == 3
    batches = list(DataLoader(ds, batch_size=2))
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert isinstance(batches[0], list) and batches[0][0].shape == (2, 2)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=2, drop_last=True)] == [[0, 1], [2, 3]]
    assert len(DataLoader(ds, batch_size=2)) == 3 and len(DataLoader(ds, 2, drop_last=True)) == 2
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(X, fastnn.arange(4))


def test_shuffle_uses_fastnn_generator():
    ds = TensorDataset(fastnn.arange(50))
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    fastnn.manual_seed(1)
    a = [v for (b,) in loader for v in b.tolist()]
    b = [v for (b,) in loader for v in b.tolist()]
    fastnn.manual_seed(1)
    c = [v for (b,) in loader for v in b.tolist()]
    assert sorted(a) == list(range(50)) and a != list(range(50))
    assert a != b and a == c  # reshuffled every epoch, reproducible from the seed
    g = fastnn.Generator().manual_seed(3)
    d1 = next(iter(DataLoader(ds, batch_size=50, shuffle=True, generator=g)))[0].tolist()
    g.manual_seed(3)
    d2 = next(iter(DataLoader(ds, batch_size=50, shuffle=True, generator=g)))[0].tolist()
    assert d1 == d2


def test_default_collate_matches_pytorch():
    fb = next(iter(DataLoader(Squares(4), batch_size=3)))
    tb = next(iter(tud.DataLoader(Squares(4), batch_size=3)))
    assert fb.keys() == tb.keys()
    for k in ["x", "i", "f"]:
        np.testing.assert_array_equal(_np(fb[k]), tb[k].numpy())
        assert np.dtype(fb[k].dtype) == np.dtype(str(tb[k].dtype).replace("torch.", ""))
    assert fb["name"] == tb["name"]
    assert type(fb["pair"]) is type(tb["pair"])  # tuples collate to lists, like PyTorch
    np.testing.assert_array_equal(_np(fb["pair"][0]), tb["pair"][0].numpy())
    assert [_np(v).tolist() for v in fb["pair"][1]] == [v.tolist() for v in tb["pair"][1]]
    P = namedtuple("P", "a b")
    batch = [P(np.float32(1.5), True), P(np.float32(2.5), False)]
    fc, tc = data.default_collate(batch), tud.default_collate(batch)
    assert type(fc).__name__ == "P" and fc.b.tolist() == tc.b.tolist() == [True, False]
    assert fc.a.tolist() == tc.a.tolist()
    with pytest.raises(RuntimeError, match="equal size"):
        data.default_collate([[1, 2], [1]])


def test_batch_size_none_collate_fn_and_samplers():
    ds = TensorDataset(fastnn.arange(6))
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 6 and items[2][0].item() == 2
    out = list(DataLoader(Squares(5), batch_size=2, collate_fn=lambda b: [s["i"] for s in b]))
    assert out == [[0, 1], [2, 3], [4]]
    bs = data.BatchSampler(data.SequentialSampler(range(7)), 3, drop_last=False)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6]] and len(bs) == 3
    loader = DataLoader(ds, batch_sampler=[[5, 0], [1]])
    assert [b[0].tolist() for b in loader] == [[5, 0], [1]]
    rs = data.RandomSampler(range(4), replacement=True, num_samples=9)
    assert len(list(rs)) == 9 and all(0 <= i < 4 for i in rs)
    srs = data.SubsetRandomSampler([7, 8, 9])
    assert sorted(srs) == [7, 8, 9]
    w = data.WeightedRandomSampler([0.0, 1.0, 0.0], 5)
    assert list(w) == [1] * 5
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, shuffle=True, sampler=data.SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        data.BatchSampler(range(3), 0, False)


def test_iterable_dataset():
    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [
        [0, 1, 2], [3, 4, 5]]


def test_random_split_and_subset():
    ds = TensorDataset(fastnn.arange(10))
    a, b = random_split(ds, [7, 3])
    assert len(a) == 7 and len(b) == 3
    got = sorted([a[i][0].item() for i in range(7)] + [b[i][0].item() for i in range(3)])
    assert got == list(range(10))
    parts = random_split(range(10), [0.5, 0.3, 0.2], generator=fastnn.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in tud.random_split(range(10), [0.5, 0.3, 0.2])]
    parts = random_split(range(11), [0.34, 0.33, 0.33])
    assert [len(p) for p in parts] == [len(p) for p in tud.random_split(range(11),
                                                                         [0.34, 0.33, 0.33])]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [4, 4])
    sub = data.Subset(ds, [9, 1])
    assert len(sub) == 2 and sub[0][0].item() == 9
    assert [b[0].tolist() for b in DataLoader(sub, batch_size=2)] == [[9, 1]]
    nested = data.Subset(data.Subset(TensorDataset(fastnn.arange(20).reshape(10, 2),
                                                   fastnn.arange(10)), [9, 7, 5, 3, 1]), [4, 0, 2])
    fast = list(DataLoader(nested, batch_size=2))  # one gather through both Subsets
    slow = list(DataLoader(nested, batch_size=2, collate_fn=data.default_collate))
    assert [[t.tolist() for t in b] for b in fast] == [[t.tolist() for t in b] for b in slow]
    assert fast[0][1].tolist() == [1, 9]
    cat = ds + data.Subset(ds, [0])
    assert len(cat) == 11 and cat[10][0].item() == 0 and cat[-1][0].item() == 0


def test_numpy_samples_become_tensors():
    class Arr(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.arange(3, dtype=np.float64) + i, np.int64(i)

    x, y = next(iter(DataLoader(Arr(), batch_size=4)))
    assert isinstance(x, fastnn.Tensor) and x.dtype == np.float64 and x.shape == (4, 3)
    assert y.tolist() == [0, 1, 2, 3]
