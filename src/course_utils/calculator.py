"""The carbon calculator of chapter 6 as a self-contained web widget: sliders for accelerator-hours,
power, PUE and grid intensity, computing energy and CO2e in the page itself (no kernel, no library,
nothing fetched) with the same formulas as :mod:`course_utils.energy`.
"""
from __future__ import annotations

import math

# energy_kwh and co2e_kg as JavaScript: the one place the calculator's formulas are written for the
# browser. tests/test_calculator.py runs them (node, and Chromium on the whole widget) against the
# Python functions of course_utils.energy on a grid of inputs, so the two cannot drift apart.
CALCULATOR_JS = {
    "energy_kwh": "(accelerator_hours, power_w, pue) => accelerator_hours * power_w * pue / 1000",
    "co2e_kg": "(energy_kwh, grid_kg_per_kwh) => energy_kwh * grid_kg_per_kwh",
}

# (name, label, min, max, step, log10 scale): the calculator's controls, within the ranges _check allows
CALCULATOR_CONTROLS = [
    ("hours", "accelerator-hours", 0.0, 7.0, 0.01, True),
    ("power_w", "average power per accelerator (W)", 10.0, 1000.0, 10.0, False),
    ("pue", "PUE", 1.0, 2.0, 0.01, False),
    ("grid", "grid intensity (kg CO2e/kWh)", 0.0, 1.0, 0.001, False),
]


def footprint_text(hours: float, power_w: float, pue: float, grid: float) -> str:
    """The calculator's answer in words, e.g. '1,000 h x 400 W x PUE 1.10 = 440.0 kWh -> 169.4 kg CO2e'."""
    from course_utils.energy import co2e_kg, energy_kwh

    kwh = energy_kwh(hours, power_w, pue)
    return f"{hours:,.0f} h x {power_w:,.0f} W x PUE {pue:.2f} = {kwh:,.1f} kWh -> {co2e_kg(kwh, grid):,.1f} kg CO2e"


def calculator_html(hours: float = 1000, power_w: float = 400, pue: float = 1.1, grid: float = 0.385,
                    uid: str = "carbon-calculator") -> str:
    """A self-contained HTML+JS carbon calculator (sliders, no library, nothing fetched): it computes
    energy and CO2e in the page with :data:`CALCULATOR_JS`, so it works in the static book as in Jupyter.

    The answer is written as :func:`footprint_text` writes it (the element ``#{uid}-out``).
    """
    import html as _html

    start = {"hours": hours, "power_w": power_w, "pue": pue, "grid": grid}
    for name, _, lo, hi, _, log in CALCULATOR_CONTROLS:   # the same checks as the Python functions
        v = math.log10(start[name]) if log else start[name]
        if not lo <= v <= hi:
            raise ValueError(f"calculator_html: {name}={start[name]} is outside the slider's range")
    rows = []
    for name, label, lo, hi, step, log in CALCULATOR_CONTROLS:
        v = math.log10(start[name]) if log else start[name]
        rows.append(
            f'<label style="display:flex;gap:0.6em;align-items:center;margin:0.2em 0;flex-wrap:wrap">'
            f'<span style="min-width:15em">{_html.escape(label)}{" (log scale)" if log else ""}</span>'
            f'<input type="range" id="{uid}-{name}" data-log="{int(log)}" min="{lo}" max="{hi}" step="{step}" '
            f'value="{v}" style="flex:1;min-width:8em;max-width:20em" aria-label="{_html.escape(label)}">'
            f'<span id="{uid}-{name}-value" style="min-width:6em;font-family:monospace"></span></label>')
    script = f"""(function () {{
  const energyKwh = {CALCULATOR_JS["energy_kwh"]};
  const co2eKg = {CALCULATOR_JS["co2e_kg"]};
  const root = document.getElementById("{uid}");
  if (!root) return;
  const fmt = (x, d) => x.toLocaleString("en-US", {{minimumFractionDigits: d, maximumFractionDigits: d}});
  const get = name => {{
    const el = document.getElementById("{uid}-" + name);
    const v = parseFloat(el.value);
    return el.dataset.log === "1" ? Math.pow(10, v) : v;
  }};
  const shown = {{hours: v => fmt(v, 0), power_w: v => fmt(v, 0), pue: v => fmt(v, 2), grid: v => fmt(v, 3)}};
  const update = () => {{
    const h = get("hours"), p = get("power_w"), u = get("pue"), g = get("grid");
    for (const k in shown) document.getElementById("{uid}-" + k + "-value").textContent = shown[k](get(k));
    const kwh = energyKwh(h, p, u), kg = co2eKg(kwh, g);
    document.getElementById("{uid}-out").textContent =
      fmt(h, 0) + " h x " + fmt(p, 0) + " W x PUE " + fmt(u, 2) + " = " + fmt(kwh, 1) + " kWh -> " + fmt(kg, 1) + " kg CO2e";
    document.getElementById("{uid}-tonnes").textContent = "= " + fmt(kg / 1000, 2) + " t CO2e";
  }};
  root.querySelectorAll("input").forEach(el => el.addEventListener("input", update));
  update();
}})();"""
    return (f'<div id="{uid}" class="carbon-calculator" data-answer="{uid}-out" style="max-width:100%;border:1px solid #ccc;'
            f'border-radius:6px;padding:0.6em 0.8em">{"".join(rows)}'
            f'<p style="margin:0.5em 0 0;font-weight:bold"><output id="{uid}-out" aria-live="polite">'
            f'{_html.escape(footprint_text(hours, power_w, pue, grid))}</output> '
            f'<span id="{uid}-tonnes" style="font-weight:normal"></span></p></div>'
            f"<script>{script}</script>")
