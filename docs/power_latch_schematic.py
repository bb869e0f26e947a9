"""Draw the power latch of a latch-powered bin (docs/power-latch.md) as docs/power-latch.png.

    python docs/power_latch_schematic.py [output.png]

Needs the `schemdraw` package (not among the project's requirements, as only this drawing
uses it): `.venv/bin/pip install schemdraw==0.23`. The committed PNG is this script's
output; run it again after changing the circuit.
"""
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent / "power-latch.png"
INSTALL_HINT = ("this drawing needs schemdraw: .venv/bin/pip install schemdraw==0.23 "
                "(then run this script again)")

# Reference, part and value, as in the part list of docs/power-latch.md.
PARTS = {
    "BT1": "18650 Li-ion, 3000 mAh (protected)",
    "Q1": "AO3401A P-MOSFET (high-side switch)",
    "Q2": "2N7002 N-MOSFET (gate driver)",
    "D1": "BAT54 (PIR -> latch)",
    "D2": "BAT54 (keep-alive -> latch)",
    "D3": "BAT54 (button -> latch)",
    "R1": "100 k (Q1 gate pull-up: off by default)",
    "R2": "1 M (bleeds C1: the latch opens about 1 s after the last 'on')",
    "C1": "1 uF (holds the latch on while the board boots)",
    "R3": "10 k (PIR output to the wake pin)",
    "R4": "10 k (button to the latch)",
    "U1": "AP2112K-3.3 LDO, 600 mA (behind the switch: off with the board)",
    "U2": "HC-SR501 PIR (regulator bypassed), or a 3 V PIR such as Senba BS412",
    "S1": "push button (hold about 1 s)",
}


def draw(path):
    import schemdraw
    import schemdraw.elements as elm

    with schemdraw.Drawing(show=False) as d:
        d.config(fontsize=11, unit=2.5)
        # the battery and the switched high side: BT1+ -> Q1 -> U1 -> the board's 3V3 pin
        bat = d.add(elm.Battery().up().at((0, 2.5)).label("BT1\n3.0-4.2 V", loc="bottom"))
        d.add(elm.Ground().at(bat.start))
        d.add(elm.Line().up().at(bat.end).to((0, 6)))
        d.add(elm.Line().right().to((4, 6)))
        q1 = d.add(elm.PFet(bulk=False).theta(90).reverse().at((4, 6)))
        d.add(elm.Label().at((q1.gate[0], 6.6)).label("Q1 AO3401A"))
        d.add(elm.Line().right().at(q1.drain).to((7, 6)))
        d.add(elm.Dot())
        d.add(elm.Line().right().to((8.5, 6)))
        u1 = d.add(elm.Ic(pins=[elm.IcPin(name="IN", side="left"),
                                elm.IcPin(name="OUT", side="right"),
                                elm.IcPin(name="GND", side="bottom")],
                          size=(2.5, 1.5)).anchor("IN").at((8.5, 6))
                   .label("U1 AP2112K-3.3", loc="top"))
        d.add(elm.Line().right().at(u1.OUT).length(1.5))
        d.add(elm.Dot(open=True).label("3V3 pin of the ESP32-CAM\n(AMS1117 bypassed)",
                                       loc="right"))
        d.add(elm.Ground().at(u1.GND))
        d.add(elm.Line().down().at((7, 6)).length(1.2))
        d.add(elm.Dot(open=True).label("servos' supply", loc="right"))
        # Q1's gate: pulled up by R1 (off), pulled down by Q2 while the "on" node is high
        d.add(elm.Dot().at((3, 6)))
        d.add(elm.Resistor().down().at((3, 6)).to((3, 3.5)).label("R1\n100k", loc="bottom"))
        d.add(elm.Line().down().at(q1.gate).to((q1.gate[0], 3.5)))
        d.add(elm.Line().left().to((3, 3.5)))
        q2 = d.add(elm.NFet(bulk=False).flip().at((q1.gate[0], 3.5))
                   .label("Q2\n2N7002", loc="right"))
        d.add(elm.Dot().at((q1.gate[0], 3.5)))
        d.add(elm.Ground().at(q2.source))
        # the "on" node: C1 holds it, R2 drains it, three diodes feed it
        d.add(elm.Line().left().at(q2.gate).to((2, q2.gate[1])))
        d.add(elm.Line().down().to((2, 0)))
        d.add(elm.Dot())
        d.add(elm.Capacitor().down().at((2, 0)).label("C1\n1uF", loc="bottom"))
        d.add(elm.Ground())
        d.add(elm.Line().left().at((2, 0)).to((0.5, 0)))
        d.add(elm.Dot())
        d.add(elm.Resistor().down().at((0.5, 0)).label("R2\n1M", loc="bottom"))
        d.add(elm.Ground())
        d.add(elm.Line().left().at((0.5, 0)).to((-1, 0)))
        d.add(elm.Dot())
        d.add(elm.Schottky().left().reverse().at((-1, 0)).label("D1 BAT54", loc="top"))
        pir = d.add(elm.Line().left().length(0.8))
        d.add(elm.Dot())
        d.add(elm.Line().left().length(0.8))
        d.add(elm.Dot(open=True).label("U2 PIR OUT\n(PIR powered from BT1+)", loc="left"))
        d.add(elm.Resistor().down().at(pir.end).label("R3 10k", loc="bottom"))
        d.add(elm.Dot(open=True).label("GPIO13: wake pin,\nreads the PIR", loc="left"))
        d.add(elm.Line().up().at((-1, 0)).to((-1, 1.5)))
        d.add(elm.Schottky().left().reverse().label("D3 BAT54", loc="top"))
        d.add(elm.Resistor().left().label("R4 10k", loc="top"))
        d.add(elm.Button().left().label("S1 button", loc="top"))
        d.add(elm.Dot(open=True).label("BT1+", loc="left"))
        d.add(elm.Line().down().at((-1, 0)).to((-1, -3.5)))
        d.add(elm.Schottky().left().reverse().label("D2 BAT54", loc="top"))
        d.add(elm.Line().left().length(2.6))
        d.add(elm.Dot(open=True).label("GPIO12: keep-alive\n(active high)", loc="left"))
        d.save(str(path), dpi=110)
    return path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        import schemdraw  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    print(draw(Path(argv[0]) if argv else OUTPUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
