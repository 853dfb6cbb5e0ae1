"""Probing for a Shtrih-M fiscal registrar: ENQ (NAK or ACK means one is there), then FC device type.

Only questions: ENQ and FC change nothing in the registrar (an answer left waiting is read and acknowledged).
"""

from __future__ import annotations

from kiosk.drivers import shtrih_frame as sf
from kiosk.drivers.shtrih_link import ShtrihLink
from kiosk.errors import DeviceError

BAUDS = (115200, 4800)  # the two factory speeds by model


def probe(port: str, timeout: float = 0.3, bauds: tuple[int, ...] = BAUDS) -> dict | None:
    """A Shtrih-M registrar's identity on this port, or None."""
    for baud in bauds:
        link = ShtrihLink(port, baud, control_timeout=timeout, answer_timeout=max(timeout, 1.0), attempts=1)
        try:
            answer = link.exchange(sf.DEVICE_TYPE, None, repeatable=True)
        except DeviceError:
            continue
        finally:
            link.close()
        if answer.error or len(answer.data) < 6:
            return {"protocol": "shtrih", "baudrate": baud, "identity": None,
                    "note": f"answers ENQ; device type refused with 0x{answer.error:02X}"}
        data = answer.data
        return {"protocol": "shtrih", "baudrate": baud, "kind": "fiscal_registrar",
                "identity": {"model": data[6:].decode("cp1251", "replace").strip(" \x00"),
                             "type": data[0], "subtype": data[1], "protocol_version": f"{data[2]}.{data[3]}",
                             "model_code": data[4]}}
    return None
