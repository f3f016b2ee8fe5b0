"""What the package's dynamic providers share on top of :mod:`pulumi.dynamic`: configuration
from stack config (:mod:`.configured`), the claim a resource writes (:mod:`.claims`), the
pickler fix (:mod:`.pickling`), named diffs (:mod:`.diff_names`), the widened RPC pool
(:mod:`.parallel`) and a dying process's last words (:mod:`.lastwords`)."""
