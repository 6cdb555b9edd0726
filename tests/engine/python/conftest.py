# Fixtures of the Docker SDK suite (tests/engine/clients_test.cc runs it against the engine tier's
# lcd-engine): the client from the environment (DOCKER_HOST), the image and registry given by the
# test (LCD_TEST_BUSYBOX, LCD_TEST_REGISTRY), unique names, and the guards that remove what a test
# made even when it fails.
import os

import docker
import pytest


def _required(var):
    value = os.environ.get(var, "")
    if not value:
        pytest.fail(var + " is not set: run this suite through engine_tests "
                    "(--gtest_filter='*Client*'), which starts lcd-engine and its registry")
    return value


@pytest.fixture(scope="session")
def client():
    _required("DOCKER_HOST")
    c = docker.from_env(version="1.41", timeout=120)
    yield c
    c.close()


@pytest.fixture(scope="session")
def busybox():
    return _required("LCD_TEST_BUSYBOX")


@pytest.fixture(scope="session")
def registry():
    return _required("LCD_TEST_REGISTRY")


_counter = [0]


@pytest.fixture
def unique(request):
    """unique("what") -> a name no other test of this run uses."""

    def make(what):
        _counter[0] += 1
        return "sdk%d-%s-%s-%d" % (os.getpid(), request.node.name.replace("_", "-")[:20], what,
                                   _counter[0])

    return make


class Garbage:
    """What a test made, removed at its end (containers first, then networks, volumes, images)."""

    def __init__(self, client):
        self.client = client
        self.containers, self.networks, self.volumes, self.images = [], [], [], []

    def container(self, c):
        self.containers.append(c)
        return c

    def network(self, n):
        self.networks.append(n)
        return n

    def volume(self, v):
        self.volumes.append(v)
        return v

    def image(self, ref):
        self.images.append(ref)
        return ref

    def clean(self):
        errors = []

        def attempt(fn):
            try:
                fn()
            except docker.errors.NotFound:
                pass
            except Exception as e:  # noqa: BLE001 - reported after everything was tried
                errors.append(repr(e))

        for c in self.containers:
            attempt(lambda c=c: c.remove(force=True, v=True))
        for n in self.networks:
            attempt(n.remove)
        for v in self.volumes:
            attempt(lambda v=v: v.remove(force=True))
        for ref in self.images:
            attempt(lambda ref=ref: self.client.images.remove(ref, force=True))
        return errors


@pytest.fixture
def garbage(client):
    g = Garbage(client)
    yield g
    errors = g.clean()
    assert not errors, "cleanup failed: " + "; ".join(errors)
