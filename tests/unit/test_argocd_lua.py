"""Argo CD health checks and actions for Airlock's custom resources, run in a copy of Argo CD's Lua sandbox.

Argo CD runs the scripts it reads from argocd-cm on gopher-lua (Lua 5.1) with only the base, table and
package libraries and an `os` cut down to `time` and `date`: no `string` or `math` library and no string
methods. These tests run every case of the health_test.yaml and action_test.yaml files (Argo CD's own
format) on Lua 5.1 with the same libraries taken away, convert values the way Argo CD does, and apply
Argo CD's clean-up of the returned object, so a script that would fail inside Argo CD fails here.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

ROOT = Path(__file__).resolve().parents[2]
ARGOCD = ROOT / "manifests" / "argocd"
CUSTOMIZATIONS = ARGOCD / "airlock.dev"
CONFIGMAP = ARGOCD / "argocd-cm-patch.yaml"
APPLICATION = ARGOCD / "application-example.yaml"
GENERATOR = ROOT / "hack" / "gen_argocd_cm.py"
REGENERATE = "run `python hack/gen_argocd_cm.py`"

KINDS_WITH_HEALTH = ("AIService", "ReadinessPacket")
KINDS_WITH_ACTIONS = ("AIService",)
HEALTH_STATUSES = frozenset({"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"})

# Run before any script: takes away what Argo CD's sandbox does not open. The locals keep what this
# chunk needs after the globals are gone.
SANDBOX = """
local debug, os, package, ipairs, error = debug, os, package, ipairs, error
-- Argo CD stops a script after one second; a count hook stops a runaway loop here.
debug.sethook(function() error("the script ran too long", 0) end, "", 10000000)
-- No string library means no string methods either: ("x"):sub(1) fails in Argo CD, so it must here.
getmetatable("").__index = nil
local safeOs = {time = os.time, date = os.date}
for _, name in ipairs({"string", "math", "io", "debug", "coroutine", "os", "python"}) do
  _G[name] = nil
  package.loaded[name] = nil
end
_G.os = safeOs
package.loaded.os = safeOs
package.path = ""
package.cpath = ""
"""

# Compiles and runs one script, returning (ok, result or error message) like Argo CD's PCall.
RUNNER = """
local loadstring, pcall = loadstring, pcall
return function(source, chunkname)
  local chunk, err = loadstring(source, chunkname)
  if chunk == nil then
    return false, err
  end
  local outcome = {pcall(chunk)}
  return outcome[1], outcome[2]
end
"""

IDENTITY = "return function(t) return tostring(t) end"

Json = Any


class LuaScriptError(Exception):
    """A script raised an error, failed to compile, or returned something Argo CD cannot use."""


class _KubernetesYamlLoader(yaml.SafeLoader):
    """Loads YAML as Kubernetes and Argo CD do (through JSON): timestamps stay strings."""


_KubernetesYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_yaml(path: Path) -> Json:
    return yaml.load(path.read_text(), Loader=_KubernetesYamlLoader)


class Sandbox:
    """One fresh Lua 5.1 state with only what Argo CD gives scripts from argocd-cm."""

    def __init__(self) -> None:
        self._lua = lua51.LuaRuntime(
            unpack_returned_tuples=True, register_eval=False, register_builtins=False
        )
        self._run: Callable[[str, str], tuple[bool, object]] = self._lua.execute(RUNNER)
        self._identity: Callable[[object], str] = self._lua.execute(IDENTITY)
        self._lua.execute(SANDBOX)

    def run(self, script: str, name: str, obj: Json, action_params: Mapping[str, str] | None = None) -> Json:
        """Runs a script with the global `obj` (and `actionParams` unless None) and returns its result."""
        globals_ = self._lua.globals()
        globals_["obj"] = self.to_lua(obj)
        if action_params is not None:
            globals_["actionParams"] = self.to_lua(dict(action_params))
        ok, result = self._run(script, "=" + name)
        if not ok:
            raise LuaScriptError(str(result))
        return self.from_lua(result, set())

    def to_lua(self, value: Json) -> object:
        """Converts like Argo CD: maps and lists become tables (lists 1-based), JSON null an absent key."""
        if isinstance(value, Mapping):
            table = self._lua.table()
            for key, item in value.items():
                if item is not None:
                    table[key] = self.to_lua(item)
            return table
        if isinstance(value, list):
            table = self._lua.table()
            for index, item in enumerate(value, start=1):
                if item is not None:
                    table[index] = self.to_lua(item)
            return table
        if value is None or isinstance(value, bool | int | float | str):
            return value
        raise TypeError(f"cannot pass a {type(value).__name__} to Lua: {value!r}")

    def from_lua(self, value: object, seen: set[str]) -> Json:
        """Converts like Argo CD's JSON encoder: an empty table is [], a table is encoded once at most."""
        if lua51.lua_type(value) == "table":
            identity = self._identity(value)
            if identity in seen:
                raise LuaScriptError(
                    "cannot encode recursively nested tables to JSON (a table appears twice)"
                )
            seen.add(identity)
            keys = list(value.keys())  # type: ignore[attr-defined]
            if not keys:
                return []
            if all(isinstance(key, str) for key in keys):
                return {key: self.from_lua(value[key], seen) for key in keys}  # type: ignore[index]
            if all(isinstance(key, int | float) and not isinstance(key, bool) for key in keys):
                ordered = sorted(keys)
                if ordered != list(range(1, len(keys) + 1)):
                    raise LuaScriptError(f"cannot encode a sparse Lua array to JSON: keys {ordered}")
                return [self.from_lua(value[key], seen) for key in ordered]  # type: ignore[index]
            raise LuaScriptError(f"cannot encode a table mixing string and number keys to JSON: {keys}")
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int | float):
            return value
        raise LuaScriptError(f"cannot encode a Lua {lua51.lua_type(value)} to JSON")


