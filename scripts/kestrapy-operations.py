"""Lists the REST operations of Kestra's Python client `kestrapy` (method,
path, client method) as a TSV, by calling every API method with its path
parameters as `{name}` placeholders and catching the request before it is
sent. The list is a fact about Kestra's API; compat.rs reads it to give each
operation Mortar's status in docs/kestra-compatibility.md.

    .venv/bin/python scripts/kestrapy-operations.py > server/tests/http/kestrapy-operations.tsv
"""

import importlib
import inspect
import pkgutil
import sys
from datetime import datetime, timezone
from urllib.parse import unquote

import kestrapy
import kestrapy.api
from kestrapy.base_api import BaseApi


class Sent(Exception):
    def __init__(self, method, path):
        self.method, self.path = method, path


def _request(self, method, path, **_):
    raise Sent(method, path)


def _sse(self, path, *_, **__):
    raise Sent("GET", path)


BaseApi._request = _request
BaseApi._sse_stream = _sse

class Placeholder(str):
    """A `{name}` that also passes for an enum member."""

    @property
    def value(self):
        return str(self)


def argument(parameter, typed):
    placeholder = Placeholder("{" + parameter.name + "}")
    if not typed:
        return placeholder
    annotation = str(parameter.annotation)
    if "datetime" in annotation:
        return datetime.now(timezone.utc)
    if "List" in annotation or "list" in annotation:
        return []
    if "Dict" in annotation or "dict" in annotation or "Flow" in annotation:
        return {}
    if "Filter" in annotation:
        return [{"field": "namespace", "operation": "EQUALS", "value": "x"}]
    return placeholder


rows = set()
for module in pkgutil.iter_modules(kestrapy.api.__path__):
    mod = importlib.import_module(f"kestrapy.api.{module.name}")
    for cls_name, cls in inspect.getmembers(mod, inspect.isclass):
        if not issubclass(cls, BaseApi) or cls is BaseApi or cls.__module__ != mod.__name__:
            continue
        api = cls(None, "")
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_"):
                continue
            params = [
                p
                for p in list(inspect.signature(fn).parameters.values())[1:]
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.default is p.empty
            ]
            # First every argument a `{name}` placeholder; a method that checks
            # its arguments' types gets values of the declared types.
            for typed in (False, True):
                kwargs = {p.name: argument(p, typed) for p in params}
                try:
                    result = fn(api, **kwargs)
                    if inspect.isgenerator(result):
                        next(result)
                except Sent as sent:
                    rows.add((unquote(sent.path), sent.method, f"{module.name[:-4]}.{name}"))
                    break
                except Exception as e:
                    if typed:
                        print(f"{module.name}.{name}: {type(e).__name__}: {e}", file=sys.stderr)

print(f"# kestrapy {kestrapy.__version__ if hasattr(kestrapy, '__version__') else ''}".rstrip())
for path, method, client in sorted(rows):
    print(f"{method}\t{path}\t{client}")
