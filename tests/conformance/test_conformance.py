"""Conformance of the installed d2l-ts kernelspec with the Jupyter protocol, via jupyter_kernel_test.

Run with Debian's python (the package is not on PyPI's local index):
    /usr/bin/python3 tests/conformance/test_conformance.py
To check a checkout other than the registered one without re-registering: in that checkout
`node bin/d2l-ts.js install --prefix /tmp/p`, then run the above with JUPYTER_PATH=/tmp/p/share/jupyter
(Jupyter looks there before the user's and the system's kernelspecs).

The kernel keeps an input history across restarts (kernel/history.ts). The history tests below count
matches of code_history_pattern, so the kernel gets a fresh history file of its own, which also keeps
these runs out of the user's history.
"""
import os
import shutil
import tempfile
import unittest

import jupyter_kernel_test

_HISTORY_DIR = tempfile.mkdtemp(prefix="d2l-ts-conformance-")
os.environ["D2L_HISTORY_FILE"] = os.path.join(_HISTORY_DIR, "history.jsonl")
os.environ.pop("D2L_HISTORY", None)


def tearDownModule():
    shutil.rmtree(_HISTORY_DIR, ignore_errors=True)


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

    # jupyter_kernel_test has no stdin test: input() answered by jupyter_client's own stdin handling.
    def test_d2l_input(self):
        self.flush_channels()
        asked = []

        def answer(msg):
            asked.append(msg["content"])
            self.kc.input("0.5" if not msg["content"]["password"] else "hunter2")

        results = []

        def output(msg):
            if msg["msg_type"] == "execute_result":
                results.append(msg["content"]["data"]["text/plain"])

        reply = self.kc.execute_interactive(
            "const lr = Number(await input('lr? '))\n"
            "const pw = await input('token: ', { password: true })\n"
            "lr * 2 + ' ' + pw.length",
            allow_stdin=True,
            stdin_hook=answer,
            output_hook=output,
            timeout=30,
        )
        self.assertEqual(reply["content"]["status"], "ok")
        self.assertEqual(asked, [{"prompt": "lr? ", "password": False}, {"prompt": "token: ", "password": True}])
        self.assertEqual(results, ["'1 7'"])

        reply = self.kc.execute_interactive("await input('lr? ')", allow_stdin=False, output_hook=lambda m: None, timeout=30)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "StdinNotImplementedError")


if __name__ == "__main__":
    unittest.main(verbosity=2)
