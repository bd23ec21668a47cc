"""fastnn.utils.data additions against torch.utils.data: ChainDataset, StackDataset,
DistributedSampler (unshuffled indices equal torch's; shuffled ones a partition per epoch)."""

import numpy as np
import pytest
import torch.utils.data as tdata

import fastnn
import fastnn.utils.data as fdata


class _Range:
    def __init__(self, lib, lo, hi):
        class It(lib.IterableDataset):
            def __iter__(self):
                return iter(range(lo, hi))

            def __len__(self):
                return hi - lo

        self.ds = It()


def test_chain_dataset_matches_torch():
    for lib in (fdata, tdata):
        chained = lib.ChainDataset([_Range(lib, 0, 3).ds, _Range(lib, 10, 12).ds])
        assert list(chained) == [0, 1, 2, 10, 11] and len(chained) == 5
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(fdata.ChainDataset([fdata.TensorDataset(fastnn.ones(2))]))


def test_stack_dataset_matches_torch():
    a, b = np.arange(6.0), np.arange(6.0) * 10
    for kw in (False, True):
        f = (fdata.StackDataset(x=a, y=b) if kw else fdata.StackDataset(a, b))
        t = (tdata.StackDataset(x=a, y=b) if kw else tdata.StackDataset(a, b))
        assert len(f) == len(t) == 6
        assert f[4] == t[4]
        assert f.__getitems__([1, 3]) == t.__getitems__([1, 3])
    for bad in (lambda lib: lib.StackDataset(a, b[:3]), lambda lib: lib.StackDataset(),
                lambda lib: lib.StackDataset(a, y=b)):
        with pytest.raises(ValueError) as theirs:
            bad(tdata)
        with pytest.raises(ValueError) as ours:
            bad(fdata)
        assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                                  (12, 4, False), (7, 2, True)])
def test_distributed_sampler_matches_torch(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        f = fdata.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        t = tdata.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(f) == list(t) and len(f) == len(t)
    # shuffled: the ranks together cover every index (padded like torch), reshuffled per epoch
    shards = []
    for epoch in (0, 1):
        samplers = [fdata.DistributedSampler(data, replicas, r, seed=3, drop_last=drop_last)
                    for r in range(replicas)]
        for s in samplers:
            s.set_epoch(epoch)
        shards.append([list(s) for s in samplers])
        flat = sorted(i for shard in shards[-1] for i in shard)
        t_flat = sorted(i for r in range(replicas) for i in tdata.DistributedSampler(
            data, replicas, r, shuffle=False, drop_last=drop_last))
        assert len(flat) == len(t_flat)
        if not drop_last:
            assert set(flat) == set(range(n))
    if n > 3:
        assert shards[0] != shards[1]
    with pytest.raises(ValueError, match="Invalid rank"):
        fdata.DistributedSampler(data, 2, 2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        fdata.DistributedSampler(data)
