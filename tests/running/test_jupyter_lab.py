"""``run_all.sh --lab``: argument checks, the server command, the kernel spec, and a real server started by the
script (loopback only, token required, the study's kernel offered, the notebooks served)."""
import json
import sys
import urllib.error
from pathlib import Path

import nbformat
import pytest
from lab_server import ROOT, free_port, get_json, running_lab

from xai_helpers.running import jupyter_lab as lab


@pytest.mark.parametrize("value, message", [("0", "--port 0 is out of range"), ("70000", "--port 70000 is out of range"),
                                            ("http", "--port 'http' is not an integer")])
def test_bad_port_is_refused_naming_the_value_and_the_range(value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        lab.main(["--port", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "1..65535" in err


def test_command_listens_on_loopback_keeps_the_token_and_pins_a_given_port(tmp_path):
    cmd = lab.lab_command(9123, True, tmp_path, as_root=False, jupyter="jupyter")
    assert cmd[:2] == ["jupyter", "lab"]
    assert "--ServerApp.ip=127.0.0.1" in cmd and f"--ServerApp.root_dir={tmp_path}" in cmd
    assert "--ServerApp.port=9123" in cmd and "--ServerApp.port_retries=0" in cmd and "--no-browser" in cmd
    assert not any("token" in arg.lower() or "password" in arg.lower() for arg in cmd)
    assert "--allow-root" not in cmd
    assert "--allow-root" in lab.lab_command(None, False, tmp_path, as_root=True, jupyter="jupyter")
    default = lab.lab_command(None, False, tmp_path, as_root=False, jupyter="jupyter")
    assert not any(a.startswith("--ServerApp.port") for a in default) and "--no-browser" not in default


def test_kernel_spec_runs_this_python_under_the_study_name(tmp_path):
    spec_dir = lab.register_kernel(prefix=tmp_path)
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec_dir == tmp_path / "share" / "jupyter" / "kernels" / lab.KERNEL_NAME
    assert spec["display_name"] == lab.KERNEL_DISPLAY_NAME
    assert Path(spec["argv"][0]).resolve() == Path(sys.executable).resolve()


def test_settings_overrides_turn_news_off_and_keep_other_settings(tmp_path):
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}))
    lab.write_settings_overrides(prefix=tmp_path)
    settings = json.loads(path.read_text())
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"


def test_every_notebook_asks_for_the_study_kernel():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        spec = nbformat.read(path, as_version=4).metadata["kernelspec"]
        assert (spec["name"], spec["display_name"]) == (lab.KERNEL_NAME, lab.KERNEL_DISPLAY_NAME), path.name


def test_run_all_lab_serves_the_notebooks_with_a_token_and_the_study_kernel():
    port = free_port()
    with running_lab(port) as (url, base, token, lines):
        assert url.startswith(f"http://127.0.0.1:{port}/lab?token=")
        with pytest.raises(urllib.error.HTTPError) as denied:  # the token is required
            get_json(f"{base}/api/contents")
        assert denied.value.code == 403
        specs = get_json(f"{base}/api/kernelspecs", token)
        assert specs["kernelspecs"][lab.KERNEL_NAME]["spec"]["display_name"] == lab.KERNEL_DISPLAY_NAME
        served = {item["name"] for item in get_json(f"{base}/api/contents", token)["content"]}
        assert {p.name for p in (ROOT / "notebooks").glob("0*.ipynb")} <= served
        # A second server may not quietly take another port when the asked one is in use.
        with pytest.raises(AssertionError, match="exited"):
            with running_lab(port, timeout=60):
                pass
