#!/usr/bin/python3
"""Time VGG-16 explanations in PyTorch and in patternnet side by side, same machine, same threads.

An optional benchmark, not part of the build or the tests (patternnet needs no Python). Both sides
use a VGG-16 (13 conv + 3 dense layers, 224x224x3 input, 1000 outputs) with seeded random He-init
weights (the cost does not depend on the values) and one random input of batch 1, float32:
  PyTorch:    forward (no_grad); gradient to the input (forward + backward of the largest output);
              Guided BackProp (the same with full backward hooks on every ReLU, as Captum's
              GuidedBackprop does); LRP-epsilon layer by layer (compare_methods.lrp: each layer's
              z recomputed with autograd, R_prev = a * d(z . stop(R / z)) / da).
  patternnet: `patternnet benchmark --arch vgg16 --json` with the same methods plus pattern_net and
              pattern_attribution (weights as patterns, a timing stand-in).
Each timing is one warm-up call and then --repeat timed calls; the table gives medians and minima in
ms and the ratios the VGG-16 issue asks about (forward vs forward; signal/attribution methods vs
PyTorch's gradient; lrp_epsilon vs the PyTorch LRP above). Captum is not packaged for Debian, so its
LRP is not timed; the layer-wise LRP here is the closest PyTorch computation.

Usage: bench_vgg16.py --patternnet build/release/bin/patternnet [--threads 2] [--repeat 5] [--json]
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


def torch_timings(repeat):
    torch.manual_seed(5)
    net = vgg16()
    x = torch.rand(1, 3, 224, 224) * 2 - 1
    with torch.no_grad():
        t = net(x).argmax(dim=1)

    def forward():
        with torch.no_grad():
            net(x)

    out = {"forward": timed(forward, repeat), "gradient": timed(lambda: cm.gradient(net, x, t), repeat)}
    out["guided_backprop"] = timed(lambda: cm.signal_method(net, x, t, "guided"), repeat)
    out["lrp_epsilon"] = timed(lambda: cm.lrp(net, x, t, 0.1), repeat)
    return out


def patternnet_timings(binary, repeat, threads):
    methods = "gradient,guided_backprop,pattern_net,pattern_attribution,lrp_epsilon"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run = subprocess.run([binary, "benchmark", "--arch", "vgg16", "--methods", methods, "--batch", "1", "--repeat", str(repeat),
                          "--json"], check=True, capture_output=True, text=True, env=env)
    report = json.loads(run.stdout)
    out = {"forward": report["forward"]}
    for m in report["methods"]:
        out[m["name"]] = {"median_ms": m["median_ms"], "min_ms": m["min_ms"]}
    return out, report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--patternnet", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    if not os.access(args.patternnet, os.X_OK):
        raise SystemExit(f"--patternnet {args.patternnet}: not an executable file")
    if args.threads < 1 or args.repeat < 1:
        raise SystemExit("--threads and --repeat must be at least 1")

    torch.set_num_threads(args.threads)
    pt = torch_timings(args.repeat)
    pn, report = patternnet_timings(args.patternnet, args.repeat, args.threads)

    # (patternnet row, PyTorch reference row, the bar as a fraction of the reference)
    rows = [("forward", "forward", 0.8), ("gradient", "gradient", 0.8), ("guided_backprop", "gradient", 0.8),
            ("pattern_net", "gradient", 0.8), ("pattern_attribution", "gradient", 0.8), ("lrp_epsilon", "lrp_epsilon", 0.5)]
    result = {"threads": args.threads, "repeat": args.repeat, "torch": torch.__version__, "patternnet_isa": report["isa"],
              "patternnet_threads": report["threads"], "pytorch": pt, "patternnet": pn, "ratios": []}
    for name, ref, bar in rows:
        ratio = pn[name]["median_ms"] / pt[ref]["median_ms"]
        result["ratios"].append({"method": name, "reference": "pytorch " + ref, "ratio": ratio, "bar": bar, "met": ratio <= bar})
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


if __name__ == "__main__":
    main()
