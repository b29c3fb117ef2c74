#!/usr/bin/python3
"""grafana-diff.py: what differs between a dashboard exported from Grafana and the generated one.

    scripts/grafana-diff.py EXPORTED.json deploy/grafana/dashboards/overview.json

Prints one line per difference, path by path (`panels["Request rate"].options.legend.calcs`),
leaving out what Grafana adds on every save. Panels are matched by title, variables and
annotations by name, queries by refId, so an added or moved panel shows as one line. Use it to
carry a change made in Grafana's UI into deploy/grafana/src/ (docs/deploy.md); works on the
alert-rule YAML too. Exit status 1 when something differs, 0 when nothing does.
"""
import json
import sys

# Set by Grafana when it saves or exports, not part of the design.
NOISE = {"id", "version", "iteration", "pluginVersion", "__inputs", "__requires",
         "__elements"}
KEYS = ("title", "name", "refId", "uid")  # how list items are matched


def load(path):
    with open(path) as f:
        text = f.read()
    if path.endswith((".yaml", ".yml")):
        import yaml  # python3-yaml (scripts/install-deps.sh)
        return yaml.safe_load(text)
    return json.loads(text)


def item_key(items):
    """The field that names every item of a list of objects uniquely, if there is one."""
    if not items or not all(isinstance(x, dict) for x in items):
        return None
    for k in KEYS:
        names = [x.get(k) for x in items]
        if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return k
    return None


def show(v):
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 120 else s[:117] + "..."


def diff(a, b, path, out, top=True):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if top and k in NOISE or k == "pluginVersion":
                continue
            p = f"{path}.{k}" if path else k
            if k not in b:
                out.append(f"- {p}: {show(a[k])}")
            elif k not in a:
                out.append(f"+ {p}: {show(b[k])}")
            else:
                diff(a[k], b[k], p, out, False)
    elif isinstance(a, list) and isinstance(b, list):
        key = item_key(a) if item_key(a) == item_key(b) else None
        if key:
            am = {x[key]: x for x in a}
            bm = {x[key]: x for x in b}
            for n in list(am) + [n for n in bm if n not in am]:
                p = f"{path}[{json.dumps(n)}]"
                if n not in bm:
                    out.append(f"- {p}")
                elif n not in am:
                    out.append(f"+ {p}: {show(bm[n])}")
                else:
                    diff(am[n], bm[n], p, out, False)
            if [n for n in am if n in bm] != [n for n in bm if n in am]:
                out.append(f"~ {path}: order {[n for n in am if n in bm]} -> "
                           f"{[n for n in bm if n in am]}")
        elif len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                diff(x, y, f"{path}[{i}]", out, False)
        else:
            out.append(f"~ {path}: {show(a)} -> {show(b)}")
    elif a != b:
        out.append(f"~ {path}: {show(a)} -> {show(b)}")


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        a, b = load(argv[1]), load(argv[2])
    except Exception as e:  # unreadable, not JSON or not YAML
        print(f"grafana-diff: {e}", file=sys.stderr)
        return 2
    out = []
    diff(a, b, "", out)
    print(f"--- {argv[1]}\n+++ {argv[2]}")
    print("\n".join(out) if out else "(no differences)")
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