def clean_returned_object(new: Json, live: Json, *, before_3_2: bool) -> Json:
    """Argo CD's cleanReturnedObj: an empty table that replaced a map is not meant as an empty list.

    Argo CD 3.2 and later turn it into an empty map; earlier versions put the live map back, so an
    action that empties a map changes nothing there.
    """
    cleaned = copy.deepcopy(new)
    _clean_map(cleaned, live, before_3_2)
    return cleaned


def _clean_map(new: dict[str, Json], live: dict[str, Json], before_3_2: bool) -> None:
    for key, live_value in live.items():
        if key not in new:
            continue
        new_value = new[key]
        if isinstance(new_value, dict) and isinstance(live_value, dict):
            _clean_map(new_value, live_value, before_3_2)
        elif isinstance(new_value, list) and isinstance(live_value, dict) and not new_value:
            new[key] = copy.deepcopy(live_value) if before_3_2 else {}
        elif isinstance(new_value, list) and isinstance(live_value, list):
            _clean_list(new_value, live_value, before_3_2)


def _clean_list(new: list[Json], live: list[Json], before_3_2: bool) -> None:
    for index, new_value in enumerate(new[: len(live)]):
        live_value = live[index]
        if isinstance(new_value, dict) and isinstance(live_value, dict):
            _clean_map(new_value, live_value, before_3_2)
        elif isinstance(new_value, list) and isinstance(live_value, list):
            _clean_list(new_value, live_value, before_3_2)


def run_health(script: str, name: str, obj: Json) -> dict[str, str]:
    """Argo CD's ExecuteHealthLua: a table with a known status, else Unknown."""
    result = Sandbox().run(script, name, obj)
    if result is None or result == []:
        return {"status": "", "message": ""}
    if not isinstance(result, dict):
        raise LuaScriptError(f"expect table output from Lua script, not {type(result).__name__}")
    status = {"status": str(result.get("status", "")), "message": str(result.get("message", ""))}
    if status["status"] not in HEALTH_STATUSES:
        return {"status": "Unknown", "message": "Lua returned an invalid health status"}
    return status


def run_action(
    script: str, name: str, obj: Json, params: Mapping[str, str] | None, *, before_3_2: bool = False
) -> Json:
    """Argo CD's ExecuteResourceAction for an action that returns the modified object."""
    result = Sandbox().run(script, name, obj, params)
    if not isinstance(result, dict):
        raise LuaScriptError(f"expected the modified object from the action, not {result!r}")
    return clean_returned_object(result, obj, before_3_2=before_3_2)


