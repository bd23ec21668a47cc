"""A Transformer-encoder sequence classifier, written as an ordinary PyTorch script.

    python examples/transformer.py                  # fastnn (``import fastnn as torch``)
    python examples/transformer.py --lib torch      # the same script under PyTorch
    python examples/transformer.py --time           # also report the median training-step time

Linear embedding of 16 input features -> sinusoidal positional encoding (built with arange, exp,
sin, cos and slice assignment, kept as a registered buffer) -> nn.TransformerEncoder (seq-first,
2 layers, d_model 128, 4 heads, feed-forward 512) -> mean over the sequence -> Linear to 4 classes,
trained with Adam. Data: synthetic sequences of noise in which a class-specific pattern vector is
planted at a few random positions (fixed NumPy seed, so both frameworks see the same batches).
"""

import argparse
import math
import time

import numpy as np

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--lib", choices=("fastnn", "torch"), default="fastnn")
parser.add_argument("--steps", type=int, default=60)
parser.add_argument("--batch", type=int, default=32)
parser.add_argument("--seq", type=int, default=64)
parser.add_argument("--d-model", type=int, default=128)
parser.add_argument("--heads", type=int, default=4)
parser.add_argument("--ff", type=int, default=512)
parser.add_argument("--layers", type=int, default=2)
parser.add_argument("--dropout", type=float, default=0.1)
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--threads", type=int, default=0, help="0: leave the default")
parser.add_argument("--time", action="store_true", help="report the median step time")
args = parser.parse_args()

if args.lib == "fastnn":
    import fastnn as torch
    import fastnn.nn as nn
    import fastnn.nn.functional as F
    import fastnn.optim as optim
else:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

FEATURES, CLASSES = 16, 4


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, dropout=0.1, max_len=512):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        """x: (seq, batch, d_model)."""
        x = x + self.pe[: x.size(0)]
        return self.dropout(x)


class TransformerClassifier(nn.Module):
    def __init__(self, d_model, nhead, dim_ff, layers, dropout):
        super().__init__()
        self.embed = nn.Linear(FEATURES, d_model)
        self.pos = PositionalEncoding(d_model, dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_ff, dropout)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, CLASSES)
        self.d_model = d_model

    def forward(self, x):
        """x: (seq, batch, FEATURES) -> logits (batch, CLASSES)."""
        h = self.pos(self.embed(x) * math.sqrt(self.d_model))
        h = self.encoder(h)
        return self.head(h.mean(dim=0))


def make_data(n, seq, seed=0):
    patterns = np.random.default_rng(1234).standard_normal((CLASSES, FEATURES)) * 2.0
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    x = rng.standard_normal((seq, n, FEATURES))
    for i in range(n):
        where = rng.choice(seq, size=4, replace=False)
        x[where, i] += patterns[labels[i]]
    return x.astype(np.float32), labels.astype(np.int64)


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = TransformerClassifier(args.d_model, args.heads, args.ff, args.layers, args.dropout)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    xs, ys = make_data(args.steps * args.batch, args.seq, seed=args.seed)
    times = []
    model.train()
    for step in range(args.steps):
        lo = step * args.batch
        x = torch.tensor(xs[:, lo : lo + args.batch])
        y = torch.tensor(ys[lo : lo + args.batch])
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            print(f"step {step:4d} loss {loss.item():.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        xe, ye = make_data(256, args.seq, seed=args.seed + 1)
        acc = (model(torch.tensor(xe)).argmax(dim=1) == torch.tensor(ye)).float().mean().item()
    print(f"eval accuracy {acc:.3f}")
    if args.time:
        steady = sorted(times[min(5, len(times) - 1) :])
        print(
            f"{args.lib}: median step {1e3 * steady[len(steady) // 2]:.2f} ms "
            f"(batch {args.batch}, seq {args.seq}, d_model {args.d_model})"
        )


if __name__ == "__main__":
    main()
