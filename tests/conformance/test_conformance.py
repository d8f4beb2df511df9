"""Conformance of the installed d2l-ts kernelspec with the Jupyter protocol, via jupyter_kernel_test.

Run with Debian's python (the package is not on PyPI's local index):
    /usr/bin/python3 tests/conformance/test_conformance.py
"""
import unittest

import jupyter_kernel_test


class D2lTsKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "d2l-ts"
    language_name = "typescript"
    file_extension = ".ts"

    code_hello_world = "console.log('hello, world')"
    code_stderr = "console.error('oops')"

    completion_samples = [
        {"text": "Math.fl", "matches": {"floor"}},
        {"text": "const alpha = 1; alp", "matches": {"alpha"}},
    ]
    complete_code_samples = ["1 + 1", "const x = [1, 2]", "function f() { return 1 }"]
    incomplete_code_samples = ["function f() {", "const a = [1,", "if (true) {"]

    code_generate_error = "throw new Error('boom')"

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "'a' + 'b'", "result": "'ab'"},
        {"code": "[1, 2, 3].map((x) => x * 2)", "result": "[ 2, 4, 6 ]"},
        {
            "code": "({ [Symbol.for('jupyter.mimebundle')]: () => ({ 'text/html': '<b>x</b>' }) })",
            "mime": "text/html",
            "result": "<b>x</b>",
        },
    ]

    code_display_data = [
        {"code": "display({ [Symbol.for('jupyter.mimebundle')]: () => ({ 'text/html': '<i>hi</i>' }) })", "mime": "text/html"},
        {"code": "display('plain')", "mime": "text/plain"},
        {"code": "import * as tslab from 'tslab'\ntslab.display.html('<b>tslab</b>')", "mime": "text/html"},
    ]

    code_history_pattern = "6 *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Math.floor"

    code_clear_output = "clearOutput()"


if __name__ == "__main__":
    unittest.main(verbosity=2)
