"""Small files written atomically, also by several threads of one process at once."""

import threading

from kiosk.offline_queue.files import write_atomically


def test_threads_writing_one_file_at_once_each_write_it_whole(tmp_path):
    target = tmp_path / "assigned.json"
    contents = [f'{{"writer": {n}, "pad": "{"x" * 4096}"}}'.encode() for n in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(contents))

    def write(data: bytes) -> None:
        start.wait()
        try:
            for _ in range(50):
                write_atomically(target, data)
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(data,)) for data in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []  # with one temporary name per process, a rename found the other's file gone
    assert target.read_bytes() in contents
    assert not list(tmp_path.glob(".*.tmp"))  # nothing half-written left behind
