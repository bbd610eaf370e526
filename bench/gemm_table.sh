#!/usr/bin/env bash
# Runs bench_gemm with 5 repetitions and prints the medians as a Markdown table: our kernels and
# OpenBLAS on each shape at 1 and 2 threads, GFLOP/s, % of the measured FMA peak, and the ratio.
# Usage: bench/gemm_table.sh [build/release/bin/bench_gemm] [extra benchmark flags]
set -euo pipefail
bin=${1:-build/release/bin/bench_gemm}
shift || true
"$bin" --benchmark_filter='square|stats' --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.5 "$@" 2>&1 | awk '
  /fma_peak_gflops_1_thread/ { p1 = $2 }
  /fma_peak_gflops_2_threads/ { p2 = $2 }
  /_median/ {
    split($1, f, "/"); shape = f[2]; thr = f[3]; impl = f[4]
    g = ""; pct = ""
    for (i = 2; i <= NF; ++i) {
      if ($i ~ /^GFLOPS=/) { g = $i; sub(/GFLOPS=/, "", g); sub(/\/s$/, "", g) }
      if ($i ~ /^pct_peak=/) { pct = $i; sub(/pct_peak=/, "", pct); sub(/\/s$/, "", pct) }
    }
    key = shape "|" thr
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    gf[key, impl] = g; pc[key, impl] = pct
  }
  END {
    printf "Measured fp32 FMA peak: %s GFLOP/s (1 thread), %s GFLOP/s (2 threads)\n\n", p1, p2
    print "| shape | threads | patternnet GFLOP/s | % peak | OpenBLAS GFLOP/s | % peak | ratio |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; ++i) {
      split(order[i], k, "|"); t = k[2]; sub(/threads:/, "", t)
      ob = gf[order[i], "openblas"]
      ratio = (ob != "" && ob > 0) ? sprintf("%.2f", gf[order[i], "pn"] / ob) : "n/a"
      printf "| %s | %s | %.1f | %.0f%% | %s | %s | %s |\n", k[1], t, gf[order[i], "pn"], pc[order[i], "pn"],
        (ob == "" ? "n/a" : sprintf("%.1f", ob)), (ob == "" ? "n/a" : sprintf("%.0f%%", pc[order[i], "openblas"])), ratio
    }
  }'
