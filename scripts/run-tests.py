#!/usr/bin/env python3
"""Builds the workspace's test binaries once and runs them several at a time.

Most integration tests wait on a control plane, a simulator or a node rather
than on the CPU, so running binaries side by side shortens the test command
without changing what any test does. Each binary runs in its package's
directory, as `cargo test` runs it; its whole output is printed in one block
when it ends, followed by a line naming it, its world and its time.

Usage: run-tests.py [--jobs N] [--live SUITE ...] [--older-bin DIR --older SUITE ...]
                    [-- CARGO_TEST_ARGS ...]
  --jobs N       binaries at a time (default: $MEETINGS_TEST_JOBS or 3)
  --live SUITE   run the integration test SUITE once more with
                 MEETINGS_SIM_WORLD=live (repeatable)
  --older-bin DIR, --older SUITE
                 run SUITE once more against the control plane of DIR
                 (MEETINGS_KUBE_BIN=DIR: the oldest Kubernetes supported)
Exits non-zero when a build or any binary fails.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed

# Suites known to take longest start first, so that they do not end last.
SLOW_FIRST = ["node", "chaos", "operator", "callbacks", "chart", "room_lifecycle", "health"]


def test_binaries(cargo_args):
    """(name, kind, executable, package dir) of every test binary cargo builds."""
    cmd = ["cargo", "test", "--workspace", "--all-targets", "--no-run",
           "--message-format=json-render-diagnostics", *cargo_args]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        sys.exit(f"run-tests: `{' '.join(cmd)}` failed ({proc.returncode})")
    found = []
    for line in proc.stdout.decode().splitlines():
        message = json.loads(line)
        if message.get("reason") != "compiler-artifact" or not message.get("executable"):
            continue
        if not message["profile"]["test"]:
            continue
        target = message["target"]
        found.append((target["name"], target["kind"][0], message["executable"],
                      os.path.dirname(message["manifest_path"])))
    return found


def order(job):
    name = job[0]
    return SLOW_FIRST.index(name) if name in SLOW_FIRST else len(SLOW_FIRST)


def run(job):
    name, kind, exe, cwd, world, kube_bin = job
    env = dict(os.environ, CARGO_MANIFEST_DIR=cwd)
    if world:
        env["MEETINGS_SIM_WORLD"] = world
    if kube_bin:
        env["MEETINGS_KUBE_BIN"] = kube_bin
    started = time.monotonic()
    proc = subprocess.run([exe], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    return job, proc.returncode, proc.stdout.decode(errors="replace"), time.monotonic() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MEETINGS_TEST_JOBS", "3")))
    parser.add_argument("--live", action="append", default=[])
    parser.add_argument("--older-bin")
    parser.add_argument("--older", action="append", default=[])
    parser.add_argument("cargo_args", nargs="*")
    args = parser.parse_args()

    binaries = test_binaries(args.cargo_args)
    names = {name for name, _, _, _ in binaries}
    unknown = [suite for suite in args.live + args.older if suite not in names]
    if unknown:
        sys.exit(f"run-tests: no test binary named {', '.join(unknown)}")
    if args.older and not args.older_bin:
        sys.exit("run-tests: --older needs --older-bin")
    jobs = [(name, kind, exe, cwd, None, None) for name, kind, exe, cwd in binaries]
    jobs += [(name, kind, exe, cwd, "live", None) for name, kind, exe, cwd in binaries
             if kind == "test" and name in args.live]
    jobs += [(name, kind, exe, cwd, None, args.older_bin) for name, kind, exe, cwd in binaries
             if kind == "test" and name in args.older]
    jobs.sort(key=order)

    failed = []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for future in as_completed([pool.submit(run, job) for job in jobs]):
            (name, kind, exe, _, world, kube_bin), code, output, took = future.result()
            kube = f", Kubernetes in {kube_bin}" if kube_bin else ""
            label = f"{name} ({kind}, {world or 'spec'} world{kube})"
            print(output, end="" if output.endswith("\n") else "\n")
            verdict = "ok" if code == 0 else f"FAILED (exit {code})"
            print(f"==> {label}: {verdict} in {took:.1f}s [{os.path.relpath(exe)}]\n", flush=True)
            if code != 0:
                failed.append(label)
    print(f"run-tests: {len(jobs)} binaries in {time.monotonic() - started:.0f}s, "
          f"{args.jobs} at a time; {len(failed)} failed", flush=True)
    for label in failed:
        print(f"run-tests: FAILED {label}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
