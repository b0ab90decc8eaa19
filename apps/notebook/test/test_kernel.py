"""The jupyter_kernel_test suite (Debian's python3-jupyter-kernel-test) against unet-typescript.
Run with JUPYTER_PATH pointing at a kernelspec, e.g. by src/jupyter-kernel-test.test.ts:
    UNET_KERNEL_NAME=unet-typescript python3 -m unittest -v test_kernel"""
import os
import unittest

import jupyter_kernel_test as jkt


class UnetKernelTests(jkt.KernelTests):
    kernel_name = os.environ.get("UNET_KERNEL_NAME", "unet-typescript")
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = 'console.log("hello, world")'
    code_stderr = 'console.error("something went wrong")'
    code_generate_error = 'throw new Error("boom")'
    code_page_something = "Math.max?"
    code_inspect_sample = "Math.max"
    code_clear_output = "display.clear()"

    completion_samples = [
        {"text": "JSON.str", "matches": {"stringify"}},
        {"text": "Math.flo", "matches": {"floor"}},
    ]
    complete_code_samples = ["1", "const x = 1", "function f(a: number) { return a }", "for (const i of [1, 2]) {\n  console.log(i)\n}"]
    incomplete_code_samples = ["function f() {", "const xs = [1,", "const s = `abc", "if (x) {\n  y()"]
    invalid_code_samples = ["const = = 1", ")"]

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"type" + "script"', "result": "'typescript'"},
        {"code": "[1, 2, 3].map((n: number) => n * 2)", "result": "[ 2, 4, 6 ]"},
    ]
    code_display_data = [
        {"code": 'await display.html("<b>hi</b>")', "mime": "text/html"},
        {"code": "await display.mask(new Uint8Array([0, 1, 1, 0]), { height: 2, width: 2 })", "mime": "image/png"},
        {"code": "await display.plot([0.2, 0.5, 0.9])", "mime": "image/svg+xml"},
    ]
    supported_history_operations = ("tail", "range", "search")
    code_history_pattern = "6 *"


if __name__ == "__main__":
    unittest.main()
