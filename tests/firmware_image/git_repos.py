"""Local git repositories standing in for the upstream ones on GitHub."""
import os
import subprocess

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo, *args):
    env = dict(os.environ, **GIT_ENV)
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def repository(path, files, tag=None):
    """A local repository with `files`; returns (file:// URL, commit)."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    git(path, "config", "uploadpack.allowAnySHA1InWant", "true")
    for name, content in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "stand-in")
    if tag:
        git(path, "tag", tag)
    return "file://%s" % path, git(path, "rev-parse", "HEAD")
