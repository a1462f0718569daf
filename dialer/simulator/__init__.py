"""A Retell v2 API simulator: real paths, shapes, auth and error codes, over real HTTP."""

from dialer.simulator.faults import Faults
from dialer.simulator.outcomes import Outcome, OutcomeRule
from dialer.simulator.profiles import AgentProfile, AgentProfiles
from dialer.simulator.server import SimulatorServer, run_simulator_in_thread
from dialer.simulator.simulated import SimCall, SimulatedRetell
from dialer.simulator.workspace import Workspace

__all__ = [
    "AgentProfile",
    "AgentProfiles",
    "Faults",
    "Outcome",
    "OutcomeRule",
    "SimCall",
    "SimulatedRetell",
    "SimulatorServer",
    "Workspace",
    "run_simulator_in_thread",
]
