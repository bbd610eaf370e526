#!/usr/bin/python3
"""Compare patternnet's explanations with PyTorch's autograd on the same weights and inputs.

An optional cross-check, not part of the build or the tests (patternnet needs no Python): it reads a
model written by patternnet (safetensors with the pn.architecture metadata) into a torch.nn network,
runs `patternnet explain` on a batch, computes the same methods with PyTorch, and prints the largest
difference of each method relative to the largest value of the PyTorch result.

The PyTorch side is written independently from patternnet's rules:
  gradient, input_x_gradient, integrated_gradients: torch.autograd on the network's target output
      (integrated gradients: zero baseline, left Riemann sum alpha = k / steps, k = 0 .. steps-1);
  deconvnet, guided_backprop: backward hooks on every ReLU that replace its gradient by
      relu(grad_out) (DeConvNet) or relu(grad_out) gated by the forward mask (Guided BackProp);
  lrp_z, lrp_epsilon: the layer-by-layer "gradient trick" (for z = layer(a) + eps sign(z),
      R_prev = a * d(z . stop(R / z)) / da), ReLUs pass relevance, max-pooling routes it through
      the gradient of the pool.
Every method starts at 1 at the target (patternnet explain --start one), the target being the
largest output of each sample.

Usage: compare_methods.py --patternnet build/release/bin/patternnet --model cnn.safetensors
                          [--input x.npy | --count 16] [--work DIR]
Needs Debian's python3-torch (and python3-numpy, which it depends on).
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        tensors[name] = np.frombuffer(data[lo:hi], dtype=DTYPES[e["dtype"]]).reshape(e["shape"]).astype(np.float32)
    return tensors, meta


def build_network(path):
    tensors, meta = read_safetensors(path)
    arch = json.loads(meta["pn.architecture"])
    layers = []
    for spec in arch["layers"]:
        kind = spec["type"]
        if kind == "conv2d":
            m = torch.nn.Conv2d(spec["in_channels"], spec["out_channels"], spec["kernel"], spec["stride"], spec["padding"])
        elif kind == "linear":
            m = torch.nn.Linear(spec["in_features"], spec["out_features"])
        elif kind == "relu":
            m = torch.nn.ReLU()
        elif kind == "maxpool2d":
            m = torch.nn.MaxPool2d(spec["kernel"], spec["stride"])
        elif kind == "avgpool2d":
            m = torch.nn.AvgPool2d(spec["kernel"], spec["stride"])
        elif kind == "flatten":
            m = torch.nn.Flatten()
        elif kind == "dropout":
            m = torch.nn.Dropout(spec["p"])
        else:
            raise SystemExit(f"{path}: layer kind {kind} has no PyTorch counterpart here")
        if kind in ("conv2d", "linear"):
            with torch.no_grad():
                m.weight.copy_(torch.from_numpy(tensors[spec["name"] + ".weight"].copy()))
                m.bias.copy_(torch.from_numpy(tensors[spec["name"] + ".bias"].copy()))
        layers.append(m)
    net = torch.nn.Sequential(*layers).double().eval()
    return net, arch["input"]


def read_npy(path):
    return np.load(path).astype(np.float64)


def targets_of(net, x):
    with torch.no_grad():
        return net(x).argmax(dim=1)


def gradient(net, x, t):
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.gather(1, t[:, None]).sum().backward()
    return x.grad.detach()


def with_relu_hooks(net, rule):
    """Runs the gradient with every ReLU's backward replaced by the rule."""

    def hook(module, grad_in, grad_out):
        g = grad_out[0]
        if rule == "deconvnet":
            return (torch.relu(g),)
        # guided: the forward gate (already applied to grad_in) and the sign of the signal
        return (torch.relu(grad_in[0]),)

    handles = [m.register_full_backward_hook(hook) for m in net if isinstance(m, torch.nn.ReLU)]
    return handles


def signal_method(net, x, t, rule):
    handles = with_relu_hooks(net, rule)
    try:
        return gradient(net, x, t)
    finally:
        for h in handles:
            h.remove()


def integrated_gradients(net, x, t, steps=64):
    total = torch.zeros_like(x)
    for k in range(steps):
        total += gradient(net, x * (k / steps), t)
    return x * total / steps


