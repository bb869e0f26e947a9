"""The CI workflow builds the image with `make firmware` on every tag and attaches it."""
import yaml

from .image_checks import REPO

WORKFLOW = REPO / ".github" / "workflows" / "firmware.yml"


def test_workflow_builds_on_tags_and_attaches_the_image_to_the_release():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers["push"]["tags"] == ["*"]
    assert workflow["permissions"]["contents"] == "write"
    steps = [step.get("run", "") for step in workflow["jobs"]["image"]["steps"]]
    build = next(i for i, run in enumerate(steps) if run.strip() == "make firmware")
    copy = next(i for i, run in enumerate(steps) if "firmware/image/build/firmware.bin" in run)
    upload = next(i for i, run in enumerate(steps) if "gh release upload" in run)
    assert build < copy < upload
    # the image and its sha256 file, named as `smartbin flash` looks for them
    assert 'sha256sum "$name" > "$name.sha256"' in steps[copy]
    assert '"$IMAGE" "$IMAGE.sha256"' in steps[upload]


def test_workflow_uses_only_actions_that_exist():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    uses = sorted(step["uses"] for step in workflow["jobs"]["image"]["steps"] if "uses" in step)
    assert uses == ["actions/checkout@v4", "actions/upload-artifact@v4"]
