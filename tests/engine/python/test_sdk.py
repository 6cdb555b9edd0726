# The Docker SDK for Python (Debian's python3-docker 5.0.3, API 1.41) against lcd-engine:
# containers (run, create, start, logs, exec_run, stats, wait, list, remove), images (pull from the
# tier's loopback registry, save and load, list, remove), volumes, networks (connect is not built:
# 501) and events. Every test removes what it made (the `garbage` fixture, conftest.py).
import io
import tarfile
import time

import docker
import pytest


def test_version_announces_api_1_41(client):
    v = client.version()
    assert v["ApiVersion"] == "1.41", v
    assert client.ping() is True


def test_run_returns_the_output_and_removes(client, busybox, unique):
    name = unique("run")
    out = client.containers.run(busybox, ["sh", "-c", "echo hello sdk; echo to-stderr >&2"],
                                name=name, remove=True)
    assert out == b"hello sdk\n"
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(name)


def test_run_nonzero_exit_raises_container_error(client, busybox, garbage, unique):
    name = unique("fail")
    with pytest.raises(docker.errors.ContainerError) as err:
        client.containers.run(busybox, ["sh", "-c", "echo bad >&2; exit 7"], name=name)
    garbage.container(client.containers.get(name))
    assert err.value.exit_status == 7
    assert b"bad" in err.value.stderr


def test_create_start_logs_wait_remove(client, busybox, garbage, unique):
    name = unique("life")
    c = garbage.container(client.containers.create(
        busybox, ["sh", "-c", "echo out; echo err >&2; exit 3"], name=name,
        labels={"lcd.test": name}, environment={"GREETING": "hi"}))
    c.reload()
    assert c.status == "created"
    assert c.name == name
    assert c.labels == {"lcd.test": name}
    assert "GREETING=hi" in c.attrs["Config"]["Env"]

    c.start()
    assert c.wait(timeout=60)["StatusCode"] == 3
    c.reload()
    assert c.status == "exited"
    assert c.attrs["State"]["ExitCode"] == 3
    assert c.logs(stdout=True, stderr=False) == b"out\n"
    assert c.logs(stdout=False, stderr=True) == b"err\n"
    assert sorted(c.logs().splitlines()) == [b"err", b"out"]
    stamped = c.logs(stdout=True, stderr=False, timestamps=True).decode()
    assert stamped.endswith(" out\n") and stamped[:4].isdigit(), stamped

    listed = client.containers.list(all=True, filters={"label": "lcd.test=" + name})
    assert [x.id for x in listed] == [c.id]
    assert client.containers.list(filters={"label": "lcd.test=" + name}) == []  # not running

    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_list_label_filters_must_all_match(client, busybox, garbage, unique):
    name = unique("labels")
    one = garbage.container(client.containers.create(busybox, ["true"], name=name + "-1",
                                                     labels={"lcd.test": name, "role": "one"}))
    two = garbage.container(client.containers.create(busybox, ["true"], name=name + "-2",
                                                     labels={"lcd.test": name, "role": "two"}))
    both = client.containers.list(all=True, filters={"label": "lcd.test=" + name})
    assert sorted(c.id for c in both) == sorted([one.id, two.id])
    # Several label filters: a container must carry every one (docker's rule; compose counts
    # a service's containers this way).
    only = client.containers.list(all=True, filters={"label": ["lcd.test=" + name, "role=one"]})
    assert [c.name for c in only] == [one.name]
    only = client.containers.list(all=True, filters={"label": ["lcd.test=" + name, "role"]})
    assert sorted(c.id for c in only) == sorted([one.id, two.id])
    none = client.containers.list(all=True, filters={"label": ["lcd.test=" + name, "role=3"]})
    assert none == []
    one.remove()
    two.remove()


def test_exec_run_and_stats_of_a_running_container(client, busybox, garbage, unique):
    c = garbage.container(client.containers.run(busybox, ["sleep", "300"], name=unique("exec"),
                                                detach=True))
    c.reload()
    assert c.status == "running"

    r = c.exec_run(["sh", "-c", "echo $((6*7)); echo e >&2"])
    assert r.exit_code == 0
    assert sorted(r.output.splitlines()) == [b"42", b"e"]
    r = c.exec_run(["sh", "-c", "exit 5"])
    assert r.exit_code == 5
    r = c.exec_run(["sh", "-c", "echo $FOO:$(pwd)"], environment={"FOO": "bar"}, workdir="/tmp")
    assert (r.exit_code, r.output) == (0, b"bar:/tmp\n")
    r = c.exec_run(["sh", "-c", "echo only-out; echo only-err >&2"], stderr=False)
    assert r.output == b"only-out\n"

    s = c.stats(stream=False)
    assert s["id"] == c.id
    assert s["name"] == "/" + c.name
    assert s["memory_stats"]["usage"] > 0, s["memory_stats"]
    assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0, s["cpu_stats"]
    assert s["pids_stats"]["current"] >= 1, s.get("pids_stats")

    assert [x.id for x in client.containers.list(filters={"id": c.id})] == [c.id]
    c.kill()
    assert c.wait(timeout=60)["StatusCode"] == 137
    c.remove()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_images_pull_list_remove(client, registry, garbage):
    repo = registry + "/pulltest"
    ref = repo + ":latest"
    try:
        client.images.get(ref)
        had = True
    except docker.errors.ImageNotFound:
        had = False
    if not had:
        garbage.image(ref)
    img = client.images.pull(repo, tag="latest")
    assert ref in img.tags, img.tags
    assert img.id.startswith("sha256:")
    assert ref in [t for i in client.images.list(name=repo) for t in i.tags]
    # The pulled image runs and holds its layer's file.
    out = client.containers.run(ref, ["cat", "/pulltest.txt"], remove=True)
    assert out == b"pulled\n"
    if not had:
        client.images.remove(ref)
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(ref)
        assert client.images.list(name=repo) == []


