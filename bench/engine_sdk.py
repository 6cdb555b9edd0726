#!/usr/bin/python3 -I
"""One sample of the SDK rows of bench/engine_bench.sh (issue 18), with the Docker SDK for Python.

Usage: engine_sdk.py SOCKET IMAGE NAME BRIDGE SUBNET PORT
       engine_sdk.py --steps FILE      (the medians of the steps recorded in FILE, see below)

up:   a client on unix://SOCKET (API version negotiated), a bridge network NAME (bridge BRIDGE,
      subnet SUBNET), then three containers of IMAGE run detached on it, one after the other:
      NAME-web (busybox httpd, published on 127.0.0.1:PORT), NAME-api (httpd, no published port)
      and NAME-worker (sleep); then polled until all three are running.
down: each container stopped (SIGTERM; sh leaves at once) and removed, then the network removed.

Prints one line, "UP_NS DOWN_NS": the time of each part, measured in this process (the
interpreter's start and `import docker` are not counted), and on stderr one line "steps {...}":
the time of each step in ns (client, network create, each run, the wait; each stop, each
remove, network remove), which the bench collects to explain its rows. Checks (not timed): three running
containers after up, and neither the containers nor the network after down. Exits 1 with a
message on stderr when anything fails; it then removes what it made.
"""

import json
import statistics
import sys
import time

import docker

SERVICES = [
    ("web", "trap 'exit 0' TERM; httpd -f -p 80 -h / & wait", True),
    ("api", "trap 'exit 0' TERM; httpd -f -p 8080 -h / & wait", False),
    ("worker", "trap 'exit 0' TERM; sleep 3600 & wait", False),
]


def fail(msg):
    print("bench/engine_sdk.py: error: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 7:
        fail("usage: engine_sdk.py SOCKET IMAGE NAME BRIDGE SUBNET PORT")
    socket, image, name, bridge, subnet, port = sys.argv[1:]
    steps = {}
    last = [0]

    def step(what):
        now = time.monotonic_ns()
        steps[what] = now - last[0]
        last[0] = now

    t0 = last[0] = time.monotonic_ns()
    client = docker.DockerClient(base_url="unix://" + socket, version="auto", timeout=60)
    step("up: client (version negotiated)")
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    network = client.networks.create(
        name, driver="bridge", options={"com.docker.network.bridge.name": bridge}, ipam=ipam
    )
    step("up: network create")
    containers = []
    for svc, cmd, published in SERVICES:
        containers.append(
            client.containers.run(
                image,
                ["sh", "-c", cmd],
                name="%s-%s" % (name, svc),
                detach=True,
                network=network.name,
                ports={"80/tcp": ("127.0.0.1", int(port))} if published else None,
            )
        )
        step("up: run %s (create, start, inspect)" % svc)
    deadline = time.monotonic() + 30
    pending = list(containers)
    while pending:
        for c in list(pending):
            c.reload()
            if c.status == "running":
                pending.remove(c)
            elif c.status in ("exited", "dead"):
                fail("container %s is %s, not running" % (c.name, c.status))
        if pending:
            if time.monotonic() > deadline:
                fail("not running after 30 s: " + ", ".join(c.name for c in pending))
            time.sleep(0.01)
    step("up: wait until running")
    t1 = time.monotonic_ns()

    running = client.containers.list(filters={"name": name + "-", "status": "running"})
    if len(running) != len(SERVICES):
        fail("%d containers named %s-* running after up, %d expected" % (len(running), name, len(SERVICES)))

    t2 = last[0] = time.monotonic_ns()
    for c in containers:
        svc = c.name[len(name) + 1 :]
        c.stop(timeout=10)
        step("down: stop %s" % svc)
        c.remove()
        step("down: remove %s" % svc)
    network.remove()
    step("down: network remove")
    t3 = time.monotonic_ns()

    left = client.containers.list(all=True, filters={"name": name + "-"})
    if left:
        fail("containers left after down: " + ", ".join(c.name for c in left))
    if client.networks.list(names=[name]):
        fail("network %s left after down" % name)
    print("steps " + json.dumps(steps), file=sys.stderr)
    print("%d %d" % (t1 - t0, t3 - t2))


def summary(path):
    """Prints 'step: median ms' for the steps lines in path, in their order."""
    samples = {}
    with open(path) as f:
        for line in f:
            if line.startswith("steps "):
                for k, v in json.loads(line[len("steps ") :]).items():
                    samples.setdefault(k, []).append(v)
    print("; ".join("%s %.1f ms" % (k, statistics.median(v) / 1e6) for k, v in samples.items()))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--steps":
        summary(sys.argv[2])
        sys.exit(0)
    try:
        main()
    except docker.errors.DockerException as e:
        # Best effort: leave nothing behind for the next sample (the bench's cleanup also runs).
        print("bench/engine_sdk.py: error: %s" % e, file=sys.stderr)
        try:
            client = docker.DockerClient(base_url="unix://" + sys.argv[1], version="auto")
            for c in client.containers.list(all=True, filters={"name": sys.argv[3] + "-"}):
                c.remove(force=True)
            for n in client.networks.list(names=[sys.argv[3]]):
                n.remove()
        except docker.errors.DockerException:
            pass
        sys.exit(1)
