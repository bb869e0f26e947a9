"""Atomic file and folder writes: a reader sees the old content or the new, never half of it."""
import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from host_tools.errors import SmartbinError


def _make_folder(folder):
    """Create `folder` (and its parents), or say in one line why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        in_the_way = next((p for p in [folder, *folder.parents] if p.is_file()), folder)
        raise SmartbinError("cannot write into %s: %s is a file, not a folder"
                            % (folder, in_the_way)) from None
    except OSError as error:
        raise SmartbinError("cannot create folder %s: %s"
                            % (folder, error.strerror or error)) from None


def _temporary(make, final_path, suffix):
    try:
        return make(prefix="." + final_path.name + ".", suffix=suffix + ".part",
                    dir=final_path.parent)
    except OSError as error:
        raise SmartbinError("cannot write in %s: %s"
                            % (final_path.parent, error.strerror or error)) from None


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(final_path, suffix=""):
    """Yield a temporary path beside `final_path`; rename it over `final_path` on success.

    On any exception the temporary file is removed and `final_path` is untouched.
    """
    final_path = Path(final_path)
    if final_path.is_dir():
        raise SmartbinError("cannot write %s: it is a folder; give a file name" % final_path)
    _make_folder(final_path.parent)
    fd, tmp_name = _temporary(tempfile.mkstemp, final_path, suffix)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    os.chmod(tmp_name, 0o666 & ~_current_umask())
    tmp_path = Path(tmp_name)
    try:
        yield tmp_path
        os.replace(tmp_path, final_path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path, data):
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp_path:
        with open(tmp_path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def write_text(path, text):
    """Write `text` (UTF-8) to `path` atomically."""
    write_bytes(path, text.encode("utf-8"))


def refuse_file_in_the_way(folder):
    """Raise SmartbinError when `folder`, a folder to be written, is a file (which a
    folder swapped in would destroy)."""
    folder = Path(folder)
    if (folder.exists() or folder.is_symlink()) and not folder.is_dir():
        raise SmartbinError("%s is a file, not a folder: give a folder to write into (the "
                            "file is left as it is)" % folder)


@contextlib.contextmanager
def atomic_dir(final_dir):
    """Yield a temporary folder beside `final_dir`; swap it in for `final_dir` on success.

    The previous folder, if any, is replaced only after everything was written.
    """
    final_dir = Path(final_dir)
    refuse_file_in_the_way(final_dir)
    _make_folder(final_dir.parent)
    tmp_dir = Path(_temporary(tempfile.mkdtemp, final_dir, ""))
    os.chmod(tmp_dir, 0o777 & ~_current_umask())
    try:
        yield tmp_dir
        if final_dir.exists():
            old_dir = final_dir.with_name("." + final_dir.name + ".old")
            if old_dir.exists():
                shutil.rmtree(old_dir)
            os.replace(final_dir, old_dir)
            try:
                os.replace(tmp_dir, final_dir)
            except OSError:
                os.replace(old_dir, final_dir)  # the old folder goes back where it was
                raise
            shutil.rmtree(old_dir, ignore_errors=True)
        else:
            os.replace(tmp_dir, final_dir)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _move_in(staging, folder, owned):
    """Move every file of `staging` into `folder`, and the `owned` names it lacks out of it,
    undoing every move if one fails: `folder` ends with the whole new set or the old one."""
    new_names = {path.name for path in staging.iterdir()}
    previous = staging.with_name(staging.name + ".previous")
    previous.mkdir()
    moves = []  # (from, to), undone in reverse on failure
    try:
        for name in sorted(new_names | set(owned)):
            target = folder / name
            if target.exists() or target.is_symlink():
                os.replace(target, previous / name)
                moves.append((target, previous / name))
            if name in new_names:
                os.replace(staging / name, target)
                moves.append((staging / name, target))
    except OSError:
        try:
            for source, moved_to in reversed(moves):
                os.replace(moved_to, source)
        except OSError as error:
            raise SmartbinError("cannot put the old files back into %s (%s): they are in %s"
                                % (folder, error.strerror or error, previous)) from None
        shutil.rmtree(previous, ignore_errors=True)
        raise
    shutil.rmtree(previous, ignore_errors=True)


@contextlib.contextmanager
def atomic_files(folder, owned=()):
    """Yield a temporary folder beside `folder`; on success, move the files written there
    into `folder` as one set.

    Names in `owned` that the new set lacks are removed from `folder` too, so it holds the
    whole new set or the whole old one, never a mix; its other files are never touched.
    On any failure, while writing or while moving in, `folder` is left as it was and the
    temporary folder is removed. (A folder swap would not do: the set shares its folder
    with files it does not own, such as a model beside its report.)
    """
    folder = Path(folder)
    _make_folder(folder.parent)
    # beside the folder, on its file system (absolute: "." has no name to put it beside)
    staging = Path(_temporary(tempfile.mkdtemp, Path(os.path.abspath(folder)), ""))
    try:
        try:
            yield staging
            if folder.is_dir():
                _move_in(staging, folder, owned)
            elif folder.exists():
                raise SmartbinError("cannot write into %s: it is a file, not a folder" % folder)
            else:  # nothing there yet: the whole folder appears at once
                os.chmod(staging, 0o777 & ~_current_umask())
                os.replace(staging, folder)
        except OSError as error:
            raise SmartbinError("cannot write into %s: %s; it is left as it was"
                                % (folder, error.strerror or error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
