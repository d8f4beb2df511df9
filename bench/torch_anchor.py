#!/usr/bin/env python3
"""PyTorch anchor of `npm run bench` (bench/epochs.js): the same three models, data and batch size in PyTorch.

    .venv/bin/python bench/torch_anchor.py [--data /tmp/d2l-bench] [--models softmax,mlp,lenet] [--threads 2]

Prints ONE JSON line on stdout:
    {"torch": "2.13.0+cpu", "threads": 2, "numTrain": 60000, "batchSize": 256, "numBatches": 235, "dataSource": "npm",
     "results": {"softmax": {"seconds", "examplesPerSec", "trainLoss", "trainAcc", "peakRssMb", "cpuCores", "otherCores"},
                 ...}}
(or {"skipped": "<reason>"} when torch/numpy cannot be imported; exit status 0 either way).

Data: the uint8 arrays bench/epochs.js dumps from d2l-ts's own loader (`loadFashionMnistArrays`), so both sides
train on exactly the same 60000 images: <data>/train-images.u8 (n*28*28 bytes, row-major), <data>/train-labels.u8
(n bytes) and <data>/meta.json ({"numTrain", "rows", "cols", "source"}).

What is timed, per model: one warm-up epoch, then --repeat epochs of which the fastest counts (wall clock, training only, no test evaluation), the
code of d2l's PyTorch flavour (d2l/torch.py), matching what d2l-ts runs:
  softmax  lecture 09 scratch: W [784,10] ~ N(0, 0.01), b = 0, naive softmax, cross_entropy = -log y_hat[i, y_i],
           l.sum().backward(), d2l.sgd(lr 0.1, divides by the batch size)          (train_epoch_ch3, scratch updater)
  mlp      lecture 10 concise: Flatten, Linear(784,256) ~ N(0, 0.01), ReLU, Linear(256,10),
           CrossEntropyLoss(reduction='none'), l.mean().backward(), torch.optim.SGD(lr 0.1)  (train_epoch_ch3)
  lenet    lecture 23: sigmoid LeNet (Conv 5x5 pad 2 -> 6, AvgPool, Conv 5x5 -> 16, AvgPool, 120, 84, 10),
           Xavier-uniform init, CrossEntropyLoss (mean), torch.optim.SGD(lr 0.9)      (train_ch6's batch step)
Every epoch draws a fresh random order (torch.randperm) and yields ceil(n/256) batches, the last one partial, as the
d2l-ts iterator does; each batch is gathered from the uint8 array and scaled to float32 [0, 1] (ToTensor) when it is
needed, as d2l-ts does, so data preparation is inside the timed epoch on both sides. The loss sum and the correct
count are accumulated as tensors and read once per epoch (d2l-ts does the same; d2l's float() per batch costs about
the same on the CPU). Peak RSS is /proc/self/status VmHWM after the model (one model per process gives per-model peaks).
cpuCores: CPU seconds this process used per wall second of the timed epoch; otherCores: cores the rest of the machine
kept busy meanwhile (other users' work) — PyTorch's 2 OpenMP threads slow down many times over when the 2 cores are
shared, so a result with otherCores above ~0.3 is not an anchor.
"""
import argparse
import json
import math
import os
import sys
import time

MODELS = ('softmax', 'mlp', 'lenet')


def peak_rss_mb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float('nan')


def machine_busy_seconds():
    """CPU seconds the whole machine has been busy (/proc/stat; all but idle and iowait)."""
    try:
        with open('/proc/stat') as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        return (sum(v) - v[3] - v[4]) / os.sysconf('SC_CLK_TCK')
    except (OSError, ValueError):
        return float('nan')


def own_cpu_seconds():
    t = os.times()
    return t.user + t.system


def load_data(data_dir, torch, np):
    with open(os.path.join(data_dir, 'meta.json')) as f:
        meta = json.load(f)
    n, rows, cols = meta['numTrain'], meta['rows'], meta['cols']
    images = np.fromfile(os.path.join(data_dir, 'train-images.u8'), dtype=np.uint8)
    labels = np.fromfile(os.path.join(data_dir, 'train-labels.u8'), dtype=np.uint8)
    if images.size != n * rows * cols or labels.size != n:
        raise ValueError(f'{data_dir}: expected {n} images of {rows}x{cols} and {n} labels, '
                         f'got {images.size} pixel bytes and {labels.size} labels')
    X = torch.from_numpy(images).reshape(n, 1, rows, cols)   # NCHW uint8, scaled per batch
    y = torch.from_numpy(labels.astype(np.int64))
    return X, y, meta