def normalise_action(name: str, value: Json) -> dict[str, Json]:
    """One discovered action as Argo CD's ResourceAction (name, disabled, iconClass, displayName, params)."""
    fields = value if isinstance(value, dict) else {}
    disabled = fields.get("disabled")
    return {
        "name": fields.get("name", name),
        "disabled": disabled if isinstance(disabled, bool) else False,
        "iconClass": fields.get("iconClass", ""),
        "displayName": fields.get("displayName", ""),
        "params": [{"name": param["name"]} for param in fields.get("params") or []],
    }


def run_discovery(script: str, name: str, obj: Json) -> list[dict[str, Json]]:
    """Argo CD's ExecuteResourceActionDiscovery: a table keyed by action name; [] means no actions."""
    result = Sandbox().run(script, name, obj)
    if result == []:
        return []
    if not isinstance(result, dict):
        raise LuaScriptError(f"expect table output from Lua script, not {type(result).__name__}")
    return sorted((normalise_action(key, value) for key, value in result.items()), key=lambda a: a["name"])


# --- the cases, read from Argo CD's test-file format -------------------------------------------------


@dataclass(frozen=True)
class HealthCase:
    kind: str
    input_path: str
    expected: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.input_path}"


@dataclass(frozen=True)
class DiscoveryCase:
    kind: str
    input_path: str
    expected: list[dict[str, Json]]

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.input_path}"


@dataclass(frozen=True)
class ActionCase:
    kind: str
    action: str
    input_path: str
    expected_output_path: str | None
    expected_error: str | None
    parameters: dict[str, str]

    @property
    def id(self) -> str:
        outcome = self.expected_output_path or "error"
        params = ",".join(f"{key}={value[:24]}" for key, value in sorted(self.parameters.items()))
        return f"{self.kind}:{self.action}:{self.input_path}->{outcome}" + (f"[{params}]" if params else "")


def health_cases() -> Iterator[HealthCase]:
    for kind in KINDS_WITH_HEALTH:
        path = CUSTOMIZATIONS / kind / "health_test.yaml"
        for test in load_yaml(path)["tests"]:
            expected = {
                "status": test["healthStatus"]["status"],
                "message": test["healthStatus"].get("message", ""),
            }
            yield HealthCase(kind, test["inputPath"], expected)


def discovery_cases() -> Iterator[DiscoveryCase]:
    for kind in KINDS_WITH_ACTIONS:
        for test in load_yaml(CUSTOMIZATIONS / kind / "actions" / "action_test.yaml").get(
            "discoveryTests", []
        ):
            expected = sorted(
                (normalise_action(entry["name"], entry) for entry in test["result"]), key=lambda a: a["name"]
            )
            yield DiscoveryCase(kind, test["inputPath"], expected)


def action_cases() -> Iterator[ActionCase]:
    for kind in KINDS_WITH_ACTIONS:
        for test in load_yaml(CUSTOMIZATIONS / kind / "actions" / "action_test.yaml").get("actionTests", []):
            params = {str(key): str(value) for key, value in (test.get("parameters") or {}).items()}
            yield ActionCase(
                kind,
                test["action"],
                test["inputPath"],
                test.get("expectedOutputPath"),
                test.get("expectedErrorMessage"),
                params,
            )


HEALTH_CASES = list(health_cases())
DISCOVERY_CASES = list(discovery_cases())
ACTION_CASES = list(action_cases())


def lua_scripts() -> list[Path]:
    return sorted(CUSTOMIZATIONS.rglob("*.lua"))


# --- the scripts behave as their test files say ----------------------------------------------------------


@pytest.mark.parametrize("case", HEALTH_CASES, ids=lambda c: c.id)
def test_health_check_reports_the_expected_status(case: HealthCase) -> None:
    directory = CUSTOMIZATIONS / case.kind
    script = (directory / "health.lua").read_text()
    obj = load_yaml(directory / case.input_path)

    assert run_health(script, f"{case.kind}/health.lua", obj) == case.expected


