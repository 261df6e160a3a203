#!/usr/bin/env python3
"""Smoke run of one duplex-bench scenario against the real daemon.

  smoke.py SCENARIO    (env: DUPLEX_BIN, DUPLEX_BENCH_BIN)

Starts DUPLEX_BIN on ephemeral loopback ports (parsing its stderr lines
"listening <kind> 127.0.0.1:<port>"), runs a seconds-long bench scenario and
checks the result line: every client connected, and for QoS > 0 nothing lost
or duplicated. Exit 0 pass, 1 fail, 77 skip.

Two exceptions, because these smoke runs check the tool, while the broker's
targets are measured by tools/bench/compare, not asserted in tests:
  - overload: loss is printed as a warning (a broker that drops QoS 1
    messages past its queue limit is a finding for compare, not a broken tool);
  - stomp-*: skipped (77) when the daemon refuses every STOMP connection, i.e.
    it has no STOMP support yet.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

SMALL = {
    "throughput-tcp-q0": ("throughput", "mqtt", ["--qos", "0", "--count", "3000"]),
    "throughput-ws-q1": ("throughput", "ws", ["--qos", "1", "--count", "3000", "--subscribers", "2"]),
    "throughput-ws-q2": ("throughput", "ws", ["--qos", "2", "--count", "2000"]),
    "fanout-ws": ("fanout", "ws", ["--qos", "1", "--subscribers", "20", "--count", "200"]),
    "latency-ws": ("latency", "ws", ["--qos", "0", "--rate", "1000", "--duration", "1"]),
    "connections-ws": ("connections", "ws", ["--connections", "200", "--hold", "0.5"]),
    "connections-tcp": ("connections", "mqtt", ["--connections", "200", "--hold", "0.5"]),
    "overload-ws": ("overload", "ws", ["--count", "3000", "--sub-rate", "3000"]),
    "stomp-tcp": ("throughput", "stomp", ["--qos", "1", "--count", "2000"]),
    "stomp-ws": ("throughput", "ws+stomp", ["--qos", "0", "--count", "2000", "--subscribers", "2"]),
}


def main():
    name = sys.argv[1]
    scenario, scheme, args = SMALL[name]
    duplex, bench = os.environ.get("DUPLEX_BIN"), os.environ.get("DUPLEX_BENCH_BIN")
    if not duplex or not bench:
        print("DUPLEX_BIN and DUPLEX_BENCH_BIN must be set")
        return 77
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([duplex, "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--stomp", "127.0.0.1:0"],
                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        ports = {}
        end = time.time() + 10
        while time.time() < end and proc.poll() is None:
            err.seek(0)
            text = err.read()
            ports = {m.group(1): int(m.group(2)) for m in re.finditer(r"listening (\w+) 127\.0\.0\.1:(\d+)", text)}
            if "ws" in ports and "mqtt" in ports and "stomp" in ports:
                break
            time.sleep(0.05)
        need = {"mqtt": "mqtt", "ws": "ws", "stomp": "stomp", "ws+stomp": "ws"}[scheme]
        if need not in ports:
            err.seek(0)
            print("daemon did not report its ports:\n" + err.read())
            return 1
        path = "/stomp" if scheme == "ws+stomp" else "/mqtt" if scheme == "ws" else ""
        url = f"{scheme}://127.0.0.1:{ports[need]}{path}"
        argv = [bench, scenario, "--url", url, "--broker-pid", str(proc.pid), "--label", "duplex",
                "--time-limit", "20", "--drain", "2"] + args
        print(" ".join(argv))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=50)
        print(r.stdout)
        print(r.stderr)
        line = next((l for l in r.stdout.splitlines() if l.startswith('{"scenario"')), None)
        if not line:
            print("FAIL: no result line")
            return 1
        res = json.loads(line)
        problems = []
        if res["connected"] != res["clients"]:
            problems.append(f"{res['connected']}/{res['clients']} connected: {res['error']}")
        if scenario == "overload" and res["lost"]:
            print(f"WARN: the broker lost {res['lost']} QoS {res['qos']} messages under overload")
        elif res["qos"] > 0 and (res["lost"] or res["duplicates"]):
            problems.append(f"lost {res['lost']}, duplicates {res['duplicates']} at QoS {res['qos']}")
        if res["duplicates"]:
            problems.append(f"{res['duplicates']} duplicates")
        if scenario == "connections" and res["delivered"] != res["subscribers"]:
            problems.append(f"publish reached {res['delivered']} of {res['subscribers']}")
        if res["delivered"] == 0:
            problems.append("nothing delivered")
        if scenario == "latency" and res["lat_us"]["n"] == 0:
            problems.append("no latency samples")
        if res["broker_cpu_s"] < 0 or res["broker_rss_connected_kib"] <= 0:
            problems.append("broker /proc sampling failed")
        if r.returncode != 0 and not problems and scenario != "overload":
            problems.append(f"duplex-bench exited {r.returncode}")
        if name.startswith("stomp") and res["connected"] == 0:
            print(f"SKIP: the daemon refused every STOMP connection ({res['error']}): no STOMP support yet?")
            return 77
        if problems:
            print("FAIL: " + "; ".join(problems))
            return 1
        print("PASS")
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
