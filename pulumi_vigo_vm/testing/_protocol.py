"""Constants shared by the harness engine (parent) and its language host (child process).

Kept in their own module so the engine never imports the language host, which runs as
``python -m pulumi_vigo_vm.testing.languagehost`` and must not be imported before that.
"""

STACK_TYPE = "pulumi:pulumi:Stack"
"""Type token of the root stack component."""

EXIT_OK = 0
EXIT_PROGRAM_ERROR = 1
"""The program raised; its traceback is on the child's stderr."""
EXIT_ABORTED = 3
"""The program stopped because the engine aborted the deployment after a failed step."""
