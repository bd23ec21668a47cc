"""Linear regression, written as an ordinary PyTorch script: only the imports name fastnn.

    python examples/linear_regression.py

Swap the imports for ``torch`` and it runs under PyTorch unchanged (tests/test_train_scripts.py
does exactly that and compares the final losses).
"""

import numpy as np

import fastnn as torch
import fastnn.nn as nn
import fastnn.optim as optim
from fastnn.utils.data import DataLoader, TensorDataset


def make_data(n=2048, d=16, noise=0.1, seed=0):
    """y = X w + 0.5 + noise, from a fixed NumPy seed (the same data under either framework)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    w = rng.standard_normal((d, 1)).astype(np.float32)
    y = X @ w + 0.5 + noise * rng.standard_normal((n, 1)).astype(np.float32)
    return torch.from_numpy(X), torch.from_numpy(y)


def main(epochs=12, lr=0.02, batch_size=64, seed=0, verbose=True):
    torch.manual_seed(seed)
    X, y = make_data()
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
    model = nn.Linear(X.shape[1], 1)
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.3)
    for epoch in range(epochs):
        model.train()
        running = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.shape[0]
        scheduler.step()
        if verbose:
            print(f"epoch {epoch + 1:2d}  train MSE {running / len(X):.5f}  "
                  f"lr {scheduler.get_last_lr()[0]:.4g}")
    model.eval()
    with torch.no_grad():
        final = criterion(model(X), y).item()
    if verbose:
        print(f"final MSE {final:.6f}  bias {model.bias.item():.4f}")
    return final


if __name__ == "__main__":
    main()
