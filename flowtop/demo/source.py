"""The built-in demo as a flow source: the simulated appliance behind the real client.

The core never imports the demo; the command line builds this source for ``--demo``.
"""

from __future__ import annotations

from flowtop.core.client import NitroClient
from flowtop.core.source import ClientSource
from flowtop.demo.appliance import DEMO_PASSWORD, DEMO_USERNAME, DemoAppliance
from flowtop.demo.transport import DemoTransport


def demo_source(*, seed: int = 1, timeout: float = 10.0) -> ClientSource:
    """Snapshots of an in-process demo appliance through the Nitro client."""
    appliance = DemoAppliance(seed=seed)
    client = NitroClient(
        "http://demo.invalid",
        DEMO_USERNAME,
        DEMO_PASSWORD,
        timeout=timeout,
        transport=DemoTransport(appliance),
    )
    return ClientSource(client, f"{DEMO_USERNAME}@demo")
