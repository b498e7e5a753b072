"""Shared fixtures: every test starts from the default config."""

import copy
import signal

import pytest

import shoal

# A shell that starts a job in the background starts it with SIGINT ignored;
# Python then has no KeyboardInterrupt handler and the Ctrl-C tests (here and
# in the processes they start) could not pass. Ctrl-C raises, as in a terminal.
if signal.getsignal(signal.SIGINT) in (signal.SIG_IGN, None):
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _fresh_config():
    saved = copy.deepcopy(shoal.config.config)
    yield
    shoal.config.config.clear()
    shoal.config.config.update(saved)
    # a module imported during the test may have added defaults: keep them
    shoal.config.update_defaults({})


# ------------------------------------------------ the test matrix on an engine
#
# ``pytest --backend=ray`` (or ``--backend=dask``) runs every computation that
# does not name its scheduler on that engine: ``compute()`` through config
# ``scheduler``, and ``shoal.testing.assert_eq`` (which computes with the sync
# scheduler otherwise). Ray starts once per session with ``ray.init(num_cpus=2)``;
# dask gets an in-process Client with two threads. Tests that pass
# ``scheduler="sync"`` (or another) keep it.


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=("ray", "dask"),
        default=None,
        help="compute the tests' collections on Ray or on a dask.distributed Client",
    )


def _ship_test_modules_by_value(pickler_module) -> None:
    """Functions of test modules cannot be imported on Ray's workers: pickle them by value."""
    import sys
    from pathlib import Path

    tests_dir = Path(__file__).resolve().parent
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).resolve().is_relative_to(tests_dir):
            try:
                pickler_module.register_pickle_by_value(module)
            except ValueError:  # already registered
                pass


@pytest.fixture(scope="session", autouse=True)
def _engine_backend(request):
    name = request.config.getoption("--backend")
    if name is None:
        yield None
        return
    import shoal.testing

    patch = pytest.MonkeyPatch()
    if name == "ray":
        ray = pytest.importorskip("ray", reason="--backend=ray needs the ray extra")
        from shoal.backends import RayBackend

        started = not ray.is_initialized()
        if started:
            ray.init(num_cpus=2, include_dashboard=False)
        backend = RayBackend()
    else:
        distributed = pytest.importorskip("distributed", reason="--backend=dask needs dask")
        from shoal.backends import DaskBackend

        client = distributed.Client(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        )
        backend = DaskBackend(client)
    # by name: every test deep-copies the config, and a dask Client cannot be copied
    from shoal.core.base import register_scheduler

    register_scheduler("test-engine", backend.get)
    saved = shoal.config.get("scheduler", None)
    shoal.config.config["scheduler"] = "test-engine"
    patch.setattr(shoal.testing, "get_sync", lambda graph, keys, **kw: backend.get(graph, keys))
    try:
        yield backend
    finally:
        patch.undo()
        shoal.config.config["scheduler"] = saved
        if name == "ray":
            if started:
                ray.shutdown()
        else:
            client.close()


@pytest.fixture(autouse=True)
def _engine_pickles_test_code(_engine_backend):
    if _engine_backend is not None and type(_engine_backend).__name__ == "RayBackend":
        import ray.cloudpickle

        _ship_test_modules_by_value(ray.cloudpickle)
    yield
