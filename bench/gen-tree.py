#!/usr/bin/env python3
"""Writes one benchmark conf.d tree: DIR/lib and DIR/etc with N fragment names in all.

The mix is what device trees hold: plain assignments, single and double quotes, backslash
escapes, several assignments on a line, `${X:-default}` / `${X-default}` expansions
that reach back into earlier fragments, comments. Of the N names, one lib file is shadowed by an
etc file of the same name and one is masked by an empty etc file (an empty file, not a symlink to
/dev/null: swupdate.sh's `[ -f ]` would source the lib file behind a /dev/null link, and every
contender must read the same set); a few names live in etc only, like the agent's descriptor.env.
No fragment sets SWUPDATE_SOURCE or a variable that reaches swupdate's argv, so every contender
execs `swupdate -v` (daemon mode, as swupdate.sh does).

Also writes DIR/read-order: the files that are read, in order (for the no-fork dash reference
and for checking), and DIR/env: the launcher's EnvironmentFile.

usage: gen-tree.py DIR N STUB
"""
import os
import sys


def fragment(i: int) -> str:
    v = f"BENCH_{i:04d}"
    prev = f"BENCH_{i - 1:04d}" if i else "BENCH_NONE"
    kind = i % 4
    if kind == 0:  # 10-mongoose-args style
        return (
            f"# webserver options, as meta-swupdate's 10-mongoose-args writes them\n"
            f"{v}_PORT=80{i % 100:02d}\n"
            f'{v}_WEB="-r /var/www/swupdate -p ${{{v}_PORT}} ${{{v}_EXTRA:-}}"\n'
        )
    if kind == 1:  # quoting
        return (
            f"# quoting\n"
            f"{v}_A='single $quoted \"text\"'\n"
            f'{v}_B="double \\"quoted\\" \\$literal and ${{{v}_A}}"\n'
            f"{v}_C=plain\\ escaped\\ words\n"
        )
    if kind == 2:  # defaults reaching into the previous fragment
        return (
            f"{v}_D=${{{prev}_X:-/data/default}}\n"
            f"{v}_E=${{BENCH_UNSET_{i}-fallback}}\n"
            f'{v}_X="${{{v}_D}}/sub"\n'
        )
    # descriptor.env style: several assignments on a line. (No `export`: since issue 20 the
    # launcher refuses exporting a variable that is not its own, which under swupdate.sh reached
    # swupdate's environment; trees with it would not start.)
    return (
        f"# written by the agent\n"
        f"{v}_F=1 {v}_G=2\n"
        f"{v}_G2=${v}_G\n"
        f'{v}_H="${v}_F${v}_G"\n'
    )


def main() -> None:
    top, n, stub = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    if n < 5:
        sys.exit("gen-tree.py: at least 5 fragments (one shadowed, one masked, etc-only ones)")
    lib, etc = os.path.join(top, "lib"), os.path.join(top, "etc")
    os.makedirs(lib)
    os.makedirs(etc)
    names = [f"{i:04d}-bench.conf" for i in range(n)]
    shadowed, masked = 1, 2
    # About one name in 25 lives in etc only (descriptor.env and local overrides), at least one.
    etc_only = {i for i in range(3, n) if i % 25 == 4} or {n - 1}
    read = []
    for i, name in enumerate(names):
        if i in etc_only:
            path = os.path.join(etc, name)
            with open(path, "w") as f:
                f.write(fragment(i))
            read.append(path)
            continue
        with open(os.path.join(lib, name), "w") as f:
            f.write(fragment(i))
        if i == shadowed:
            path = os.path.join(etc, name)
            with open(path, "w") as f:
                f.write("# local override of the lib file\n" + fragment(i).replace("single", "local"))
            read.append(path)
        elif i == masked:
            open(os.path.join(etc, name), "w").close()
        else:
            read.append(os.path.join(lib, name))
    with open(os.path.join(top, "read-order"), "w") as f:
        f.write("".join(p + "\n" for p in read))
    with open(os.path.join(top, "env"), "w") as f:
        f.write(
            "# EnvironmentFile for the benchmark: path topology only\n"
            f"SWUPDATE_BIN={stub}\n"
            f"SWUPDATE_CONF_DIR_LIB={lib}\n"
            f"SWUPDATE_CONF_DIR_ETC={etc}\n"
        )


if __name__ == "__main__":
    main()
