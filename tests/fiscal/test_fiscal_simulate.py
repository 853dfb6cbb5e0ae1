"""`kiosk simulate --printer fiscal`: the demo scenario's payments each make exactly one fiscal document in the
emulated registrar, with the payment agent's tags and the QR, and the journal holds the same FD, FP and QR."""

from __future__ import annotations

import json
import sqlite3

from kiosk.cli import main
from kiosk.emulators.payer_process import write_config
from kiosk.fiscal import tlv


def test_simulated_payments_make_one_tagged_fiscal_document_each(tmp_path, capsys):
    config_path = write_config(tmp_path, gateway_mode="ok")
    assert main(["simulate", "--config", str(config_path), "--printer", "fiscal"]) == 0
    out = capsys.readouterr().out
    state = json.loads((tmp_path / "fiscal-drive.json").read_text(encoding="utf-8"))
    documents = state["documents"]
    receipts = {d["fd"]: d for d in documents.values() if d["kind"] == "receipt"}
    assert f"fiscal registrar (emulated Shtrih-M): {len(receipts)} receipts" in out
    conn = sqlite3.connect(tmp_path / "journal.sqlite")
    ops = conn.execute("SELECT operation, cash, fee, credited, details FROM operations WHERE cash > 0").fetchall()
    conn.close()
    assert len(ops) >= 5 and len(receipts) == len(ops)
    for _number, cash, fee, credited, details in ops:
        fiscal = json.loads(details)["fiscal"]
        document = receipts[fiscal["fd"]]
        assert fiscal["status"] == "done" and (fiscal["fp"], fiscal["qr"]) == (document["fp"], document["qr"])
        assert document["qr"].endswith(f"&s={cash // 100}.{cash % 100:02d}&fn={state['fn_number']}"
                                       f"&i={document['fd']}&fp={document['fp']}&n=1")
        assert document["total"] == cash and document["taxation"] == tlv.TAXATION_USN_INCOME
        payment = document["items"][0]
        assert (payment["subject"], payment["method"], payment["tax"], payment["total"]) == (10, 4, 4, credited)
        tags = {t.tag: t for block in payment["tags"] for t in tlv.decode(bytes.fromhex(block))}
        assert set(tags) == {1222, 1223, 1224, 1226} and tags[1222].number == tlv.AGENT_PAYING
        assert {t.tag for t in tags[1223].children()} == {1073, 1074}
        assert {t.tag for t in tags[1224].children()} == {1171, 1225}
        if fee:
            assert [(i["subject"], i["total"]) for i in document["items"][1:]] == [(11, fee)]
        else:
            assert len(document["items"]) == 1
    assert len({json.loads(d)["fiscal"]["fd"] for *_, d in ops}) == len(ops)  # one document per payment
