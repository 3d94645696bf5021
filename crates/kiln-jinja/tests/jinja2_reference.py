"""Renders every case of jinja2_cases/ with Jinja2 as dbt-core 1.11 configures it, and prints
the results as JSON: {"file::case": {"ok": "<output>"} | {"error": "<message>"}}.

The environment is dbt's (dbt/clients/jinja.py): a SandboxedEnvironment with the `do` and
`loopcontrols` extensions and Jinja2's default Undefined (printing an undefined name gives "",
an attribute or call on it fails). The globals are the parts of dbt's base context
(dbt/context/base.py) that the cases use, written the way dbt writes them.
"""
import datetime
import hashlib
import itertools
import json
import pathlib
import re
import sys

import jinja2
import jinja2.sandbox
import yaml  # noqa: F401  (PyYAML comes with the system Python; dbt uses it for toyaml)

try:
    import pytz
except ImportError:  # pragma: no cover - only the cases that use pytz need it
    pytz = None


class ReturnValue(Exception):
    def __init__(self, value):
        self.value = value


class Exceptions:
    @staticmethod
    def raise_compiler_error(msg, node=None):
        raise jinja2.TemplateRuntimeError(msg)

    @staticmethod
    def raise_not_implemented(msg):
        raise jinja2.TemplateRuntimeError(msg)

    @staticmethod
    def warn(msg, node=None):
        return ""


class Modules:
    def __init__(self):
        self.datetime = datetime
        self.pytz = pytz
        self.re = re
        self.itertools = itertools


def _return(value):
    raise ReturnValue(value)


def tojson(value, default=None, sort_keys=False):
    try:
        return json.dumps(value, sort_keys=sort_keys)
    except ValueError:
        return default


def fromjson(string, default=None):
    try:
        return json.loads(string)
    except ValueError:
        return default


def toyaml(value, default=None, sort_keys=False):
    try:
        return yaml.safe_dump(data=value, sort_keys=sort_keys)
    except (ValueError, yaml.YAMLError):
        return default


def fromyaml(value, default=None):
    try:
        return yaml.safe_load(value)
    except (AttributeError, ValueError, yaml.YAMLError):
        return default


def _set(value, default=None):
    try:
        return set(value)
    except TypeError:
        return default


def _zip(*args, default=None):
    try:
        return zip(*args)
    except TypeError:
        return default


def local_md5(value):
    return hashlib.md5(value.encode("utf-8")).hexdigest()


def environment():
    env = jinja2.sandbox.SandboxedEnvironment(
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
    )
    env.globals.update(
        {
            "modules": Modules(),
            "exceptions": Exceptions(),
            "return": _return,
            "tojson": tojson,
            "fromjson": fromjson,
            "toyaml": toyaml,
            "fromyaml": fromyaml,
            "set": _set,
            "set_strict": set,
            "zip": _zip,
            "zip_strict": zip,
            "local_md5": local_md5,
            "print": lambda *args: "",
            "log": lambda msg, info=False: "",
        }
    )
    return env


def project_macros(env, macros_dir):
    """The project's macros as dbt calls them: each a global whose `return()` ends the call
    with a value (dbt's MacroGenerator catches MacroReturn the same way)."""
    def wrap(macro):
        def call(*args, **kwargs):
            try:
                return macro(*args, **kwargs)
            except ReturnValue as returned:
                return returned.value
        return call

    for path in sorted(pathlib.Path(macros_dir).glob("*.sql")):
        module = env.from_string(path.read_text()).module
        for name in dir(module):
            macro = getattr(module, name)
            if isinstance(macro, jinja2.runtime.Macro):
                env.globals[name] = wrap(macro)


def cases(directory):
    for path in sorted(pathlib.Path(directory).glob("*.jinja")):
        name, lines = None, []
        for line in path.read_text().split("\n"):
            if line.startswith("## "):
                if name is not None:
                    yield f"{path.stem}::{name}", "\n".join(lines).rstrip("\n")
                name, lines = line[3:].strip(), []
            elif name is not None:
                lines.append(line)
        if name is not None:
            yield f"{path.stem}::{name}", "\n".join(lines).rstrip("\n")


def main():
    env = environment()
    project_macros(env, sys.argv[2])
    results = {}
    for key, source in cases(sys.argv[1]):
        try:
            results[key] = {"ok": env.from_string(source).render()}
        except ReturnValue as returned:
            results[key] = {"ok": str(returned.value)}
        except Exception as error:  # every failure is an expected error case
            results[key] = {"error": f"{type(error).__name__}: {error}"}
    json.dump(results, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