def batches(X, y, batch_size, torch):
    n = X.shape[0]
    order = torch.randperm(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        yield X[idx].float().div_(255), y[idx]


def make_softmax(torch, nn, lr=0.1):
    W = torch.normal(0, 0.01, size=(784, 10), requires_grad=True)
    b = torch.zeros(10, requires_grad=True)
    params = [W, b]

    def softmax(O):
        O_exp = torch.exp(O)
        return O_exp / O_exp.sum(1, keepdim=True)

    def net(X):
        return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def loss(y_hat, y):
        return -torch.log(y_hat[torch.arange(len(y_hat)), y])

    def step(X, y):
        y_hat = net(X)
        l = loss(y_hat, y)
        l.sum().backward()
        with torch.no_grad():                      # d2l.sgd
            for p in params:
                p -= lr * p.grad / X.shape[0]
                p.grad.zero_()
        return y_hat, l
    return step


def make_mlp(torch, nn, lr=0.1):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)
    net.apply(init_weights)
    loss = nn.CrossEntropyLoss(reduction='none')
    trainer = torch.optim.SGD(net.parameters(), lr=lr)
    net.train()

    def step(X, y):
        y_hat = net(X)
        l = loss(y_hat, y)
        trainer.zero_grad()
        l.mean().backward()
        trainer.step()
        return y_hat, l
    return step


def make_lenet(torch, nn, lr=0.9):
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))

    def init_weights(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    net.train()

    def step(X, y):
        optimizer.zero_grad()
        y_hat = net(X)
        l = loss(y_hat, y)
        l.backward()
        optimizer.step()
        return y_hat, l * X.shape[0]             # train_ch6 accumulates l * batch size
    return step


MAKERS = {'softmax': make_softmax, 'mlp': make_mlp, 'lenet': make_lenet}


def epoch(step, X, y, batch_size, torch):
    loss_sum = torch.zeros(())
    correct = torch.zeros(())
    n = 0
    for Xb, yb in batches(X, y, batch_size, torch):
        y_hat, l = step(Xb, yb)
        with torch.no_grad():
            loss_sum += l.sum()
            correct += (y_hat.argmax(1) == yb).sum()
        n += yb.numel()
    return float(loss_sum) / n, float(correct) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.path.join(os.environ.get('TMPDIR', '/tmp'), 'd2l-bench'))
    ap.add_argument('--models', default=','.join(MODELS))
    ap.add_argument('--batch-size', type=int, default=256)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--repeat', type=int, default=3, help='timed epochs; the fastest counts')
    args = ap.parse_args()
    models = [m for m in args.models.split(',') if m]
    bad = [m for m in models if m not in MODELS]
    if bad:
        ap.error(f'unknown model {", ".join(bad)} (choose from {", ".join(MODELS)})')
    try:
        import numpy as np
        import torch
        from torch import nn
    except Exception as e:  # ImportError, or a broken install raising something else
        print(json.dumps({'skipped': f'{type(e).__name__}: {e}'}))
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    X, y, meta = load_data(args.data, torch, np)
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'numTrain': int(X.shape[0]),
           'batchSize': args.batch_size, 'numBatches': math.ceil(X.shape[0] / args.batch_size),
           'dataSource': meta.get('source'), 'results': {}}
    for name in models:
        step = MAKERS[name](torch, nn)
        epoch(step, X, y, args.batch_size, torch)            # warm-up
        runs = []
        for _ in range(max(1, args.repeat)):                 # the fastest epoch counts, as in bench/epochs.js
            busy0, own0 = machine_busy_seconds(), own_cpu_seconds()
            t0 = time.perf_counter()
            loss, acc = epoch(step, X, y, args.batch_size, torch)
            s = time.perf_counter() - t0
            own = own_cpu_seconds() - own0
            runs.append({'seconds': s, 'examplesPerSec': X.shape[0] / s, 'trainLoss': loss, 'trainAcc': acc,
                         'cpuCores': own / s, 'otherCores': max(0.0, (machine_busy_seconds() - busy0 - own) / s)})
        best = dict(min(runs, key=lambda r: r['seconds']))   # time: the fastest epoch; loss, acc: the last
        best.update(trainLoss=runs[-1]['trainLoss'], trainAcc=runs[-1]['trainAcc'])
        best['allSeconds'] = [r['seconds'] for r in runs]
        best['peakRssMb'] = peak_rss_mb()
        out['results'][name] = best
    print(json.dumps(out))
    return 0


if __name__ == '__main__':
    sys.exit(main())
