"""config: defaults, environment, YAML files, set/restore, threads, unknown keys."""

import json
import os
import subprocess
import sys
import threading
import time

import pytest

import shoal
from shoal.core import config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def restore_sources():
    """Rebuild the settings from the real environment after a refresh test."""
    yield
    config.refresh()


def test_defaults_are_documented():
    paths = [p for p in config._all_paths(config.DEFAULTS)]
    leaves = [p for p in paths if not isinstance(config.get(p), dict)]
    missing = [p for p in leaves if p not in config.DOCS]
    assert missing == [], f"settings without docs: {missing}"
    assert config.get("optimization.fuse.active") is True
    assert config.get("optimization.fuse.max-length") == 10_000
    assert config.get("scheduler") is None
    assert shoal.config.get is config.get


def test_get_spellings_and_defaults():
    assert config.get("optimization.fuse.max_length") == config.get("optimization.fuse.max-length")
    assert config.get("OPTIMIZATION.FUSE.ACTIVE") is True
    assert config.get("no.such.key", 5) == 5
    assert config.get("optimization.fuse.nothing", None) is None
    with pytest.raises(KeyError, match="unknown shoal config key"):
        config.get("no.such.key")


def test_environment_variables(restore_sources):
    config.refresh(
        environ={
            "SHOAL_OPTIMIZATION__FUSE__MAX_LENGTH": "25",
            "SHOAL_OPTIMIZATION__FUSE__ACTIVE": "false",
            "SHOAL_SCHEDULER": "sync",
            "SHOAL_ARRAY__CHUNK_SIZE": "64MiB",
            "SHOAL_CONFIG": "/nonexistent",
            "OTHER": "ignored",
        }
    )
    assert config.get("optimization.fuse.max-length") == 25
    assert config.get("optimization.fuse.active") is False
    assert config.get("scheduler") == "sync"
    assert config.get("array.chunk-size") == "64MiB"
    # untouched settings keep their defaults
    assert config.get("tokenize.ensure-deterministic") is False
    config.refresh(environ={})
    assert config.get("optimization.fuse.max-length") == 10_000