@pytest.mark.parametrize("case", DISCOVERY_CASES, ids=lambda c: c.id)
def test_action_discovery_offers_the_expected_actions(case: DiscoveryCase) -> None:
    directory = CUSTOMIZATIONS / case.kind / "actions"
    script = (directory / "discovery.lua").read_text()
    obj = load_yaml(directory / case.input_path)

    assert run_discovery(script, f"{case.kind}/actions/discovery.lua", obj) == case.expected


@pytest.mark.parametrize("case", ACTION_CASES, ids=lambda c: c.id)
def test_action_returns_the_expected_object_or_error(case: ActionCase) -> None:
    directory = CUSTOMIZATIONS / case.kind / "actions"
    script = (directory / case.action / "action.lua").read_text()
    name = f"{case.kind}/actions/{case.action}/action.lua"
    obj = load_yaml(directory / case.input_path)
    assert (case.expected_output_path is None) != (case.expected_error is None), (
        f"{case.id}: give exactly one of expectedOutputPath and expectedErrorMessage"
    )

    if case.expected_error is not None:
        with pytest.raises(LuaScriptError) as raised:
            run_action(script, name, obj, case.parameters)
        assert str(raised.value) == case.expected_error
        return

    assert case.expected_output_path is not None
    expected = load_yaml(directory / case.expected_output_path)
    assert run_action(script, name, obj, case.parameters) == expected
    # Argo CD before 3.2 cleans the returned object differently; the action must do the same there.
    assert run_action(script, name, obj, case.parameters, before_3_2=True) == expected, (
        f"{case.id}: Argo CD before 3.2 would apply a different object (an emptied map is put back)"
    )


def test_kill_uses_the_default_reason_on_argo_cd_without_action_parameters() -> None:
    directory = CUSTOMIZATIONS / "AIService" / "actions"
    script = (directory / "kill" / "action.lua").read_text()
    obj = load_yaml(directory / "testdata" / "running.yaml")

    result = run_action(script, "AIService/actions/kill/action.lua", obj, None)

    assert result == load_yaml(directory / "testdata" / "running-killed-default-reason.yaml")


def test_discovery_offers_exactly_the_actions_that_have_scripts() -> None:
    for kind in KINDS_WITH_ACTIONS:
        directory = CUSTOMIZATIONS / kind / "actions"
        scripts = {path.parent.name for path in directory.glob("*/action.lua")}
        obj = load_yaml(directory / "testdata" / "running.yaml")
        discovered = {
            action["name"] for action in run_discovery((directory / "discovery.lua").read_text(), kind, obj)
        }
        assert discovered == scripts, (
            f"{kind}: discovery offers {sorted(discovered)}, scripts exist for {sorted(scripts)}"
        )


def test_every_kind_has_health_cases_and_every_testdata_file_is_used() -> None:
    assert {case.kind for case in HEALTH_CASES} == set(KINDS_WITH_HEALTH)
    assert DISCOVERY_CASES
    assert {case.action for case in ACTION_CASES} == {"kill", "restore"}

    used = {CUSTOMIZATIONS / c.kind / c.input_path for c in HEALTH_CASES}
    used |= {CUSTOMIZATIONS / c.kind / "actions" / c.input_path for c in DISCOVERY_CASES}
    for action_case in ACTION_CASES:
        actions = CUSTOMIZATIONS / action_case.kind / "actions"
        used.add(actions / action_case.input_path)
        if action_case.expected_output_path is not None:
            used.add(actions / action_case.expected_output_path)
    existing = set(CUSTOMIZATIONS.rglob("testdata/*.yaml"))

    assert sorted(map(str, existing - used)) == [], "testdata files that no test reads"
    assert sorted(map(str, used - existing)) == [], "test cases name testdata files that do not exist"


# --- the sandbox is as strict as Argo CD's, so the tests above can fail ------------------------------------

FORBIDDEN_IN_SANDBOX = {
    "the string library": 'return string.format("%d", 1)',
    "string methods": 'return ("airlock"):sub(1, 3)',
    "string methods on a value": "local s = obj.kind; return s:upper()",
    "the math library": "return math.floor(1.5)",
    "io": 'return io.open("/etc/hostname")',
    "debug": "return debug.getinfo(1)",
    "coroutine": "return coroutine.create(function() end)",
    "os beyond time and date": 'return os.getenv("HOME")',
    "require of a closed library": 'return require("string").format("%d", 1)',
    "lupa's python bridge": "return python.eval('1')",
}


