"""The PyTorch baseline: a plain training loop, as a PyTorch user would write it.

nn.Sequential of Linear and ReLU, MSELoss, Adam with eps=1e-7 (Keras's default,
so both frameworks take comparable steps), two threads, one permuted copy of the
data per epoch. It starts from the same weights as minnn's model.
"""
import numpy as np


def available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchMLP:
    """weights: [(W (D, M), b (M,)), ...] in Keras layout; relu: one flag per layer."""

    def __init__(self, weights, relu, threads=2):
        import torch
        from torch import nn
        torch.set_num_threads(threads)
        self.torch = torch
        mods = []
        for (w, b), r in zip(weights, relu):
            lin = nn.Linear(w.shape[0], w.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))  # torch keeps W as (M, D)
                lin.bias.copy_(torch.from_numpy(b))
            mods.append(lin)
            if r:
                mods.append(nn.ReLU())
        self.model = nn.Sequential(*mods)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        self.loss_fn = nn.MSELoss()

    def fit(self, x, y, epochs, batch_size, seed=0):
        x = self.torch.from_numpy(x)
        y = x if y is None else self.torch.from_numpy(y)
        return _train(self, x, y, epochs, batch_size, seed)

    def predict(self, x, batch_size):
        torch = self.torch
        out = np.empty((len(x), self.model[-1].out_features), np.float32)
        with torch.no_grad():
            for lo in range(0, len(x), batch_size):
                out[lo:lo + batch_size] = self.model(torch.from_numpy(x[lo:lo + batch_size])).numpy()
        return out


class TorchClassifier:
    """The hello-world digit classifier as a PyTorch user writes it: Flatten, Linear, ReLU,
    Dropout, Linear, and CrossEntropyLoss on the logits (PyTorch's softmax + crossentropy
    in one), Adam with eps=1e-7. weights: [(W1, b1), (W2, b2)] in Keras layout."""

    def __init__(self, weights, rate=0.2, threads=2):
        import torch
        from torch import nn
        torch.set_num_threads(threads)
        self.torch = torch
        (w1, b1), (w2, b2) = weights
        lin1, lin2 = nn.Linear(*w1.shape), nn.Linear(*w2.shape)
        with torch.no_grad():
            for lin, w, b in ((lin1, w1, b1), (lin2, w2, b2)):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                lin.bias.copy_(torch.from_numpy(b))
        self.model = nn.Sequential(nn.Flatten(), lin1, nn.ReLU(), nn.Dropout(rate), lin2)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, eps=1e-7)
        self.loss_fn = nn.CrossEntropyLoss()

    def fit(self, x, labels, epochs, batch_size, seed=0):
        self.model.train()
        x, y = self.torch.from_numpy(x), self.torch.from_numpy(labels.astype(np.int64))
        return _train(self, x, y, epochs, batch_size, seed)


def _train(net, x, y, epochs, batch_size, seed):
    """The plain PyTorch loop both baselines train with: one permuted copy of the data per
    epoch, then zero_grad, loss, backward, step per batch; returns the epochs' mean losses."""
    torch = net.torch
    n = len(x)
    g = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g)
        ex, ey = x[perm], y[perm]
        total = 0.0
        for lo in range(0, n, batch_size):
            xb, yb = ex[lo:lo + batch_size], ey[lo:lo + batch_size]
            net.opt.zero_grad()
            loss = net.loss_fn(net.model(xb), yb)
            loss.backward()
            net.opt.step()
            total += len(xb) * loss.item()
        history.append(total / n)
    return history
