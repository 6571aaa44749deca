"""The sandbox's namespaces, built directly in a throwaway process: both ways in, root's
and the one an unprivileged user takes (a user namespace)."""

import json
import subprocess
import sys
import textwrap

import pytest

from nngrade.grader.sandbox import namespaces

_PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from nngrade.grader.sandbox import namespaces
    from nngrade.grader.sandbox import syscalls
    work, secret, outside, how = sys.argv[1:5]
    held = namespaces.enter(work, scratch_bytes=1 << 20, user_namespace={"user": True, "plain": False}[how])
    if held and namespaces.hide([secret]):
        held.append(namespaces.HIDDEN)
    if syscalls.restrict():
        held.append(syscalls.FILTERED)
    seen = {}
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2)
        seen["network"] = "connected"
    except OSError as exc:
        seen["network"] = type(exc).__name__
    try:
        open(outside, "w").write("x")
        seen["outside"] = "written"
    except OSError as exc:
        seen["outside"] = type(exc).__name__
    open("scratch", "w").write("fine")
    seen["scratch"] = open("scratch").read()
    seen["secret"] = os.listdir(secret)
    try:
        open(os.path.join(work, "big"), "wb").write(bytes(2 << 20))
        seen["big"] = "written"
    except OSError as exc:
        seen["big"] = type(exc).__name__
    print(json.dumps({"held": held, "seen": seen}))
""")


@pytest.mark.parametrize("how", ["plain", "user"])
def test_both_ways_into_the_namespaces_give_the_same_sandbox(tmp_path, how):
    work, secret = tmp_path / "work", tmp_path / "secret"
    work.mkdir()
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42")
    outside = tmp_path / "planted.txt"
    out = subprocess.run([sys.executable, "-c", _PROBE, str(work), str(secret), str(outside), how],
                         capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    assert set(result["held"]) == {namespaces.NO_NETWORK, namespaces.READ_ONLY, namespaces.HIDDEN,
                                   namespaces.FILTERED}
    assert result["seen"] == {"network": "OSError", "outside": "OSError", "scratch": "fine",
                              "secret": [], "big": "OSError"}
    assert not outside.exists()


def test_where_the_linux_calls_are_missing_nothing_is_claimed_and_nothing_breaks(tmp_path):
    # run apart: were the guard to fail, this process would lose its network and file system
    script = textwrap.dedent(f"""
        import sys
        sys.platform = "darwin"
        from nngrade.grader.sandbox import namespaces
        print(namespaces.enter({str(tmp_path)!r}), namespaces.hide([{str(tmp_path)!r}]),
              namespaces.own_pid_namespace())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split() == ["[]", "False", "False"]
