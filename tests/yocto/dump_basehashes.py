"""Prints {recipe: {task: basehash}} as JSON for the recipe files given, parsed (with the bbappends
of the build's layers, by the cooker's rule) in a config-only tinfoil session of the build directory
that is the working directory. A separate process, because two tinfoil sessions do not share one."""

import glob
import json
import os
import sys

import bb.tinfoil

with bb.tinfoil.Tinfoil(output=sys.stderr) as tinfoil:
    tinfoil.prepare(config_only=True, quiet=2)
    config = tinfoil.config_data
    appends = [f for p in config.getVar("BBFILES").split() if p.endswith(".bbappend") for f in sorted(glob.glob(p))]
    result = {}
    for fn in sys.argv[1:]:
        name = os.path.basename(fn)
        mine = [a for a in appends if (lambda b: b == name or ("%" in b and name.startswith(b[:b.index("%")])))(os.path.basename(a)[:-len("append")])]
        d = tinfoil.parse_recipe_file(fn, appends=bool(mine), appendlist=mine or None)
        result[fn] = {"basehashes": d.getVar("__siggen_basehashes", False), "appends": mine}
    print(json.dumps(result))
