"""How much of the board's flash a deploy takes, counted the way the board's filesystem
allocates it.

MicroPython formats an ESP32's flash as littlefs v2 with 4096-byte blocks and 32-byte read
and program sizes (extmod/vfs_lfs.c, ports/esp32), so:
- `os.statvfs` says (f_bsize, f_frsize, f_blocks, f_bfree, f_bavail, ...); the free space is
  f_frsize * f_bavail, in whole blocks;
- every folder is a metadata pair: 2 blocks;
- a file of at most INLINE_MAX bytes (the 128-byte cache) lives inside its folder's metadata
  and takes no block of its own;
- a longer file is a CTZ skip list: block n (n > 0) starts with ctz(n) + 1 four-byte pointers
  to earlier blocks, so a file takes a little more than size / block_size blocks.
A file being replaced is written to a temporary name first, so old and new copies both hold
their blocks until the rename.
"""
INLINE_MAX = 128
FOLDER_BLOCKS = 2
POINTER_BYTES = 4


def free_blocks(statvfs):
    """(block size, free blocks) from an os.statvfs tuple."""
    return statvfs[1], statvfs[4]


def file_blocks(size, block_size):
    """Blocks a file of `size` bytes takes on littlefs (0 for an inline file)."""
    if size <= INLINE_MAX:
        return 0
    blocks, room = 1, block_size
    while room < size:
        room += block_size - POINTER_BYTES * (_trailing_zeros(blocks) + 1)
        blocks += 1
    return blocks


def _trailing_zeros(number):
    return (number & -number).bit_length() - 1


def peak_blocks(steps, block_size):
    """The most blocks a copy holds beyond what is used now, at any moment of it.

    `steps`: [(new_folders, new_size, old_size or None)] in copy order: the folders a file
    needs are created, then the file is written complete beside its old copy, and only the
    rename frees the old copy's blocks.
    """
    held = peak = 0
    for new_folders, new_size, old_size in steps:
        held += FOLDER_BLOCKS * new_folders
        new = file_blocks(new_size, block_size)
        peak = max(peak, held + new)
        held += new - (file_blocks(old_size, block_size) if old_size is not None else 0)
    return peak
