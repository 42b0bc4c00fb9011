"""The built-in demo appliance: a simulated SD-WAN appliance speaking the Nitro API.

:class:`DemoWorld` simulates the flow table; :class:`DemoAppliance` answers login and
flows requests over it, misbehaving on demand (:class:`Faults`); :class:`DemoTransport`
serves an ``httpx.AsyncClient`` in process and :class:`DemoServer` over real HTTP.
"""

from flowtop.demo.appliance import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    DemoAppliance,
    DemoResponse,
)
from flowtop.demo.faults import Faults
from flowtop.demo.server import DemoServer, run_demo_server
from flowtop.demo.transport import DemoTransport
from flowtop.demo.world import DemoWorld

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "DemoAppliance",
    "DemoResponse",
    "DemoServer",
    "DemoTransport",
    "DemoWorld",
    "Faults",
    "run_demo_server",
]
