#!/usr/bin/python3
"""Time VGG-16 explanations in PyTorch and in patternnet side by side, same machine, same threads.

An optional benchmark, not part of the build or the tests (patternnet needs no Python). Both sides
use a VGG-16 (13 conv + 3 dense layers, 224x224x3 input, 1000 outputs) with seeded random He-init
weights (the cost does not depend on the values) and one random input of batch 1, float32:
  PyTorch:    forward (no_grad); gradient to the input (forward + backward of the largest output);
              Guided BackProp (the same with full backward hooks on every ReLU, as Captum's
              GuidedBackprop does); LRP-epsilon layer by layer (compare_methods.lrp: each layer's
              z recomputed with autograd, R_prev = a * d(z . stop(R / z)) / da).
              Pattern statistics of the two-component estimator (paper §4.5) for all 16 layers, the
              unfold + matmul way: per layer the rows X (F.unfold patches of a conv layer, the input
              of a dense one) and pre-activations Y, M = 1[Y > 0], the product [Y, M*Y, M]ᵀ X in
              float32 per batch added into float64 sums, with the row sums Σx, Σy, Σy², Σm, Σm·y,
              Σm·y² (the quantities patternnet's PatternStats keeps), forward pass included.
  patternnet: `patternnet benchmark --arch vgg16 --statistics two_component --json` with the same
              methods plus pattern_net and pattern_attribution (weights as patterns, a timing
              stand-in).
Each timing is one warm-up call and then --repeat timed calls; the table gives medians and minima in
ms and the ratios the VGG-16 issue asks about (forward vs forward; signal/attribution methods vs
PyTorch's gradient; lrp_epsilon vs the PyTorch LRP above; the statistics as images/s). Captum is not packaged for Debian, so its
LRP is not timed; the layer-wise LRP here is the closest PyTorch computation.

Usage: bench_vgg16.py --patternnet build/release/bin/patternnet [--threads 2] [--repeat 5] [--stats-batch 1] [--json]
Needs Debian's python3-torch.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_methods as cm  # noqa: E402  (the hooks and the layer-wise LRP)

VGG16_CONV = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16():
    layers, c = [], 3
    for v in VGG16_CONV:
        if v == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(c, v, 3, 1, 1), torch.nn.ReLU()]
            c = v
    layers += [torch.nn.Flatten(), torch.nn.Linear(512 * 7 * 7, 4096), torch.nn.ReLU(), torch.nn.Dropout(0.5),
               torch.nn.Linear(4096, 4096), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(4096, 1000)]
    net = torch.nn.Sequential(*layers)
    for m in net:
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    # Explanations differentiate with respect to the input only: parameters that required gradients
    # would make every backward pass also compute the weight gradients (fc6's alone is 411 MB).
    return net.float().eval().requires_grad_(False)


def timed(fn, repeat):
    fn()  # warm-up
    ms = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ms.append(1000.0 * (time.perf_counter() - t0))
    return {"median_ms": statistics.median(ms), "min_ms": min(ms)}


class TorchStats:
    """Two-component pattern statistics of every conv and dense layer, unfold + matmul."""

    def __init__(self, net):
        self.net = net
        self.sums = {}
        for i, m in enumerate(net):
            if isinstance(m, torch.nn.Conv2d):
                d, o = m.in_channels * m.kernel_size[0] * m.kernel_size[1], m.out_channels
            elif isinstance(m, torch.nn.Linear):
                d, o = m.in_features, m.out_features
            else:
                continue
            f64 = torch.float64
            self.sums[i] = {"zx": torch.zeros(3 * o, d, dtype=f64), "x": torch.zeros(d, dtype=f64),
                            "rows": torch.zeros(6, o, dtype=f64)}

    def add(self, x):
        with torch.no_grad():
            cur = x
            for i, m in enumerate(self.net):
                out = m(cur)
                if i in self.sums:
                    if isinstance(m, torch.nn.Conv2d):
                        rows = torch.nn.functional.unfold(cur, m.kernel_size, padding=m.padding, stride=m.stride)
                        rows = rows.transpose(1, 2).reshape(-1, rows.shape[1])  # (N*P, D)
                        y = out.flatten(2).transpose(1, 2).reshape(-1, out.shape[1])  # (N*P, O)
                    else:
                        rows, y = cur, out
                    mask = (y > 0).to(y.dtype)
                    my = mask * y
                    s = self.sums[i]
                    s["zx"] += (torch.cat([y, my, mask], dim=1).t() @ rows).double()
                    s["x"] += rows.sum(0, dtype=torch.float64)
                    s["rows"] += torch.stack([torch.ones_like(y[0]) * y.shape[0], y.sum(0), (y * y).sum(0), mask.sum(0),
                                              my.sum(0), (my * y).sum(0)]).double()
                cur = out


def torch_timings(repeat, stats_batch):
    torch.manual_seed(5)
    net = vgg16()
    x = torch.rand(1, 3, 224, 224) * 2 - 1
    xs = torch.rand(stats_batch, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        t = net(x).argmax(dim=1)

    def forward():
        with torch.no_grad():
            net(x)

    out = {"forward": timed(forward, repeat), "gradient": timed(lambda: cm.gradient(net, x, t), repeat)}
    out["guided_backprop"] = timed(lambda: cm.signal_method(net, x, t, "guided"), repeat)
    out["lrp_epsilon"] = timed(lambda: cm.lrp(net, x, t, 0.1), repeat)
    stats = TorchStats(net)
    per_call = timed(lambda: stats.add(xs), repeat)
    out["statistics"] = {k: v / stats_batch for k, v in per_call.items()}  # per image
    del stats
    return out


def patternnet_timings(binary, repeat, threads, stats_batch):
    methods = "gradient,guided_backprop,pattern_net,pattern_attribution,lrp_epsilon"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run = subprocess.run([binary, "benchmark", "--arch", "vgg16", "--methods", methods, "--batch", "1", "--repeat", str(repeat),
                          "--statistics", "two_component", "--json"], check=True, capture_output=True, text=True, env=env)
    report = json.loads(run.stdout)
    out = {"forward": report["forward"]}
    if stats_batch != 1:  # the statistics in their own run at their own batch size
        run = subprocess.run([binary, "benchmark", "--arch", "vgg16", "--methods", "gradient", "--batch", str(stats_batch),
                              "--repeat", str(repeat), "--statistics", "two_component", "--json"], check=True,
                             capture_output=True, text=True, env=env)
        report["statistics"] = json.loads(run.stdout)["statistics"]
    out["statistics"] = {"median_ms": report["statistics"]["median_ms"], "min_ms": report["statistics"]["min_ms"]}
    for m in report["methods"]:
        out[m["name"]] = {"median_ms": m["median_ms"], "min_ms": m["min_ms"]}
    return out, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patternnet", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--stats-batch", type=int, default=1, help="images per call of the statistics (times are per image)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if not os.access(args.patternnet, os.X_OK):
        raise SystemExit(f"--patternnet {args.patternnet}: not an executable file")
    if args.threads < 1 or args.repeat < 1 or args.stats_batch < 1:
        raise SystemExit("--threads, --repeat and --stats-batch must be at least 1")

    torch.set_num_threads(args.threads)
    pt = torch_timings(args.repeat, args.stats_batch)
    pn, report = patternnet_timings(args.patternnet, args.repeat, args.threads, args.stats_batch)

    # (patternnet row, PyTorch reference row, the bar as a fraction of the reference)
    rows = [("forward", "forward", 0.8), ("gradient", "gradient", 0.8), ("guided_backprop", "gradient", 0.8),
            ("pattern_net", "gradient", 0.8), ("pattern_attribution", "gradient", 0.8), ("lrp_epsilon", "lrp_epsilon", 0.5)]
    result = {"threads": args.threads, "repeat": args.repeat, "stats_batch": args.stats_batch, "torch": torch.__version__,
              "patternnet_isa": report["isa"],
              "patternnet_threads": report["threads"], "pytorch": pt, "patternnet": pn, "ratios": []}
    for name, ref, bar in rows:
        ratio = pn[name]["median_ms"] / pt[ref]["median_ms"]
        result["ratios"].append({"method": name, "reference": "pytorch " + ref, "ratio": ratio, "bar": bar, "met": ratio <= bar})
    # Statistics: a throughput bar (patternnet's images/s at least twice PyTorch's).
    speedup = pt["statistics"]["median_ms"] / pn["statistics"]["median_ms"]
    result["statistics"] = {"pytorch_images_per_s": 1000.0 / pt["statistics"]["median_ms"],
                            "patternnet_images_per_s": 1000.0 / pn["statistics"]["median_ms"], "speedup": speedup,
                            "bar": 2.0, "met": speedup >= 2.0}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"VGG-16, 224x224, batch 1, {args.threads} threads (PyTorch {torch.__version__}; "
          f"patternnet {report['threads']} threads, ISA {report['isa']}), median / min ms of {args.repeat} calls")
    print(f"{'PyTorch':<28}{'median':>10}{'min':>10}")
    for name, t in pt.items():
        print(f"{name:<28}{t['median_ms']:>10.1f}{t['min_ms']:>10.1f}")
    print(f"\n{'patternnet':<28}{'median':>10}{'min':>10}{'ratio':>10}  {'vs PyTorch':<22}bar")
    for r in result["ratios"]:
        t = pn[r["method"]]
        print(f"{r['method']:<28}{t['median_ms']:>10.1f}{t['min_ms']:>10.1f}{r['ratio']:>10.2f}  {r['reference']:<22}"
              f"<= {r['bar']} {'met' if r['met'] else 'NOT met'}")
    st = result["statistics"]
    print(f"\npattern statistics (two-component, 16 layers, forward included, batch {args.stats_batch}): patternnet "
          f"{st['patternnet_images_per_s']:.3g} images/s ({pn['statistics']['median_ms']:.0f} ms/image), PyTorch unfold+matmul "
          f"{st['pytorch_images_per_s']:.3g} images/s ({pt['statistics']['median_ms']:.0f} ms/image): {st['speedup']:.2f}x, "
          f">= {st['bar']} {'met' if st['met'] else 'NOT met'}")


if __name__ == "__main__":
    main()
