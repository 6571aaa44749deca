"""A grader that is not root: ``nngrade grade`` run as an unprivileged user builds the
sandbox the unprivileged way (a user namespace), grades as root's grader does, and names
the one protection it could not have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import nbformat

from nngrade.grader.grading import solution
from nngrade.grader.sandbox import namespaces, privileges
from nngrade.reference import load_exercise

VANISHING = load_exercise("04")
NOBODY = 65534
REPO = Path(__file__).resolve().parent.parent


def _as_nobody(args: list[str], folder: Path) -> subprocess.CompletedProcess:
    """``nngrade ARGS`` as user 65534. Run by root, in a private mount namespace where the
    interpreter and the checkout are reachable although they live under a folder only root
    may enter (/root here): nothing on the host changes mode."""
    nngrade = str(Path(sys.executable).parent / "nngrade")
    needed = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, REPO)})
    under_root_home = [p for p in needed if p.startswith("/root/")]
    keep = folder / "keep"
    keep.mkdir()
    lines = ["set -e"]
    for index, path in enumerate(under_root_home):
        lines.append(f"mkdir -p {keep}/{index} && mount --bind {path} {keep}/{index}")
    if under_root_home:
        lines.append("mount -t tmpfs -o mode=755 none /root")
        for index, path in enumerate(under_root_home):
            lines.append(f"mkdir -p {path} && mount --bind {keep}/{index} {path}")
    home = folder / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    command = " ".join(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin",
                        f"NNGRADE_CACHE_DIR={home}/cache", nngrade, *args])
    lines.append(f"exec {command}")
    script = folder / "as-nobody.sh"
    script.write_text("\n".join(lines) + "\n")
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", str(script)],
                          capture_output=True, text=True, timeout=900)


def test_an_unprivileged_grader_grades_in_a_user_namespace_and_says_what_it_lacks():
    folder = Path(tempfile.mkdtemp(prefix="nngrade-unprivileged-"))  # pytest's tmp_path is 0700
    folder.chmod(0o755)
    try:
        submission = folder / "class" / "ref" / f"{VANISHING.stem}.ipynb"
        solution.write_solution(VANISHING, submission)
        cheat = folder / "class" / "mallory" / f"{VANISHING.stem}.ipynb"
        cheat.parent.mkdir()
        nb = solution.filled_notebook(VANISHING)
        for cell in nb.cells:
            if cell.get("metadata", {}).get("nngrade", {}).get("item") == "vanishing.sigmoid":
                cell.source = textwrap.dedent("""
                    import os
                    raise RuntimeError(f"uid {os.getuid()} sees {sorted(os.listdir('/proc'))}")
                """)
        nbformat.write(nb, str(cheat))
        for path in folder.rglob("*"):
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        args = ["grade", str(folder / "class"), "--format", "json", "--quiet", "--timeout", "60"]
        if os.geteuid() == 0:
            done = _as_nobody(args, folder)
        else:  # already unprivileged: the same way in
            done = subprocess.run([str(Path(sys.executable).parent / "nngrade"), *args],
                                  capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr
        mallory, ref = json.loads(done.stdout)["submissions"]
        assert ref["score"] == ref["max_score"] == VANISHING.max_score and not ref["errors"]
        assert set(ref["protections"]) == {namespaces.NO_NETWORK, namespaces.OWN_PIDS,
                                           privileges.NO_CAPABILITIES, namespaces.FILTERED,
                                           *(p for p in namespaces.ALL
                                             if "allow-list" in p or "/proc" in p)}
        # root of its own namespace, alone in its /proc
        message = {i["id"]: i for i in mallory["items"]}["vanishing.sigmoid"]["message"]
        assert "uid 0 sees ['1'," in message, message
        assert "did not allow these protections" in done.stderr
        assert privileges.NO_PRIVILEGE in done.stderr
    finally:
        subprocess.run(["rm", "-rf", str(folder)], check=False)