@pytest.mark.parametrize("source", FORBIDDEN_IN_SANDBOX.values(), ids=FORBIDDEN_IN_SANDBOX.keys())
def test_sandbox_refuses_what_argo_cd_does_not_open(source: str) -> None:
    with pytest.raises(LuaScriptError):
        Sandbox().run(source, "forbidden.lua", {"kind": "AIService"})


def test_sandbox_keeps_base_table_and_os_time() -> None:
    source = """
    local parts = {}
    table.insert(parts, tostring(#obj.items))
    table.insert(parts, obj.items[1] .. obj.items[2])
    table.insert(parts, type(os.time()))
    table.insert(parts, type(require("os").date))
    return table.concat(parts, ",")
    """
    assert Sandbox().run(source, "allowed.lua", {"items": ["a", "b"]}) == "2,ab,number,function"


def test_sandbox_converts_like_argo_cd() -> None:
    sandbox = Sandbox()
    obj = {"metadata": {"annotations": {}, "labels": None}, "spec": {"list": [1, 2], "empty": []}}

    assert sandbox.run("return obj.metadata.labels == nil", "null.lua", obj) is True
    assert sandbox.run("return obj.spec.list[1] + obj.spec.list[2]", "list.lua", obj) == 3
    assert sandbox.run("return obj", "echo.lua", obj) == {
        "metadata": {"annotations": []},
        "spec": {"list": [1, 2], "empty": []},
    }
    with pytest.raises(LuaScriptError, match="twice"):
        sandbox.run("local t = {} return {a = t, b = t}", "shared.lua", obj)
    with pytest.raises(LuaScriptError, match="clean message"):
        sandbox.run('error("clean message", 0)', "error.lua", obj)


def test_cleaning_the_returned_object_differs_before_argo_cd_3_2() -> None:
    live = {"metadata": {"annotations": {"a": "1"}}}
    returned: Json = {"metadata": {"annotations": []}}

    assert clean_returned_object(returned, live, before_3_2=False) == {"metadata": {"annotations": {}}}
    assert clean_returned_object(returned, live, before_3_2=True) == live


# --- second line of defence: a crude scan of the script text --------------------------------------------

_COMMENT_OR_STRING = re.compile(
    r"--\[(=*)\[.*?\]\1\]|--[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.DOTALL
)
_FORBIDDEN_PATTERNS = {
    "a closed library": re.compile(r"\b(string|math|io|debug|coroutine|utf8|bit32|python)\b"),
    "os beyond time and date": re.compile(r"\bos\s*\.\s*(?!(?:time|date)\b)\w+"),
    "a string method": re.compile(
        r":\s*(sub|format|gsub|gmatch|match|find|len|lower|upper|rep|reverse|byte|char|split|trim)\s*[(\"'{]"
    ),
    "a library loaded with require": re.compile(r"\brequire\b(?!\s*\(?\s*\"os\")"),
    "a long string or comment": re.compile(r"\[=*\["),
}


def _blank_comment_or_string(match: re.Match[str]) -> str:
    text = match.group(0)
    if text in ('"os"', "'os'"):
        return '"os"'
    return '""' if text[0] in "\"'" else " "


def forbidden_uses(source: str) -> list[str]:
    """Names what a script uses that Argo CD's sandbox does not have; comments and strings are skipped."""
    code = _COMMENT_OR_STRING.sub(_blank_comment_or_string, source)
    found = []
    for what, pattern in _FORBIDDEN_PATTERNS.items():
        found += [f"{what}: {match.group(0)!r}" for match in pattern.finditer(code)]
    return found


@pytest.mark.parametrize("path", lua_scripts(), ids=lambda p: str(p.relative_to(CUSTOMIZATIONS)))
def test_script_uses_nothing_argo_cd_leaves_out(path: Path) -> None:
    assert forbidden_uses(path.read_text()) == []


@pytest.mark.parametrize(
    "source",
    [
        'local s = string.format("%d", n)',
        "local f = math.floor(x)",
        "local fmt = string",
        "local head = name:sub(1, 3)",
        'local msg = ("%s"):format(x)',
        "local low = s : lower ()",
        "local home = os.getenv('HOME')",
        'local s = require("string")',
    ],
)
def test_the_scan_finds_forbidden_uses(source: str) -> None:
    assert forbidden_uses(source) != []


