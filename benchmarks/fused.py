"""The floor: a hand-fused NumPy training loop for a chain of Dense layers.

It does the same arithmetic as minnn (x·W + b, ReLU, MSE, Keras's Adam, one
permuted copy of the data per epoch) with nothing around it: every parameter and
gradient is a view into one flat float32 buffer, every intermediate array is
preallocated once, and every NumPy call writes into it with ``out=``. There is
no graph, no layer object, no callback and no check. It exists only to measure
how much minnn's abstractions cost; it is not part of the package.

The operations, and their order, are minnn's own, so the two produce the same
float32 numbers from the same starting weights and the same shuffles.
"""
import math

import numpy as np


class FusedMLP:
    """A chain ``x -> Dense -> ... -> Dense`` trained with MSE and Adam.

    weights: [(W0, b0), (W1, b1), ...] as from ``layer.get_weights()``;
    relu: [True, False, ...], one per layer, whether a ReLU follows it.
    """

    def __init__(self, weights, relu, batch_size, dtype=np.float32, learning_rate=0.001,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        self.relu = list(relu)
        sizes = [w.size + b.size for w, b in weights]
        total = sum(sizes)
        self.flat = np.empty(total, dtype)
        self.grad = np.zeros(total, dtype)
        self.W, self.b, self.gW, self.gb = [], [], [], []
        start = 0
        for w, b in weights:
            for src, dst, gdst in ((w, self.W, self.gW), (b, self.b, self.gb)):
                stop = start + src.size
                self.flat[start:stop] = src.ravel()
                dst.append(self.flat[start:stop].reshape(src.shape))
                gdst.append(self.grad[start:stop].reshape(src.shape))
                start = stop
        B = batch_size
        self.z = [np.empty((B, w.shape[1]), dtype) for w, _ in weights]    # layer outputs
        self.dz = [np.empty((B, w.shape[1]), dtype) for w, _ in weights]   # their gradients
        self.mask = [np.empty((B, w.shape[1]), bool) for w, _ in weights]
        out_width = weights[-1][0].shape[1]
        self.sq = np.empty((B, out_width), dtype)
        self.m, self.v = np.zeros(total, dtype), np.zeros(total, dtype)
        self.tmp, self.tmp2 = np.empty(total, dtype), np.empty(total, dtype)
        self.lr, self.b1, self.b2, self.eps = learning_rate, beta_1, beta_2, epsilon
        self.t = 0

    def step(self, x, y):
        """One Adam step on the batch (x, y); returns the loss before the update."""
        n = len(x)
        L = len(self.W)
        h = x
        for i in range(L):                     # forward: z = x·W + b, then ReLU in place
            z = self.z[i][:n]
            np.matmul(h, self.W[i], out=z)
            z += self.b[i]
            if self.relu[i]:
                np.maximum(z, 0, out=z)
            h = z
        d = self.dz[L - 1][:n]                 # MSE: L = mean((ŷ − y)²), dŷ = 2(ŷ − y)/size
        np.subtract(h, y, out=d)
        sq = self.sq[:n]
        np.multiply(d, d, out=sq)
        loss = float(np.mean(np.mean(sq, axis=-1)))  # Keras's order: features, then batch
        d *= 2.0 / d.size
        for i in range(L - 1, -1, -1):         # backward
            if self.relu[i]:
                mask = self.mask[i][:n]
                np.greater(self.z[i][:n], 0, out=mask)
                d *= mask
            h_in = x if i == 0 else self.z[i - 1][:n]
            np.matmul(h_in.T, d, out=self.gW[i])
            np.sum(d, axis=0, out=self.gb[i])
            if i > 0:                           # no dx for the data itself
                d_in = self.dz[i - 1][:n]
                np.matmul(d, self.W[i].T, out=d_in)
                d = d_in
        self.t += 1                             # Adam, Keras's ε-hat form, on the flat buffer
        alpha = self.lr * math.sqrt(1.0 - self.b2 ** self.t) / (1.0 - self.b1 ** self.t)
        g, m, v, tmp, tmp2 = self.grad, self.m, self.v, self.tmp, self.tmp2
        np.subtract(g, m, out=tmp)
        tmp *= 1.0 - self.b1
        m += tmp
        np.square(g, out=tmp)
        tmp -= v
        tmp *= 1.0 - self.b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += self.eps
        np.multiply(m, alpha, out=tmp2)
        tmp2 /= tmp
        self.flat -= tmp2
        return loss

    def fit(self, x, y, epochs, batch_size, rng):
        """Epochs of shuffled mini-batches; returns the per-epoch mean losses (as Keras logs)."""
        n = len(x)
        same = y is x
        ex = np.empty_like(x)                   # one shuffled copy, refilled every epoch
        ey = ex if same else np.empty_like(y)
        history = []
        for _ in range(epochs):
            perm = rng.permutation(n)
            np.take(x, perm, axis=0, out=ex, mode="clip")
            if not same:
                np.take(y, perm, axis=0, out=ey, mode="clip")
            total = np.float32(0)  # Keras's loss tracker: float32 total += float32(n_b·L_b)
            for lo in range(0, n, batch_size):
                hi = min(n, lo + batch_size)
                total += np.float32(self.step(ex[lo:hi], ey[lo:hi])) * np.float32(hi - lo)
            history.append(float(total / np.float32(n)))
        return history
