#!/usr/bin/env python3
"""apiref.py OPENAPI_JSON DOC [--check]: renders the route reference of docs/api.md from the
OpenAPI document (`cairnd openapi` prints it as JSON). The part of DOC between the markers
<!-- BEGIN GENERATED --> and <!-- END GENERATED --> is replaced; the rest is hand-written.
With --check, DOC is not written: the exit status is 1 if it is not current."""
import json
import sys

BEGIN, END = "<!-- BEGIN GENERATED -->", "<!-- END GENERATED -->"
METHODS = ["get", "head", "post", "put", "patch", "delete", "options"]


def ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def resolve(doc, obj):
    while isinstance(obj, dict) and "$ref" in obj:
        parts = obj["$ref"].lstrip("#/").split("/")
        obj = doc
        for p in parts:
            obj = obj[p]
    return obj


def type_of(doc, sch):
    if not isinstance(sch, dict):
        return ""
    if "$ref" in sch:
        return ref_name(sch["$ref"])
    for comb in ("oneOf", "anyOf"):
        if comb in sch:
            return " or ".join(type_of(doc, s) for s in sch[comb])
    t = sch.get("type", "")
    if isinstance(t, list):
        t = " or ".join(t)
    if t == "array":
        return "array of " + (type_of(doc, sch.get("items", {})) or "any")
    if "enum" in sch:
        return "%s (%s)" % (t or "value", ", ".join("`%s`" % e for e in sch["enum"]))
    return t or "any"


def cell(s):
    return " ".join(str(s or "").split()).replace("|", "\\|")


def render(doc):
    out = []
    tags = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    groups = {}
    for path, item in doc["paths"].items():
        for m in METHODS:
            if m in item:
                op = item[m]
                tag = (op.get("tags") or ["other"])[0]
                groups.setdefault(tag, []).append((path, m, op, item))
    order = [t for t in tags if t in groups] + sorted(t for t in groups if t not in tags)
    out.append("Operations: %d, on %d paths.\n" % (sum(len(g) for g in groups.values()),
                                                   len(doc["paths"])))
    for tag in order:
        out.append("## %s\n" % tag)
        if tags.get(tag):
            out.append(cell(tags[tag]) + "\n")
        for path, m, op, item in groups[tag]:
            out.append("### `%s %s`\n" % (m.upper(), path))
            if op.get("summary"):
                out.append("**%s**\n" % cell(op["summary"]))
            if op.get("description"):
                out.append(op["description"].strip() + "\n")
            sec = op.get("security", doc.get("security"))
            out.append("Auth: %s.\n" % ("none" if sec == [] else "a token (`Authorization: "
                                        "Bearer` or `X-Api-Key`); the role is in "
                                        "[access.md](access.md)"))
            params = [resolve(doc, p) for p in item.get("parameters", []) + op.get("parameters", [])]
            params = [p for p in params if p.get("name") != "X-Request-Id"]
            if params:
                out.append("| parameter | in | required | type | description |")
                out.append("|---|---|---|---|---|")
                for p in params:
                    out.append("| `%s` | %s | %s | %s | %s |" % (
                        p["name"], p.get("in", ""), "yes" if p.get("required") else "no",
                        cell(type_of(doc, p.get("schema", {}))), cell(p.get("description"))))
                out.append("")
            body = resolve(doc, op.get("requestBody", {}))
            for ctype, media in (body.get("content") or {}).items():
                sch = media.get("schema", {})
                name = type_of(doc, sch)
                out.append("Request body (`%s`): %s%s\n" % (
                    ctype, name, " (required)" if body.get("required") else ""))
                props = resolve(doc, sch).get("properties") if isinstance(sch, dict) else None
                if props:
                    req = set(resolve(doc, sch).get("required", []))
                    out.append("| field | type | required | description |")
                    out.append("|---|---|---|---|")
                    for k, v in props.items():
                        out.append("| `%s` | %s | %s | %s |" % (
                            k, cell(type_of(doc, v)), "yes" if k in req else "no",
                            cell(resolve(doc, v).get("description"))))
                    out.append("")
            out.append("| status | meaning |")
            out.append("|---|---|")
            for code, resp in op.get("responses", {}).items():
                r = resolve(doc, resp)
                schema = ""
                for media in (r.get("content") or {}).values():
                    schema = type_of(doc, media.get("schema", {}))
                    break
                out.append("| %s | %s%s |" % (code, cell(r.get("description")),
                                              " → %s" % cell(schema) if schema else ""))
            out.append("")
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        out.append("## Schemas\n")
        for name, sch in schemas.items():
            out.append("### %s\n" % name)
            if sch.get("description"):
                out.append(cell(sch["description"]) + "\n")
            props = sch.get("properties")
            if props:
                req = set(sch.get("required", []))
                out.append("| field | type | required | description |")
                out.append("|---|---|---|---|")
                for k, v in props.items():
                    out.append("| `%s` | %s | %s | %s |" % (
                        k, cell(type_of(doc, v)), "yes" if k in req else "no",
                        cell(resolve(doc, v).get("description") if isinstance(v, dict) else "")))
                out.append("")
            else:
                out.append("Type: %s\n" % cell(type_of(doc, sch)))
    return "\n".join(out)


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], encoding="utf-8") if sys.argv[1] != "-" else sys.stdin as f:
        doc = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        text = f.read()
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        sys.stderr.write("apiref: %s lacks the %s / %s markers\n" % (sys.argv[2], BEGIN, END))
        return 2
    new = head + BEGIN + "\n" + render(doc) + "\n" + END + tail
    if "--check" in sys.argv[3:]:
        if new != text:
            sys.stderr.write("apiref: %s is stale: run `make docs`\n" % sys.argv[2])
            return 1
        return 0
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