def test_environment_in_a_fresh_process(tmp_path):
    code = (
        "import json, shoal; print(json.dumps([shoal.config.get('num-workers'), "
        "shoal.config.get('scheduler'), shoal.config.get('diagnostics.progress-interval')]))"
    )
    env = dict(
        os.environ,
        SHOAL_NUM_WORKERS="3",
        SHOAL_SCHEDULER="processes",
        SHOAL_CONFIG=str(tmp_path),  # an empty directory: no files
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    assert json.loads(out.stdout) == [3, "processes", 0.1]


def test_yaml_files_in_the_config_directory(tmp_path, restore_sources):
    (tmp_path / "a.yaml").write_text(
        "shoal:\n  optimization:\n    fuse:\n      max-length: 77\n  array:\n    chunk_size: 1MiB\n"
    )
    (tmp_path / "b.yml").write_text("scheduler: threads\nnum-workers: 2\n")
    (tmp_path / "notes.txt").write_text("scheduler: nonsense\n")
    config.refresh(environ={"SHOAL_CONFIG": str(tmp_path)})
    # SHOAL_CONFIG is read from the real environment: point it there
    os.environ["SHOAL_CONFIG"] = str(tmp_path)
    try:
        config.refresh(environ={"SHOAL_NUM_WORKERS": "5"})
        assert config.get("optimization.fuse.max-length") == 77
        assert config.get("array.chunk-size") == "1MiB"
        assert config.get("scheduler") == "threads"
        assert config.get("num-workers") == 5  # the environment beats files
        assert config.get("optimization.fuse.active") is True
        (tmp_path / "c.yaml").write_text("- not\n- a mapping\n")
        with pytest.raises(ValueError, match="must hold a mapping"):
            config.refresh(environ={})
    finally:
        del os.environ["SHOAL_CONFIG"]


def test_yaml_file_read_in_a_fresh_process(tmp_path):
    (tmp_path / "shoal.yaml").write_text("optimization:\n  fuse:\n    max-length: 12\n")
    code = "import shoal; print(shoal.config.get('optimization.fuse.max-length'))"
    env = dict(os.environ, SHOAL_CONFIG=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-P", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    assert out.stdout.strip() == "12"


def test_set_as_context_manager_restores():
    before = config.get("optimization.fuse.max-length")
    with config.set({"optimization.fuse.max-length": 3}, scheduler="sync"):
        assert config.get("optimization.fuse.max-length") == 3
        assert config.get("scheduler") == "sync"
        with config.set(optimization__fuse__max_length=4):
            assert config.get("optimization.fuse.max-length") == 4
        assert config.get("optimization.fuse.max-length") == 3
    assert config.get("optimization.fuse.max-length") == before
    assert config.get("scheduler") is None


def test_set_restores_after_an_exception():
    with pytest.raises(RuntimeError):
        with config.set(scheduler="sync"):
            raise RuntimeError("inside")
    assert config.get("scheduler") is None


def test_set_without_with_block_stays():
    config.set(scheduler="threads")  # the conftest fixture restores defaults afterwards
    assert config.get("scheduler") == "threads"


def test_set_affects_computations():
    d = shoal.delayed(lambda: 1)()
    with config.set(scheduler="not-a-backend"):
        with pytest.raises(ValueError, match="not-a-backend"):
            d.compute()
    assert d.compute() == 1


def test_unknown_keys_suggest_close_names():
    with pytest.raises(KeyError, match="did you mean 'optimization.fuse.max-length'"):
        config.set({"optimization.fuse.max-lenght": 3})
    with pytest.raises(KeyError, match="did you mean 'scheduler'"):
        config.set(schedular="sync")
    with pytest.raises(KeyError, match="unknown shoal config key 'zzzzzz'"):
        config.set(zzzzzz=1)
    with pytest.raises(KeyError, match="schedular"):
        config.set(scheduler="sync", schedular="sync")
    # nothing was changed by the failed calls
    assert config.get("scheduler") is None
    assert config.get("optimization.fuse.max-length") == 10_000


def test_update_defaults_adds_documented_settings():
    config.update_defaults(
        {"testroom": {"answer": 42, "nested": {"flag": True}}},
        {"testroom.answer": "The answer.", "testroom.nested.flag": "A flag."},
    )
    assert config.get("testroom.answer") == 42
    with config.set({"testroom.nested.flag": False}):
        assert config.get("testroom.nested.flag") is False
        config.update_defaults({"testroom": {"nested": {"other": 1}}})
        assert config.get("testroom.nested.flag") is False  # a user's value is kept
    assert config.get("testroom.nested.flag") is True
    assert config.DOCS["testroom.answer"] == "The answer."


def test_concurrent_sets_in_threads_restore_everything():
    """Threads set and restore overlapping keys at random; at the end every
    value is back, and no reader ever saw a value nobody set."""
    errors: list = []
    allowed = {None} | {f"t{i}" for i in range(8)}
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        for n in range(300):
            with config.set(scheduler=f"t{i}", num_workers=i + n):
                time.sleep(0)  # let other threads in while this block is open
                value = config.get("scheduler")
                if value not in allowed:
                    errors.append(value)
                with config.set({"optimization.fuse.max-length": i + 1}):
                    config.get("optimization.fuse.max-length")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert config.get("scheduler") is None
    assert config.get("num-workers") is None
    assert config.get("optimization.fuse.max-length") == 10_000


def test_a_section_is_returned_as_a_copy():
    section = config.get("optimization")
    before = config.get("optimization.fuse.max-length")
    section["fuse"]["max-length"] = before + 1
    section["new-key"] = 1
    assert config.get("optimization.fuse.max-length") == before
    assert "new-key" not in config.get("optimization")
