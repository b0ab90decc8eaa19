"""Drives the unet-typescript kernel through jupyter_client's KernelManager: interrupt (which uses
interrupt_mode "message" from kernel.json), restart and shutdown. Prints a JSON report.
Usage: lifecycle.py KERNEL_NAME"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel

report = {}
km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=60)


def run(code, timeout=30):
    outputs = []

    def hook(msg):
        if msg["msg_type"] in ("execute_result", "stream", "error"):
            outputs.append({"type": msg["msg_type"], **{k: v for k, v in msg["content"].items() if k in ("text", "data", "ename")}})

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    return reply["content"], outputs


try:
    report["define"] = run("let n = 0\nconst kept = 'kept'")[0]["status"]
    msg_id = kc.execute("while (true) { n++ }")
    time.sleep(0.5)
    km.interrupt_kernel()
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    report["interrupted"] = {k: reply["content"].get(k) for k in ("status", "ename")}
    report["after_interrupt"] = run("`${kept} ${n > 0}`")[1]
    km.restart_kernel(now=False)
    kc.wait_for_ready(timeout=60)
    report["after_restart"] = run("typeof kept")[1]
    report["alive_before_shutdown"] = km.is_alive()
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=False)
report["alive_after_shutdown"] = km.is_alive()
print(json.dumps(report))
