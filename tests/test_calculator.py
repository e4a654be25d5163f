"""The carbon calculator of chapter 6.4 computes in the page (JavaScript) what course_utils.energy
computes in Python: its formulas run in node and its whole widget in Chromium, on a grid of inputs."""
import html
import itertools
import json
import math
import shutil
import subprocess

import pytest

from course_utils import energy as E

INPUTS = [(h, p, u, g) for h, p, u, g in itertools.product(
    [0.0, 1.0, 37.5, 1000.0, 123456.0, 1e7], [10.0, 250.0, 400.0, 1000.0], [1.0, 1.1, 1.58, 2.0], [0.0, 0.057, 0.385, 1.0])]


def run_node(js: str):
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed")
    out = subprocess.run([node, "-e", js], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def formulas_in_node(inputs):
    js = (f"const energyKwh = {E.CALCULATOR_JS['energy_kwh']}; const co2eKg = {E.CALCULATOR_JS['co2e_kg']};"
          f"const inputs = {json.dumps(inputs)};"
          "console.log(JSON.stringify(inputs.map(([h, p, u, g]) => { const k = energyKwh(h, p, u); return [k, co2eKg(k, g)]; })));")
    return run_node(js)


def test_js_formulas_equal_the_python_functions():
    got = formulas_in_node(INPUTS)
    for (h, p, u, g), (kwh, kg) in zip(INPUTS, got):
        want = E.energy_kwh(h, p, u)
        assert math.isclose(kwh, want, rel_tol=1e-12, abs_tol=1e-12), (h, p, u, kwh, want)
        assert math.isclose(kg, E.co2e_kg(want, g), rel_tol=1e-12, abs_tol=1e-12), (h, p, u, g)


def test_the_comparison_catches_a_wrong_formula(monkeypatch):
    monkeypatch.setitem(E.CALCULATOR_JS, "energy_kwh", "(h, p, u) => h * p / 1000")   # PUE forgotten
    got = formulas_in_node([(1000.0, 400.0, 1.1, 0.385)])
    assert not math.isclose(got[0][0], E.energy_kwh(1000, 400, 1.1))


def test_html_is_self_contained_and_checks_its_inputs():
    page = E.calculator_html()
    assert "<script>" in page and "src=" not in page and "http" not in page
    assert html.escape(E.footprint_text(1000, 400, 1.1, 0.385)) in page   # the answer is there before any script runs
    assert E.footprint_text(1000, 400, 1.1, 0.385) == "1,000 h x 400 W x PUE 1.10 = 440.0 kWh -> 169.4 kg CO2e"
    with pytest.raises(ValueError, match="pue"):
        E.calculator_html(pue=3.5)


def test_the_widget_in_chromium_follows_its_sliders():
    from browser import CHROMIUM_ARGS, chromium_path

    exe = chromium_path()
    if exe is None:
        pytest.skip("chromium not found (.ci/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    cases = [("hours", 4.0, dict(hours=1e4)), ("power_w", 700, dict(power_w=700)), ("pue", 1.58, dict(pue=1.58)),
             ("grid", 0.057, dict(grid=0.057)), ("hours", 0.0, dict(hours=1.0))]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_content(f"<html><body>{E.calculator_html(uid='calc')}</body></html>")
            start = dict(hours=1000.0, power_w=400.0, pue=1.1, grid=0.385)
            assert page.text_content("#calc-out") == E.footprint_text(**start)
            for name, value, change in cases:
                page.fill(f"#calc-{name}", str(value))   # sets the value and fires "input"
                start.update(change)   # the sliders keep their values: each case changes one more
                assert page.text_content("#calc-out") == E.footprint_text(**start), (name, value)
        finally:
            browser.close()
    assert not errors
