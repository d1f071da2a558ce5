"""Secrets appear nowhere: every command, verbose and failing, with a known secret and token.

The AccessKey secret and the STS security token are searched for in stdout, stderr, the saved
plan, the journal, the step summary and the imported manifest of every run.
"""

from __future__ import annotations

from pathlib import Path

from e2ekit import APPROVED_WABA, Camsctl, EmulatorFactory, declared, manifest, write_yaml

KEY_ID = "LTAI5tSecretsTest"
SECRET = "Sup3r-S3cret-KNOWN-9f8e7d6c5b4a"
TOKEN = "CAES-KNOWN-SECURITY-TOKEN-0a1b2c3d"
SPACE = "800000000000001"
OTHER = "800000000000002"


def test_no_secret_in_any_output_or_file(serve: EmulatorFactory, camsctl: Camsctl,
                                         tmp_path: Path) -> None:
    emulator = serve({
        "access_keys": [{"id": KEY_ID, "secret": SECRET}],
        "spaces": {SPACE: {"waba": APPROVED_WABA, "numbers": []},
                   OTHER: {"numbers": [{"PhoneNumber": "8613900000002", "VerifiedName": "X",
                                        "Status": "CONNECTED"}]}},
    })
    manifests = write_yaml(tmp_path / "m" / "m.yaml", manifest(
        {"id": SPACE, "numbers": [declared("+86 139 0000 0001", "One"),
                                  declared("+86 139 0000 0002", "Taken elsewhere")]}))
    bad_manifest = write_yaml(tmp_path / "bad" / "m.yaml", {"version": 1, "spaces": [{"id": 1}]})
    summary = tmp_path / "summary.md"
    camsctl.env.update(ALIBABA_CLOUD_ACCESS_KEY_ID=KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET=SECRET,
                       ALIBABA_CLOUD_SECURITY_TOKEN=TOKEN, GITHUB_STEP_SUMMARY=str(summary))
    plan_file = tmp_path / "plan.json"
    runs = [
        ("validate", str(manifests)),
        ("validate", "--format", "github", str(bad_manifest)),
        ("plan", str(manifests), "--out", str(plan_file)),
        ("plan", str(manifests), "--format", "json"),
        ("plan", str(manifests), "--format", "markdown"),
        ("plan", str(manifests), "--format", "github"),
        ("drift", str(manifests)),
        ("apply", str(manifests)),  # refused: no terminal
        ("apply", "--auto-approve", str(manifests)),  # one added, one fails (taken elsewhere)
        ("apply", "--plan", str(plan_file), str(manifests)),  # stale now
        ("import", "--space", SPACE, "-o", str(tmp_path / "imported.yaml")),
        ("plan", str(manifests), "--space", "999"),  # usage failure
    ]
    outputs: list[str] = []
    codes = []
    for verbosity in ((), ("-v",), ("-vv",)):
        for args in runs:
            done = camsctl.run(emulator, *args, global_options=verbosity)
            codes.append(done.returncode)
            outputs += [done.stdout, done.stderr]
    # Failure paths with credentials the service refuses.
    camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = SECRET + "-wrong"
    refused = camsctl.run(emulator, "plan", str(manifests), global_options=("-vv",))
    assert refused.returncode == 1 and "SignatureDoesNotMatch" in refused.stderr
    outputs += [refused.stdout, refused.stderr]
    camsctl.env["ALIBABA_CLOUD_ACCESS_KEY_ID"] = "LTAI5tUnknown"
    unknown = camsctl.run(emulator, "drift", str(manifests), global_options=("-vv",))
    assert unknown.returncode == 1 and "InvalidAccessKeyId.NotFound" in unknown.stderr
    outputs += [unknown.stdout, unknown.stderr]

    assert 0 in codes and 1 in codes  # both the success and the failure paths ran
    files = [plan_file, summary, tmp_path / "imported.yaml",
             camsctl.workdir / ".camsctl" / "journal.jsonl"]
    for path in files:
        assert path.exists(), path
        outputs.append(path.read_text(encoding="utf-8"))
    for text in outputs:
        assert SECRET not in text
        assert TOKEN not in text
        assert "Traceback" not in text
