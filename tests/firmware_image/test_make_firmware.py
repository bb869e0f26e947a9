"""`make firmware` on a machine without Docker or ESP-IDF stops with one clear line."""
import os
import subprocess

from .image_checks import IMAGE_DIR, REPO


def _make_firmware(**env_changes):
    env = {k: v for k, v in os.environ.items() if k != "IDF_PATH"}
    env["DOCKER"] = "/nonexistent/docker"  # as if no Docker engine were installed
    env.update(env_changes)
    return subprocess.run(["make", "-s", "firmware"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


def _messages(stderr):
    return [line for line in stderr.splitlines() if line.startswith("make firmware:")]


def test_without_docker_or_esp_idf_it_says_what_to_install():
    build_existed = (IMAGE_DIR / "build").exists()
    done = _make_firmware()
    assert done.returncode != 0
    messages = _messages(done.stderr)
    assert len(messages) == 1, done.stderr
    assert "Docker" in messages[0] and "IDF_PATH" in messages[0]
    assert "Traceback" not in done.stderr
    assert (IMAGE_DIR / "build").exists() == build_existed


def test_idf_path_without_esp_idf_is_reported(tmp_path):
    done = _make_firmware(IDF_PATH=str(tmp_path))
    assert done.returncode != 0
    messages = _messages(done.stderr)
    assert len(messages) == 1 and "export.sh" in messages[0], done.stderr
