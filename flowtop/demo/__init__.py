"""The built-in demo appliance: a simulated SD-WAN appliance speaking the Nitro API.

:class:`~flowtop.demo.world.DemoWorld` simulates the flow table;
:class:`~flowtop.demo.appliance.DemoAppliance` answers login and flows requests over
it, misbehaving on demand (:class:`~flowtop.demo.faults.Faults`);
:class:`~flowtop.demo.transport.DemoTransport` serves an ``httpx.AsyncClient`` in
process and :class:`~flowtop.demo.server.DemoServer` over real HTTP.

Nothing is imported here: a run that needs only the demo's names (or nothing of the
demo) does not pay for the simulation's modules at start.
"""
