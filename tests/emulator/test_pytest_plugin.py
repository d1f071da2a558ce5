"""The pytest plugin, used as a user uses it: a project of their own, outside this repository's
tests, whose test asks for ``cams_emulator`` and calls it with the official SDK.

The plugin reaches pytest through its entry point (``pytest11`` in pyproject.toml). An editable
install registers entry points when it is made, so a checkout installed before the plugin
existed has none: then these tests give the child pytest the same entry point through a
one-file distribution on its path (read from pyproject.toml), which pytest finds the way it
finds an installed one. Either way, no ``-p`` option: the automatic loading is what is tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLUGIN = "reconciler.pytest_plugin"

USER_TEST = '''
"""A user's test of their own onboarding script, against the CAMS emulator."""

import time

import pytest
from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils_models import Config

SPACE = "293483938849493"


def sdk(emulator, secret=None):
    return Client(Config(access_key_id=emulator.access_key_id,
                         access_key_secret=secret or emulator.access_key_secret,
                         endpoint=emulator.address, protocol="http"))


def test_add_then_list(cams_emulator):
    cams_emulator.set_state({"spaces": {SPACE: {
        "waba": {"Id": "2039", "Name": "Acme", "AccountReviewStatus": "APPROVED"}}}})
    client = sdk(cams_emulator)
    client.add_chatapp_phone_number(models.AddChatappPhoneNumberRequest(
        cust_space_id=SPACE, cc="86", phone_number="13800001234", verified_name="Acme"))
    listed = client.query_chatapp_phone_numbers(
        models.QueryChatappPhoneNumbersRequest(cust_space_id=SPACE))
    assert [(n.phone_number, n.status) for n in listed.body.phone_numbers] == [
        ("8613800001234", "PENDING")]
    assert cams_emulator.stats()["calls"] == {"AddChatappPhoneNumber": 1,
                                              "QueryChatappPhoneNumbers": 1}
    cams_emulator.reset()
    assert cams_emulator.state()["spaces"][SPACE]["numbers"] == []
    assert cams_emulator.stats()["total_calls"] == 0


def test_each_test_starts_empty_with_the_default_key(cams_emulator):
    assert cams_emulator.state() == {"spaces": {}}
    assert (cams_emulator.access_key_id, cams_emulator.access_key_secret) == (
        "emulator", "emulator-secret")
    assert cams_emulator.endpoint == f"http://{cams_emulator.address}"


def test_the_service_refuses_a_wrong_secret(cams_emulator):
    cams_emulator.set_state({"spaces": {SPACE: {}}})
    with pytest.raises(ClientException) as refused:
        sdk(cams_emulator, secret="wrong").query_chatapp_bind_waba(
            models.QueryChatappBindWabaRequest(cust_space_id=SPACE))
    assert refused.value.code == "SignatureDoesNotMatch"


def test_keys_of_its_own_and_no_secret_in_the_state(cams_emulator):
    cams_emulator.set_state({"access_keys": [{"id": "LTAI5tMine", "secret": "s3cret"}],
                             "spaces": {}})
    assert (cams_emulator.access_key_id, cams_emulator.access_key_secret) == (
        "LTAI5tMine", "s3cret")
    assert "s3cret" not in repr(cams_emulator.state())


def test_a_number_connects_after_the_delay(cams_emulator):
    cams_emulator.set_state({"spaces": {SPACE: {}}, "lifecycle": {"connect_after": 0.2}})
    sdk(cams_emulator).add_chatapp_phone_number(models.AddChatappPhoneNumberRequest(
        cust_space_id=SPACE, cc="86", phone_number="13800001234", verified_name="Acme"))
    time.sleep(0.3)
    number = cams_emulator.state()["spaces"][SPACE]["numbers"][0]
    assert (number["Status"], number["NameStatus"]) == ("CONNECTED", "APPROVED")


def test_a_bad_state_is_explained(cams_emulator):
    with pytest.raises(ValueError, match="spaces: expected a mapping"):
        cams_emulator.set_state({"spaces": ["293483938849493"]})


def test_loaded_by_its_entry_point(request):
    assert request.config.pluginmanager.has_plugin("camsctl")
'''


README_GLUE = '''
import phonenumbers
from alibabacloud_cams20200606 import models


def my_onboarding_script(client, space, phone):
    """What the README's example stands for: the user's own code."""
    number = phonenumbers.parse(phone)
    client.add_chatapp_phone_number(models.AddChatappPhoneNumberRequest(
        cust_space_id=space, cc=str(number.country_code),
        phone_number=str(number.national_number), verified_name="Acme"))
'''


def _readme_example() -> str:
    """The README's example of a user's test (the Python block of the fixture's section)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### In your own tests: the `cams_emulator` fixture"):]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def _declared_entry_point() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return str(project["entry-points"]["pytest11"]["camsctl"])


def _environment(tmp_path: Path) -> dict[str, str]:
    """The child's environment: this interpreter's, with the entry point if not installed."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}
    installed = any(point.name == "camsctl" and point.value == PLUGIN
                    for point in entry_points(group="pytest11"))
    if not installed:
        site = tmp_path / "site"
        info = site / "camsctl_plugin_checkout-0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: camsctl-plugin-checkout\n"
                                       "Version: 0\n")
        (info / "entry_points.txt").write_text(
            f"[pytest11]\ncamsctl = {_declared_entry_point()}\n")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(site), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def _pytest(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_entry_point_is_declared() -> None:
    assert _declared_entry_point() == PLUGIN


def test_a_users_project_gets_the_fixture(tmp_path: Path) -> None:
    project = tmp_path / "user-project"
    (project / "tests").mkdir(parents=True)
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "tests" / "test_onboarding.py").write_text(textwrap.dedent(USER_TEST))
    (project / "tests" / "test_readme.py").write_text(README_GLUE + _readme_example())
    done = _pytest([], project, _environment(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passed" in done.stdout


def test_this_repositorys_tests_run_with_the_plugin_loaded(tmp_path: Path) -> None:
    """Loaded in every pytest run where camsctl is installed: no clash with our own fixtures."""
    done = _pytest(["tests/emulator/test_control_endpoints.py"], REPO,
                   _environment(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout


def test_loading_the_plugin_imports_no_emulator() -> None:
    """Every pytest run of an environment with camsctl loads the plugin: it stays light."""
    code = (f"import sys, {PLUGIN}; "
            "print(sorted(m for m in sys.modules if m.startswith('reconciler.')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == f"[{PLUGIN!r}]"
