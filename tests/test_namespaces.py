"""The sandbox built directly in a throwaway process: both ways in (root's, and the user
namespace an unprivileged grader takes) give the same view, no network and no privilege."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from nngrade.grader.sandbox import namespaces, privileges, view

_PROBE = textwrap.dedent("""
    import json, os, socket, sys
    from nngrade.grader.sandbox import namespaces, privileges, syscalls, view
    work, secret, outside, how = sys.argv[1:5]

    def supervise(child):
        os.waitpid(child, 0)

    def view_for(uid):
        return view.standard(scratch=((work, 1 << 20),), hidden=(secret,), owner=uid)

    held, enclosed = namespaces.enclose(view_for, os.path.join(work, ".view"), work, supervise,
                                        user_namespace={"user": True, "plain": False}[how])
    if syscalls.restrict():
        held.append(syscalls.FILTERED)
    seen = {"pid": os.getpid()}
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=2)
        seen["network"] = "connected"
    except OSError as exc:
        seen["network"] = type(exc).__name__
    for name, path in (("outside", outside), ("usr", "/usr/planted")):
        try:
            open(path, "w").write("x")
            seen[name] = "written"
        except OSError as exc:
            seen[name] = type(exc).__name__
    open("scratch", "w").write("fine")
    seen["scratch"] = open("scratch").read()
    seen["secret"] = os.path.exists(secret)
    seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    try:
        open(os.path.join(work, "big"), "wb").write(bytes(2 << 20))
        seen["big"] = "written"
    except OSError as exc:
        seen["big"] = type(exc).__name__
    seen["unprivileged"] = privileges.unprivileged()
    print(json.dumps({"held": held, "seen": seen}), flush=True)
""")


@pytest.mark.parametrize("how", ["plain", "user"])
def test_both_ways_into_the_sandbox_give_the_same_view(tmp_path, how):
    work, secret = tmp_path / "work", tmp_path / "secret"
    work.mkdir()
    secret.mkdir()
    (secret / "solution.py").write_text("ANSWER = 42")
    outside = tmp_path / "planted.txt"
    out = subprocess.run([sys.executable, "-c", _PROBE, str(work), str(secret), str(outside), how],
                         capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout)
    privilege = privileges.NO_PRIVILEGE if how == "plain" else privileges.NO_CAPABILITIES
    assert set(result["held"]) == {namespaces.NO_NETWORK, namespaces.OWN_PIDS, view.ALLOW_LISTED,
                                   view.OWN_PROC, privilege, namespaces.FILTERED}
    # the folder above the scratch exists (its path leads there) but is a read-only shell
    assert result["seen"] == {"pid": 1, "network": "OSError", "outside": "OSError", "usr": "OSError",
                              "scratch": "fine", "secret": False, "processes": [1],
                              "big": "OSError", "unprivileged": True}
    assert not outside.exists() and not os.path.exists("/usr/planted")


def test_where_the_linux_calls_are_missing_nothing_is_claimed_and_nothing_breaks(tmp_path):
    # run apart: were the guard to fail, this process would lose its network and file system
    script = textwrap.dedent(f"""
        import sys
        sys.platform = "darwin"
        from nngrade.grader.sandbox import namespaces
        print(namespaces.enter(), namespaces.own_pid_namespace())
        print(namespaces.enclose(lambda uid: None, {str(tmp_path)!r}, {str(tmp_path)!r},
                                 lambda child: None))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.split("\n")[:2] == ["([], False) False", "([], False)"]
