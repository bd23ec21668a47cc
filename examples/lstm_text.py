"""An LSTM text classifier, written as an ordinary PyTorch script: only the imports name fastnn.

    python examples/lstm_text.py

Embedding(10000, 64) -> LSTM(64, 128, batch_first=True) -> Linear(128, 64) -> ReLU -> Dropout(0.5)
-> Linear(64, 3), trained with Adam on a synthetic 3-class task: each class has its own set of
"keyword" tokens sprinkled into random text, and the label is the class whose keywords occur most.
Swap the imports for ``torch`` and it runs under PyTorch unchanged.
"""

import numpy as np

import fastnn as torch
import fastnn.nn as nn
import fastnn.nn.functional as F
import fastnn.optim as optim

VOCAB, CLASSES = 10000, 3


def make_data(n, seq_len, seed=0):
    """Token ids (n, seq_len) int64 and labels (n,) int64, from a fixed NumPy seed."""
    rng = np.random.default_rng(seed)
    keywords = np.arange(CLASSES * 20).reshape(CLASSES, 20) + 1  # tokens 1..60 carry the signal
    tokens = rng.integers(100, VOCAB, size=(n, seq_len))
    labels = rng.integers(0, CLASSES, size=n)
    for i in range(n):
        slots = rng.choice(seq_len, size=max(2, seq_len // 5), replace=False)
        cls = np.where(
            rng.random(len(slots)) < 0.7, labels[i], rng.integers(0, CLASSES, len(slots))
        )
        tokens[i, slots] = keywords[cls, rng.integers(0, 20, len(slots))]
        counts = np.bincount(cls, minlength=CLASSES)
        labels[i] = int(np.argmax(counts))
    return torch.from_numpy(tokens.astype(np.int64)), torch.from_numpy(labels.astype(np.int64))


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, 64)
        self.lstm = nn.LSTM(64, 128, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(64, CLASSES),
        )

    def forward(self, tokens):
        _, (h_n, _) = self.lstm(self.embedding(tokens))
        return self.head(h_n[-1])


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    model.train()
    return float((pred == y).float().mean())


def main(steps=200, batch_size=64, seq_len=40, lr=3e-3, log=True):
    """Trains for ``steps`` Adam steps; returns the list of training losses."""
    torch.manual_seed(0)
    x, y = make_data(batch_size * 50, seq_len)
    x_test, y_test = make_data(1000, seq_len, seed=1)
    model = TextClassifier()
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    n = x.shape[0]
    for step in range(steps):
        idx = torch.from_numpy(np.random.default_rng(step).integers(0, n, batch_size))
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log and (step + 1) % 50 == 0:
            print(
                f"step {step + 1:4d}  loss {np.mean(losses[-50:]):.4f}  "
                f"test accuracy {accuracy(model, x_test, y_test):.3f}"
            )
    return losses


if __name__ == "__main__":
    main()
