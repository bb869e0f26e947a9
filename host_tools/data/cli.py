"""`smartbin data ...`: get, check, inspect and split images. A thin shell over the library
modules of this package; it owns the progress bars and the output formats."""
import contextlib
import json
import sys

from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.progress import ProgressBars


def configure(parser):
    """Add the `data` sub-subcommands to the `data` parser."""
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True

    trashnet = actions.add_parser(
        "trashnet", help="download TrashNet (or import a local copy) into class folders")
    trashnet.add_argument("--dest", default="data/trashnet",
                          help="folder to create (default: %(default)s)")
    trashnet.add_argument("--from", dest="source", metavar="LOCAL_DIR",
                          help="import this local TrashNet folder instead of downloading")
    trashnet.add_argument("--url", help="zip to download (default: the TrashNet repository's)")
    trashnet.add_argument("--sha256", help="expected sha256 of the zip")
    trashnet.add_argument("--json", action="store_true", help="print the result as JSON")

    drinking = actions.add_parser(
        "drinking-waste",
        help="make the drinking-waste crops (cans, PET bottles) from their source photos, or "
             "import a local copy")
    drinking.add_argument("--dest", default="data/drinking_waste",
                          help="folder to create (default: %(default)s)")
    drinking.add_argument("--from", dest="source", metavar="LOCAL_DIR",
                          help="import this local folder of the crops instead of making them")
    drinking.add_argument("--archive", metavar="ZIP_OR_URL",
                          help="take the source photos from this copy of the source "
                               "repository (its archive zip, a URL of it, or a folder) "
                               "instead of downloading them one by one")
    drinking.add_argument("--json", action="store_true", help="print the result as JSON")

    urls = actions.add_parser(
        "urls", help="download photos listed in urls.txt files into class folders")
    urls.add_argument("source", metavar="SRC",
                      help="a folder of <class>/urls.txt files, or one urls.txt with --label")
    urls.add_argument("--dest", required=True, help="data folder to add the photos to")
    urls.add_argument("--label", help="class of the photos when SRC is a single urls.txt")
    urls.add_argument("--workers", type=above_zero(int), default=8, help="parallel downloads (default: 8)")
    urls.add_argument("--timeout", type=above_zero(float), default=15.0,
                      help="seconds before a silent server is given up (default: 15)")
    urls.add_argument("--retries", type=int, default=2,
                      help="extra attempts after a network error (default: 2)")
    urls.add_argument("--max-mb", type=above_zero(float), default=20.0,
                      help="largest file to accept, in MB (default: 20)")
    urls.add_argument("--json", action="store_true", help="print the result as JSON")

    check = actions.add_parser(
        "check", help="check a folder of class folders: >= 2 classes, every photo decodes")
    check.add_argument("data_dir", metavar="DIR")
    check.add_argument("--json", action="store_true", help="print the result as JSON")

    stats = actions.add_parser(
        "stats", help="per-class counts, imbalance and duplicates (also across a split)")
    stats.add_argument("data_dir", metavar="DIR")
    stats.add_argument("--split", help="split.json to check for duplicates across subsets")
    stats.add_argument("--json", action="store_true", help="print the result as JSON")

    split = actions.add_parser(
        "split", help="make a deterministic stratified train/val/test split (split.json)")
    split.add_argument("data_dir", metavar="DIR")
    split.add_argument("--out", default="build/split.json",
                       help="manifest to write (default: %(default)s)")
    split.add_argument("--test", type=float, default=0.2,
                       help="fraction of each class for test (default: 0.2)")
    split.add_argument("--val", type=float, default=0.1,
                       help="fraction of each class for validation (default: 0.1)")
    split.add_argument("--seed", type=int, default=1234, help="(default: 1234)")
    split.add_argument("--json", action="store_true", help="print a summary as JSON")


@contextlib.contextmanager
def _progress_bar(description, unit="photo"):
    """A `progress(done, total)` callback for one stage (progress.ProgressBars)."""
    with ProgressBars({"work": (description, unit)}) as bars:
        yield bars.stage("work")


def _print_json(value):
    print(json.dumps(value, indent=2, sort_keys=True))


def _run_trashnet(args):
    from host_tools.data import trashnet

    labels = {"download": ("downloading TrashNet", "B"), "unpack": ("unpacking", "file"),
              "import": ("importing", "file")}
    with ProgressBars(labels) as progress:
        summary = trashnet.get_trashnet(args.dest, source=args.source, url=args.url,
                                        sha256=args.sha256, progress=progress)
    if args.json:
        _print_json(summary)
    elif summary["action"] == "already complete":
        print("%s already holds the complete TrashNet (%d photos); nothing to do"
              % (args.dest, sum(summary["counts"].values())))
    else:
        print("%s TrashNet into %s: %d photos (%s); %d checked byte for byte against "
              "published sha256 values, %d (trash) by count only%s" % (
                  summary["action"], args.dest, sum(summary["counts"].values()),
                  ", ".join("%s %d" % item for item in sorted(summary["counts"].items())),
                  summary["verified_files"], summary["count_only_files"],
                  "; zip sha256 %s" % summary["zip_sha256"] if summary["zip_sha256"] else ""))
    return 0


