#!/usr/bin/env python3
"""Smoke run of one duplex-bench scenario against the real daemon.

  smoke.py SCENARIO    (env: DUPLEX_BIN, DUPLEX_BENCH_BIN)

Starts DUPLEX_BIN on ephemeral loopback ports (parsing its stderr lines
"listening <kind> 127.0.0.1:<port>"), runs a seconds-long bench scenario and
checks the result line: every client connected, and for QoS > 0 nothing lost
or duplicated. Exit 0 pass, 1 fail.

overload (QoS 1, the subscriber consumes at most --sub-rate msgs/s): the
broker must hold the publisher back instead of dropping. Asserted on the
bench's figures (every message delivered once: lost 0, duplicates 0,
delivered == published == --count; elapsed at least --count / --sub-rate, so
the subscriber really was the bottleneck; duplex-bench's exit status) and on
the broker's own report: its debug log says "holding back publisher" when a
subscriber's queue passes its limit and "congestion cleared, reading again"
when it drained.
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
    # mqtts with a self-signed certificate made for the run (openssl CLI).
    "throughput-tls-q1": ("throughput", "mqtts", ["--qos", "1", "--count", "3000", "--subscribers", "2"]),
    "connections-tls": ("connections", "mqtts", ["--connections", "200", "--hold", "0.5"]),
}


def overload_problems(res, args, err):
    """What shows that the broker held the QoS 1 publisher back and lost
    nothing (see the module docstring)."""
    problems = []
    count = int(args[args.index("--count") + 1])
    sub_rate = float(args[args.index("--sub-rate") + 1])
    if res["qos"] != 1:
        problems.append(f"overload ran at QoS {res['qos']}, not 1")
    if res["lost"]:
        problems.append(f"the broker lost {res['lost']} QoS 1 messages under overload")
    if not (res["published"] == count and res["delivered"] == res["expected"] == count):
        problems.append(f"published {res['published']}, delivered {res['delivered']} of "
                        f"{res['expected']} expected, --count {count}")
    if res["end"] != "complete":
        problems.append(f"the run ended by {res['end']}, not complete")
    floor = 0.9 * count / sub_rate  # 10 % slack for the bench's pacing granularity
    if res["elapsed_s"] < floor:
        problems.append(f"elapsed {res['elapsed_s']:.3f} s < {floor:.3f} s: the subscriber "
                        "was not the bottleneck, so nothing was overloaded")
    err.seek(0)
    log = err.read()
    held = len(re.findall(r"holding back publisher, \d+ subscriber\(s\) congested", log))
    resumed = len(re.findall(r"congestion cleared, reading again", log))
    if held == 0:
        problems.append("the broker never logged \"holding back publisher\": the publisher was not paused")
    elif resumed == 0:
        problems.append(f"held back {held} time(s) but never \"congestion cleared\"")
    print(f"overload: publisher held back {held} time(s), resumed {resumed} time(s)")
    return problems


def main():
    name = sys.argv[1]
    scenario, scheme, args = SMALL[name]
    duplex, bench = os.environ.get("DUPLEX_BIN"), os.environ.get("DUPLEX_BENCH_BIN")
    if not duplex or not bench:
        print("FAIL: DUPLEX_BIN and DUPLEX_BENCH_BIN must be set (meson sets both)")
        return 1
    err = tempfile.TemporaryFile(mode="w+")
    # overload: debug level for the broker's "holding back publisher" lines
    # (a handful of lines per run, not one per message).
    log_args = ["--log-level", "debug"] if scenario == "overload" else []
    certdir = tempfile.TemporaryDirectory(prefix="duplex-smoke-tls-")
    if scheme == "mqtts":
        cert, key = os.path.join(certdir.name, "cert.pem"), os.path.join(certdir.name, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        log_args += ["--mqtts", "127.0.0.1:0", "--tls-cert-file", cert, "--tls-key-file", key]
    proc = subprocess.Popen([duplex, "--ws", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--stomp", "127.0.0.1:0"]
                            + log_args,
                            stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        ports = {}
        end = time.time() + 10
        while time.time() < end and proc.poll() is None:
            err.seek(0)
            text = err.read()
            ports = {m.group(1): int(m.group(2)) for m in re.finditer(r"listening (\w+) 127\.0\.0\.1:(\d+)", text)}
            if "ws" in ports and "mqtt" in ports and "stomp" in ports and (scheme != "mqtts" or "mqtts" in ports):
                break
            time.sleep(0.05)
        need = {"mqtt": "mqtt", "ws": "ws", "stomp": "stomp", "ws+stomp": "ws", "mqtts": "mqtts"}[scheme]
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
        if res["qos"] > 0 and (res["lost"] or res["duplicates"]):
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
        if scenario == "overload":
            problems += overload_problems(res, args, err)
        if r.returncode != 0 and not problems:
            problems.append(f"duplex-bench exited {r.returncode}")
        if problems:
            print("FAIL: " + "; ".join(problems))
            return 1
        print("PASS")
        return 0
    finally:
        certdir.cleanup()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    sys.exit(main())