def test_the_scan_ignores_comments_and_strings() -> None:
    source = '-- string.format is not here\nlocal m = "math.floor and (x):sub(1)"\nlocal t = os.time()\n'
    assert forbidden_uses(source) == []


def test_there_are_scripts_to_check() -> None:
    names = {str(path.relative_to(CUSTOMIZATIONS)) for path in lua_scripts()}
    assert names == {
        "AIService/health.lua",
        "AIService/actions/discovery.lua",
        "AIService/actions/kill/action.lua",
        "AIService/actions/restore/action.lua",
        "ReadinessPacket/health.lua",
    }


# --- the argocd-cm patch is generated from the scripts ----------------------------------------------------


def _generated_configmap() -> str:
    spec = importlib.util.spec_from_file_location("gen_argocd_cm", GENERATOR)
    assert spec is not None and spec.loader is not None, f"cannot load {GENERATOR}"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered: str = module.render()
    return rendered


def test_argocd_cm_patch_is_up_to_date_with_the_lua_files() -> None:
    assert CONFIGMAP.read_text() == _generated_configmap(), (
        f"{CONFIGMAP.relative_to(ROOT)} does not match the .lua files; {REGENERATE}"
    )


def test_argocd_cm_patch_carries_the_lua_files_byte_for_byte() -> None:
    configmap = load_yaml(CONFIGMAP)
    data = configmap["data"]
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["name"] == "argocd-cm"
    assert set(data) == {
        "resource.customizations.health.airlock.dev_AIService",
        "resource.customizations.health.airlock.dev_ReadinessPacket",
        "resource.customizations.actions.airlock.dev_AIService",
    }
    for kind in KINDS_WITH_HEALTH:
        expected = (CUSTOMIZATIONS / kind / "health.lua").read_text()
        assert data[f"resource.customizations.health.airlock.dev_{kind}"] == expected, REGENERATE
    actions = yaml.safe_load(data["resource.customizations.actions.airlock.dev_AIService"])
    directory = CUSTOMIZATIONS / "AIService" / "actions"
    assert actions["discovery.lua"] == (directory / "discovery.lua").read_text(), REGENERATE
    scripts = {d["name"]: d["action.lua"] for d in actions["definitions"]}
    assert scripts == {p.parent.name: p.read_text() for p in directory.glob("*/action.lua")}, REGENERATE
    assert "mergeBuiltinActions" not in actions
    assert not any(key.startswith("resource.customizations.useOpenLibs") for key in data)


# --- the example Application stops self-heal fighting the cap ---------------------------------------------


def _applications() -> list[dict[str, Json]]:
    documents = [doc for doc in yaml.safe_load_all(APPLICATION.read_text()) if doc]
    applications = [doc for doc in documents if doc.get("kind") == "Application"]
    assert applications, f"{APPLICATION.relative_to(ROOT)} holds no Application"
    return applications


def test_application_example_sets_group_on_every_ignore_differences_entry() -> None:
    for application in _applications():
        entries = application["spec"].get("ignoreDifferences") or []
        assert entries, "the example must show ignoreDifferences"
        for entry in entries:
            # Without group the entry silently matches nothing (argo-cd#28590).
            assert isinstance(entry.get("group"), str), f"ignoreDifferences entry without group: {entry}"
            if entry.get("kind") == "Deployment":
                assert entry["group"] == "apps", f"Deployments are in group apps, not {entry['group']!r}"


def test_application_example_lets_the_operator_own_deployment_replicas() -> None:
    for application in _applications():
        spec = application["spec"]
        replicas_ignored = [
            entry
            for entry in spec["ignoreDifferences"]
            if entry.get("kind") == "Deployment" and "/spec/replicas" in (entry.get("jsonPointers") or [])
        ]
        assert replicas_ignored, "Deployment /spec/replicas must be in ignoreDifferences"
        sync_policy = spec["syncPolicy"]
        assert "RespectIgnoreDifferences=true" in sync_policy["syncOptions"]
        assert sync_policy["automated"]["selfHeal"] is True