def _run_drinking_waste(args):
    from host_tools.data import drinking_waste

    labels = {"download": ("downloading photos", "B"), "archive": ("downloading archive", "B"),
              "unpack": ("searching archive", "file"), "crop": ("cropping", "photo"),
              "import": ("importing", "file")}
    with ProgressBars(labels) as progress:
        summary = drinking_waste.get_drinking_waste(args.dest, source=args.source,
                                                    archive=args.archive, progress=progress)
    total = sum(summary["counts"].values())
    if args.json:
        _print_json(summary)
    elif summary["action"] == "already complete":
        print("%s already holds the complete drinking-waste set (%d crops); nothing to do"
              % (args.dest, total))
    else:
        counts = ", ".join("%s %d" % item for item in sorted(summary["counts"].items()))
        if summary["action"] == "imported":
            how = "all checked byte for byte against published sha256 values"
        else:
            how = ("cut from %d source photos checked by sha256; %d crops equal the published "
                   "ones byte for byte, %d by thumbnail (another Pillow/libjpeg)"
                   % (summary["originals_checked"], summary["exact_crops"],
                      summary["similar_crops"]))
        print("%s drinking-waste crops into %s: %d (%s); %s; item boxes in %s/boxes.csv"
              % (summary["action"], args.dest, total, counts, how, args.dest))
    return 0


def _run_urls(args):
    from host_tools.data import urls

    with _progress_bar("downloading", "URL") as progress:
        summary = urls.collect_urls(args.source, args.dest, label=args.label,
                                    workers=args.workers, timeout=args.timeout,
                                    retries=args.retries,
                                    max_bytes=int(args.max_mb * 1_000_000), progress=progress)
    if args.json:
        _print_json(summary)
        return 0
    for warning in summary["warnings"]:
        print("warning: " + warning)
    for label, counts in summary["classes"].items():
        others = ", ".join("%d %s" % (counts[key], key) for key in sorted(counts)
                           if key not in ("added", "already done") and counts[key])
        print("%s: %d added, %d already done%s" % (label, counts["added"],
                                                   counts["already done"],
                                                   "; skipped: " + others if others else ""))
    if summary["manifests"]:
        print("details per URL: " + ", ".join(summary["manifests"]))
    return 0


def _run_check(args):
    from host_tools.data import stats

    with _progress_bar("checking") as progress:
        report = stats.check_dataset(args.data_dir, progress=progress)
    if args.json:
        _print_json(report)
    else:
        print("ok: %s: %d classes, %d photos (%s)" % (
            args.data_dir, len(report["labels"]), report["total"],
            ", ".join("%s %d" % (label, report["counts"][label]) for label in report["labels"])))
    return 0


def _run_split(args):
    from host_tools.data import split

    with _progress_bar("reading photos") as progress:
        manifest = split.make_split(args.data_dir, test_fraction=args.test,
                                    val_fraction=args.val, seed=args.seed, progress=progress)
    split.save_split(manifest, args.out)
    sizes = {name: len(manifest["subsets"][name]) for name in split.SUBSETS}
    groups = manifest["near_duplicate_groups"]
    if args.json:
        _print_json({"out": str(args.out), "sizes": sizes, "labels": manifest["labels"],
                     "near_duplicate_groups": len(groups)})
    else:
        print("wrote %s: train %d, val %d, test %d photos; %d near-duplicate group%s kept "
              "in one subset" % (args.out, sizes["train"], sizes["val"], sizes["test"],
                                 len(groups), "" if len(groups) == 1 else "s"))
    # Too few photos per class round a subset down to nothing; training needs val photos
    # and the export's int8 check and `evaluate` need test photos.
    for name, fraction in (("val", args.val), ("test", args.test)):
        if fraction > 0 and not sizes[name]:
            needed = next(n for n in range(1, 10000) if split._quota(n, fraction) >= 1)
            print("warning: the %s part is empty: %g of each class rounds to 0 photos; add "
                  "photos (at least %d per class) or raise --%s, or `smartbin train` and "
                  "`export` will stop" % (name, fraction, needed, name), file=sys.stderr)
    return 0


def _run_stats(args):
    from host_tools.data import split, stats

    manifest = split.load_split(args.split) if args.split else None
    with _progress_bar("reading photos") as progress:
        report = stats.dataset_stats(args.data_dir, manifest, progress=progress)
    if args.json:
        _print_json(report)
        return 0
    print("%s: %d photos in %d classes" % (args.data_dir, report["total"],
                                           len(report["labels"])))
    width = max(len(label) for label in report["labels"])
    subsets = report.get("split", {}).get("counts")
    if subsets:
        print("  %-*s  %6s  %6s  %6s  %6s" % (width, "class", "photos", "train", "val", "test"))
    for label in report["labels"]:
        count = report["counts"][label]
        line = "  %-*s  %6d" % (width, label, count)
        if subsets:
            line += "".join("  %6d" % subsets[name].get(label, 0) for name in split.SUBSETS)
        else:
            line += "  %5.1f%%" % (100.0 * count / report["total"])
        print(line)
    print("largest/smallest class: %.1fx" % report["imbalance"])
    near = report["near_duplicates"]
    print("exact duplicates: %d group%s; near-duplicates: %d group%s (%d photos)" % (
        len(report["exact_duplicates"]), "" if len(report["exact_duplicates"]) == 1 else "s",
        len(near), "" if len(near) == 1 else "s", sum(len(group) for group in near)))
    if "split" in report:
        sizes = report["split"]["sizes"]
        print("split %s: train %d, val %d, test %d; duplicate groups across subsets: %d" % (
            args.split, sizes["train"], sizes["val"], sizes["test"],
            len(report["split"]["groups_across_subsets"])))
    for warning in report["warnings"]:
        print("warning: " + warning)
    return 0


_ACTIONS = {
    "trashnet": _run_trashnet,
    "drinking-waste": _run_drinking_waste,
    "urls": _run_urls,
    "check": _run_check,
    "split": _run_split,
    "stats": _run_stats,
}


def run(args):
    """Run the chosen `data` action; return the exit code."""
    try:
        return _ACTIONS[args.data_command](args)
    except OSError as error:
        # Disk full, no permission, a file where a folder should be: one line, not a trace.
        raise SmartbinError("cannot write %s: %s" % (error.filename or "output",
                                                     error.strerror or error))
