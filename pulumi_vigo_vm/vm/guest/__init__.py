"""What a VM's guest tells us and what we wait for: its console log (:mod:`.console`), its
addresses (:mod:`.addresses`, :mod:`.sighting`) and the readiness waits (:mod:`.waiting`).
Guest output is hostile input: every reader here is bounded."""