def test_images_save_load_remove(client, busybox, garbage, unique):
    tag = unique("load").lower() + ":v1"
    assert client.images.get(busybox).tag(tag)
    garbage.image(tag)
    data = b"".join(client.api.get_image(tag))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert "manifest.json" in tar.getnames()
    client.images.remove(tag)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)

    loaded = client.images.load(data)
    assert tag in [t for i in loaded for t in i.tags], [i.tags for i in loaded]
    assert tag in [t for i in client.images.list() for t in i.tags]
    assert client.containers.run(tag, ["echo", "loaded"], remove=True) == b"loaded\n"
    client.images.remove(tag)
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(tag)


def test_volumes_create_use_list_remove(client, busybox, garbage, unique):
    name = unique("vol")
    v = garbage.volume(client.volumes.create(name=name, driver="local",
                                             labels={"lcd.test": name}))
    assert v.name == name
    assert v.attrs["Driver"] == "local"
    assert v.attrs["Labels"] == {"lcd.test": name}
    assert v.attrs["Mountpoint"].endswith("/" + name + "/_data")
    assert [x.name for x in client.volumes.list(filters={"label": "lcd.test=" + name})] == [name]
    assert client.volumes.get(name).id == name

    mount = {name: {"bind": "/data", "mode": "rw"}}
    client.containers.run(busybox, ["sh", "-c", "echo kept > /data/f"], volumes=mount,
                          remove=True)
    assert client.containers.run(busybox, ["cat", "/data/f"], volumes=mount,
                                 remove=True) == b"kept\n"

    user = garbage.container(client.containers.create(busybox, ["true"], volumes=mount))
    with pytest.raises(docker.errors.APIError) as err:
        v.remove()
    assert err.value.status_code == 409, err.value
    user.remove()

    v.remove()
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get(name)
    assert client.volumes.list(filters={"label": "lcd.test=" + name}) == []


def test_networks_create_list_connect_remove(client, busybox, garbage, unique):
    name = unique("net")
    n = garbage.network(client.networks.create(name, driver="bridge",
                                               labels={"lcd.test": name}))
    assert n.name == name
    n.reload()
    assert n.attrs["Driver"] == "bridge"
    assert n.attrs["Labels"] == {"lcd.test": name}
    assert [x.id for x in client.networks.list(names=[name])] == [n.id]
    assert [x.id for x in client.networks.list(filters={"label": "lcd.test=" + name})] == [n.id]
    assert client.networks.get(name).id == n.id

    # Containers created on it are attached and find each other by name (/etc/hosts).
    server = garbage.container(client.containers.run(busybox, ["sleep", "300"],
                                                     name=unique("server"), network=name,
                                                     detach=True))
    server.reload()
    ep = server.attrs["NetworkSettings"]["Networks"][name]
    assert ep["IPAddress"], ep
    hosts = client.containers.run(busybox, ["cat", "/etc/hosts"], network=name,
                                  remove=True).decode()
    entries = [line.split() for line in hosts.splitlines() if not line.startswith("#")]
    assert [ep["IPAddress"], server.name, server.id[:12]] in entries, hosts

    # connect after create is not built: the engine answers 501 and says so.
    other = garbage.container(client.containers.create(busybox, ["true"], name=unique("other")))
    with pytest.raises(docker.errors.APIError) as err:
        n.connect(other)
    assert err.value.status_code == 501, err.value
    assert "connect" in str(err.value.explanation), err.value.explanation
    other.remove()
    server.remove(force=True)

    n.remove()
    with pytest.raises(docker.errors.NotFound):
        client.networks.get(n.id)
    assert client.networks.list(names=[name]) == []


def test_events_of_a_container_between_since_and_until(client, busybox, garbage, unique):
    since = int(time.time()) - 1
    c = garbage.container(client.containers.create(busybox, ["true"], name=unique("ev")))
    c.start()
    assert c.wait(timeout=60)["StatusCode"] == 0
    until = int(time.time()) + 1
    started = time.monotonic()
    events = list(client.events(since=since, until=until, decode=True,
                                filters={"container": c.id}))
    assert time.monotonic() - started < 30, "events with until did not end"
    actions = [e["Action"] for e in events if e.get("Type") == "container"]
    assert actions[:3] == ["create", "start", "die"], events
    for e in events:
        assert e["Actor"]["ID"] == c.id, e
        assert e["id"] == c.id, e
    die = [e for e in events if e["Action"] == "die"][0]
    assert die["Actor"]["Attributes"]["exitCode"] == "0", die
    assert die["Actor"]["Attributes"]["name"] == c.name, die
    assert die["Actor"]["Attributes"]["image"] == busybox, die
    assert since <= die["time"] <= until, die

    # Nothing of it before since.
    assert list(client.events(since=since - 60, until=since - 30, decode=True,
                              filters={"container": c.id})) == []
