#!/usr/bin/python3
"""securesystemslib's side of TufBench, on the files TufBench generated.

    securesystemslib_bench.py time FILE ITERATIONS WARMUP
    securesystemslib_bench.py memory FILE

Operations (every one starts from the file's bytes in memory):
  canonicalize        encode_canonical of the signed part of a document parsed beforehand, as UTF-8 bytes
  parse+canonicalize  json.loads of the whole document, then the same
Prints one JSON line in TufBench's result shape (wall-clock and process CPU milliseconds). memory: one parse+canonicalize in a fresh process,
VmHWM as the peak.
"""
import gc
import json
import os
import sys
import time

from securesystemslib.formats import encode_canonical


def canonical_bytes(signed):
    return encode_canonical(signed).encode("utf-8")


def measure(iterations, warmup, action):
    # The same warm-up rule as the other implementations: at least WARMUP runs and one second.
    started, done = time.perf_counter(), 0
    while done < warmup or time.perf_counter() - started < 1.0:
        action()
        done += 1
    wall, cpu = [], []
    for _ in range(iterations):
        gc.collect()
        cpu_start = time.process_time()
        start = time.perf_counter()
        action()
        wall.append(round((time.perf_counter() - start) * 1000, 3))
        cpu.append(round((time.process_time() - cpu_start) * 1000, 3))
    return wall, cpu


def peak_rss_bytes():
    # VmHWM of this process's own memory: ru_maxrss would carry the parent's peak over from fork.
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        data = f.read()
    result = {"impl": "securesystemslib", "workload": os.path.splitext(os.path.basename(path))[0], "file_bytes": len(data)}
    if mode == "time":
        iterations, warmup = int(sys.argv[3]), int(sys.argv[4])
        signed = json.loads(data)["signed"]
        ops = {
            "canonicalize": measure(iterations, warmup, lambda: canonical_bytes(signed)),
            "parse+canonicalize": measure(iterations, warmup, lambda: canonical_bytes(json.loads(data)["signed"])),
        }
        result["ops_ms"] = {op: samples[0] for op, samples in ops.items()}
        result["ops_cpu_ms"] = {op: samples[1] for op, samples in ops.items()}
    else:
        baseline = peak_rss_bytes()
        canonical_bytes(json.loads(data)["signed"])
        result["ops_ms"] = {}
        result["peak_rss_bytes"] = peak_rss_bytes()
        result["baseline_rss_bytes"] = baseline
    print(json.dumps(result))


if __name__ == "__main__":
    main()
