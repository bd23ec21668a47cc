"""Same weights, same batches: yunjey's tut-rnn model (2-layer LSTM 28->128, Linear, Adam lr
0.01) trained 60 steps in fastnn and in torch side by side; prints both losses every 10 steps
and the final weight difference. A third run, torch again from the same weights nudged by one
part in 1e7, shows how far float32 rounding alone moves the trajectory at this learning rate:
fastnn's distance from torch is to be read against that one. Tells a real gradient/optimizer
difference from draw variance in the compat suite's tut-rnn accuracy (docs/benchmarks.md).

    python benchmarks/compat_rnn_trajectory.py
"""

import numpy as np
import torch

import fastnn


def build(mod):
    class RNN(mod.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = mod.nn.LSTM(28, 128, 2, batch_first=True)
            self.fc = mod.nn.Linear(128, 10)

        def forward(self, x):
            h0 = mod.zeros(2, x.size(0), 128)
            c0 = mod.zeros(2, x.size(0), 128)
            out, _ = self.lstm(x, (h0, c0))
            return self.fc(out[:, -1, :])

    return RNN()


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    torch.set_num_threads(2)
    fastnn.set_num_threads(2)
    tm, fm = build(torch), build(fastnn)
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    tn = build(torch)
    with torch.no_grad():
        for (_, a), (_, b) in zip(tn.state_dict().items(), tm.state_dict().items()):
            a.copy_(b * (1 + 1e-7 * torch.randn_like(b)))
    to = torch.optim.Adam(tm.parameters(), lr=0.01)
    tno = torch.optim.Adam(tn.parameters(), lr=0.01)
    fo = fastnn.optim.Adam(fm.parameters(), lr=0.01)
    protos = rng.random((10, 28, 28), dtype=np.float32)  # learnable: class template + noise
    for step in range(60):
        y = rng.integers(0, 10, 100)
        x = (protos[y] * 0.5 + rng.random((100, 28, 28), dtype=np.float32) * 0.5)
        lt = torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y))
        to.zero_grad()
        lt.backward()
        to.step()
        ln = torch.nn.functional.cross_entropy(tn(torch.tensor(x)), torch.tensor(y))
        tno.zero_grad()
        ln.backward()
        tno.step()
        lf = fastnn.nn.functional.cross_entropy(fm(fastnn.tensor(x)), fastnn.tensor(y))
        fo.zero_grad()
        lf.backward()
        fo.step()
        if step % 10 == 0 or step == 59:
            print(step, f"torch {lt.item():.5f} fastnn {lf.item():.5f} "
                  f"torch-nudged {ln.item():.5f}")
    w = tm.lstm.weight_hh_l1.detach().numpy()
    print("max |weight_hh_l1 - torch's| after 60 steps: fastnn",
          np.abs(w - fm.lstm.weight_hh_l1.detach().numpy()).max(),
          "torch-nudged", np.abs(w - tn.lstm.weight_hh_l1.detach().numpy()).max())


if __name__ == "__main__":
    main()
