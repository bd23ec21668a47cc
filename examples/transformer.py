"""A Transformer-encoder sequence classifier, written as an ordinary PyTorch script.

    python examples/transformer.py                  # fastnn (``import fastnn as torch``)
    python examples/transformer.py --lib torch      # the same script under PyTorch
    python examples/transformer.py --compare --plot docs/examples/transformer.png
    python examples/transformer.py --epochs 3 --save tf.ckpt && \\
        python examples/transformer.py --resume tf.ckpt
    python examples/transformer.py --time           # also report the median training-step time

Linear embedding of 16 input features -> sinusoidal positional encoding (built with arange, exp,
sin, cos and slice assignment, kept as a registered buffer) -> nn.TransformerEncoder (seq-first,
2 layers, d_model 64, 4 heads, feed-forward 128) -> mean over the sequence -> Linear to 4 classes,
trained with Adam. Data: sequences of noise in which a class-specific pattern vector is planted
at two random positions (fixed NumPy seed, so both libraries see the same sequences).
"""

import math
import time

import common
import numpy as np

p = common.parser(__doc__, epochs=6, batch=32, lr=1e-3, samples=1200)
p.add_argument("--seq", type=int, default=32, help="sequence length")
p.add_argument("--d-model", type=int, default=64)
p.add_argument("--heads", type=int, default=4)
p.add_argument("--ff", type=int, default=128, help="feed-forward width")
p.add_argument("--layers", type=int, default=2)
p.add_argument("--dropout", type=float, default=0.1)
p.add_argument("--time", action="store_true", help="report the median training-step time")
args = common.parse(p)
TITLE = "Transformer encoder, 4 classes"
if args.compare:
    raise SystemExit(common.compare(__file__, args, TITLE))

if args.lib == "fastnn":
    import fastnn as torch
    import fastnn.nn as nn
    import fastnn.nn.functional as F
    import fastnn.optim as optim
    from fastnn.utils.data import DataLoader, TensorDataset
else:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.utils.data import DataLoader, TensorDataset

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
        """x: (batch, seq, FEATURES), as the DataLoader stacks it -> logits (batch, CLASSES)."""
        x = x.transpose(0, 1)  # the encoder is seq-first
        h = self.pos(self.embed(x) * math.sqrt(self.d_model))
        h = self.encoder(h)
        return self.head(h.mean(dim=0))


def make_data(n, seq, seed):
    """Sequences (n, seq, 16) float32 and labels (n,) int64."""
    patterns = np.random.default_rng(1234).standard_normal((CLASSES, FEATURES)) * 0.8
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    x = rng.standard_normal((n, seq, FEATURES))
    for i in range(n):
        where = rng.choice(seq, size=2, replace=False)
        x[i, where] += patterns[labels[i]]
    return x.astype(np.float32), labels.astype(np.int64)


def main():
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, val, test = common.split(*make_data(args.samples, args.seq, args.seed),
                                    seed=args.seed)
    loader = DataLoader(TensorDataset(*map(torch.from_numpy, train)), batch_size=args.batch,
                        shuffle=True)
    model = TransformerClassifier(args.d_model, args.heads, args.ff, args.layers, args.dropout)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    state = dict(model=model, optimizer=optimizer)
    start, history = 0, {}
    if args.resume:
        start, history = common.load_checkpoint(torch, args.resume, **state)

    bar = common.progress(args, start, len(loader))
    step_times = []
    for epoch in range(start, args.epochs):
        torch.manual_seed(args.seed + epoch)  # this epoch's shuffle and dropout: resumable
        model.train()
        loss_sum, correct = 0.0, 0
        for xb, yb in loader:
            t0 = time.perf_counter()
            optimizer.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            step_times.append(time.perf_counter() - t0)
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
            bar.update()
        val_loss, val_logits = common.evaluate(torch, model, F.cross_entropy, *val)
        common.end_epoch(args, bar, history, epoch,
                         loss=loss_sum / len(train[1]), accuracy=correct / len(train[1]),
                         val_loss=val_loss, val_accuracy=np.mean(val_logits.argmax(1) == val[1]))
        if args.save:
            common.save_checkpoint(torch, args.save, epoch + 1, history, **state)
    bar.close()

    _, test_logits = common.evaluate(torch, model, F.cross_entropy, *test)
    metrics = common.classification_metrics(test[1], test_logits.argmax(1),
                                            [f"pattern {c}" for c in range(CLASSES)])
    if args.time and step_times:
        steady = sorted(step_times[min(5, len(step_times) - 1):])
        print(f"{args.lib}: median step {1e3 * steady[len(steady) // 2]:.2f} ms "
              f"(batch {args.batch}, seq {args.seq}, d_model {args.d_model})")
    common.finish(args, history, metrics, TITLE)


if __name__ == "__main__":
    main()
