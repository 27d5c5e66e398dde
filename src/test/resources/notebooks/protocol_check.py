"""Talks to a running kernel through jupyter_client and prints what it saw as JSON (NotebookIT).

Checks what a saved notebook cannot show: when stream output arrives, progress updates in place
(update_display_data with the display id of the first display), and the interrupt message.
Usage: python3 protocol_check.py KERNEL_NAME
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel


def run(kc, code, timeout=120):
    """Executes code; returns (iopub messages of that request with arrival times, reply, seconds)."""
    t0 = time.time()
    msg_id = kc.execute(code)
    seen = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        seen.append((round(time.time() - t0, 3), msg["msg_type"], msg["content"]))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    return seen, reply["content"], round(time.time() - t0, 3)


def main():
    km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=180)
    out = {}
    try:
        seen, _, _ = run(
            kc,
            'System.out.print("partial"); Thread.sleep(1500); System.out.println(" line");'
            ' System.err.println("to stderr");',
        )
        out["streams"] = [
            {"t": t, "name": c["name"], "text": c["text"]} for t, kind, c in seen if kind == "stream"
        ]

        seen, _, _ = run(
            kc,
            'var p = notebookProgress();\n'
            'for (int i = 1; i <= 3; i++) { p.update("steps", i, 3); Thread.sleep(400); }',
        )
        out["displays"] = [
            {
                "type": kind,
                "id": c.get("transient", {}).get("display_id"),
                "text": c["data"].get("text/plain"),
            }
            for t, kind, c in seen
            if kind in ("display_data", "update_display_data")
        ]

        msg_id = kc.execute("Thread.sleep(60_000);")
        time.sleep(2)
        t0 = time.time()
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=60)
        out["interrupt"] = {
            "status": reply["content"]["status"],
            "ename": reply["content"].get("ename"),
            "seconds": round(time.time() - t0, 3),
        }
        seen, reply, _ = run(kc, "6 * 7")
        out["after"] = [c["data"]["text/plain"] for t, kind, c in seen if kind == "execute_result"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    print("PROTOCOL " + json.dumps(out))


if __name__ == "__main__":
    main()
