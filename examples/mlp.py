"""An MLP classifier, written as an ordinary PyTorch script: only the imports name fastnn.

    python examples/mlp.py

Swap the imports for ``torch`` and it runs under PyTorch unchanged (tests/test_train_scripts.py
does exactly that and compares the final losses and accuracies).
"""

import numpy as np

import fastnn as torch
import fastnn.nn as nn
import fastnn.nn.functional as F
import fastnn.optim as optim
from fastnn.utils.data import DataLoader, TensorDataset, random_split


def make_data(n=3000, d=20, classes=4, seed=0):
    """Gaussian class clusters pushed through a fixed nonlinearity (fixed NumPy seed)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, d)) * 0.5
    labels = rng.integers(0, classes, size=n)
    x = centers[labels] + rng.standard_normal((n, d))
    x = np.tanh(x) + 0.1 * x**2
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


class MLP(nn.Module):
    def __init__(self, d_in, hidden, classes, p_drop=0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_in, hidden),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.LayerNorm(hidden),
            nn.Linear(hidden, classes),
        )

    def forward(self, x):
        return self.net(x)


def evaluate(model, loader):
    model.eval()
    total, correct, loss_sum = 0, 0, 0.0
    with torch.no_grad():
        for xb, yb in loader:
            logits = model(xb)
            loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(dim=1) == yb).sum().item()
            total += yb.shape[0]
    return loss_sum / total, correct / total


def main(epochs=8, lr=3e-3, batch_size=64, seed=0, verbose=True):
    torch.manual_seed(seed)
    X, y = make_data()
    train_set, val_set = random_split(TensorDataset(X, y), [0.8, 0.2])
    train_loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=256)
    model = MLP(X.shape[1], 64, 4)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0)
            optimizer.step()
        scheduler.step()
        val_loss, val_acc = evaluate(model, val_loader)
        if verbose:
            print(f"epoch {epoch + 1:2d}  val loss {val_loss:.4f}  val acc {val_acc:.3f}")
    return evaluate(model, DataLoader(TensorDataset(X, y), batch_size=512))


if __name__ == "__main__":
    loss, acc = main()
    print(f"final loss {loss:.4f}  accuracy {acc:.3f}")