def lrp(net, x, t, eps):
    # Forward, keeping every layer's input.
    acts = [x]
    with torch.no_grad():
        for m in net:
            acts.append(m(acts[-1]))
    out = acts[-1]
    r = torch.zeros_like(out)
    r.scatter_(1, t[:, None], 1.0)
    for i in range(len(net) - 1, -1, -1):
        m, a = net[i], acts[i].clone().requires_grad_(True)
        if isinstance(m, (torch.nn.ReLU, torch.nn.Dropout)):
            continue  # relevance passes unchanged
        if isinstance(m, torch.nn.Flatten):
            r = r.reshape(a.shape)
            continue
        if isinstance(m, torch.nn.MaxPool2d):
            y = m(a)
            (g,) = torch.autograd.grad(y, a, r)
            r = g
            continue
        z = m(a)
        if eps > 0:
            z = z + eps * torch.where(z >= 0, torch.ones_like(z), -torch.ones_like(z))
        s = torch.where(z != 0, r / torch.where(z != 0, z, torch.ones_like(z)), torch.zeros_like(z)).detach()
        (c,) = torch.autograd.grad(z, a, s)
        r = (a * c).detach()
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patternnet", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", help="(N, C, H, W) .npy batch (default: --count Fashion-MNIST test images)")
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--work", help="folder for the .npy files (default: a temporary one)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    work = args.work or tempfile.mkdtemp(prefix="pn_torch_")
    os.makedirs(work, exist_ok=True)
    x_path = args.input
    if not x_path:
        x_path = os.path.join(work, "x.npy")
        subprocess.run([args.patternnet, "export", "--split", "test", "--first", "0", "--count", str(args.count), "--out", x_path],
                       check=True, stdout=subprocess.DEVNULL)
    net, input_shape = build_network(args.model)
    x_np = read_npy(x_path)
    if tuple(x_np.shape[1:]) != tuple(input_shape):
        # Fashion-MNIST's 28x28 for a 32x32 network (vgg16-32): centred zero padding, as patternnet's
        # own data path does.
        c, h, w = input_shape
        if x_np.shape[1] != c or x_np.shape[2] > h or x_np.shape[3] > w:
            raise SystemExit(f"{x_path}: batch of shape {x_np.shape} does not fit the model's input {input_shape}")
        top, left = (h - x_np.shape[2]) // 2, (w - x_np.shape[3]) // 2
        padded = np.zeros((x_np.shape[0], c, h, w), dtype=np.float32)
        padded[:, :, top:top + x_np.shape[2], left:left + x_np.shape[3]] = x_np
        x_path = os.path.join(work, "x_padded.npy")
        np.save(x_path, padded)
        x_np = padded.astype(np.float64)
    x = torch.from_numpy(x_np)
    t = targets_of(net, x)

    reference = {
        "gradient": lambda: gradient(net, x, t),
        "input_x_gradient": lambda: x * gradient(net, x, t),
        "integrated_gradients": lambda: integrated_gradients(net, x, t),
        "deconvnet": lambda: signal_method(net, x, t, "deconvnet"),
        "guided_backprop": lambda: signal_method(net, x, t, "guided"),
        "lrp_z": lambda: lrp(net, x, t, 0.0),
        "lrp_epsilon": lambda: lrp(net, x, t, 0.1),
    }
    rows = []
    for method, ref in reference.items():
        out = os.path.join(work, f"{method}.npy")
        cmd = [args.patternnet, "explain", "--model", args.model, "--input", x_path, "--method", method, "--start", "one",
               "--out", out]
        if method == "lrp_epsilon":
            cmd += ["--epsilon", "0.1"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        ours = read_npy(out)
        theirs = ref().numpy()
        scale = float(np.abs(theirs).max())
        diff = float(np.abs(ours - theirs).max())
        corr = float(np.corrcoef(ours.ravel(), theirs.ravel())[0, 1])
        rows.append({"method": method, "max_abs_diff": diff, "max_abs_torch": scale, "relative": diff / scale if scale else diff,
                     "correlation": corr})
    if args.json:
        print(json.dumps({"model": args.model, "samples": int(x.shape[0]), "torch": torch.__version__, "rows": rows}, indent=1))
        return
    print(f"model {args.model}, {x.shape[0]} samples, PyTorch {torch.__version__} (float64), patternnet float32, start 1 at the top output")
    print(f"{'method':<22}{'max |ours - torch|':>20}{'max |torch|':>14}{'relative':>11}{'correlation':>13}")
    for r in rows:
        print(f"{r['method']:<22}{r['max_abs_diff']:>20.3e}{r['max_abs_torch']:>14.3e}{r['relative']:>11.2e}{r['correlation']:>13.8f}")


if __name__ == "__main__":
    sys.exit(main())
